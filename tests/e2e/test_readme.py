"""A fresh clone: the README's first command works as written, and CI runs its second."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())[:2]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test_command = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()
    assert "EHQA_TEST_POSTGRES_URL" in ci


def test_the_readme_install_and_run_command_works_in_a_fresh_clone(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        raise AssertionError("this test clones the repository: it needs git and a checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    install_and_run, _ = readme_commands()
    result = subprocess.run(
        install_and_run, shell=True, cwd=clone, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "created 7 demo episodes in ehqa.db" in result.stdout
    assert (clone / "ehqa.db").exists()
