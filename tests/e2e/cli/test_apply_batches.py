"""`ehqa apply` saves the events its check rehearsed, in batches; when another writer changes an
episode between the check and the save, the rest of the file is applied line by line on the
episode as the store then holds it (the command line run in this process, so that the other
writer can step in between)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ehqa.application import EhqaApplication
from ehqa.cli import app as cli
from ehqa.cli import applying
from ehqa.store import store_env
from tests.e2e.cli.test_cli import EXAMPLE_LINES

TODAY = {"EHQA_TODAY": "2025-12-01"}


def apply(url: str, source: Path) -> Any:
    return CliRunner().invoke(
        cli, ["--db", url, "--by", "os:tester", "apply", str(source)], env=TODAY
    )


def another_writer_after_the_check(
    monkeypatch: pytest.MonkeyPatch, url: str, write: Callable[[EhqaApplication], None]
) -> None:
    checked = applying._check

    def check_then_write(*args: Any) -> Any:
        lines = checked(*args)
        other = EhqaApplication(store_env(url))
        try:
            write(other)
        finally:
            other.close()
        return lines

    monkeypatch.setattr(applying, "_check", check_then_write)


def history(url: str, reference: str) -> list[tuple[str, str | None]]:
    app = EhqaApplication(store_env(url))
    try:
        return [(type(e).__name__, getattr(e, "author", None))
                for e in app.repository.event_store.get(app.get_episode(reference).id)]  # fmt: skip
    finally:
        app.close()


def test_a_file_is_saved_in_batches_with_the_runs_author_and_resumes_after_them(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applying, "BATCH_LINES", 4)  # (15 lines: batches of 4, 4, 4, 3)
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES) + "\n")
    result = apply(store_url, source)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "applied 15 command(s)"
    events = history(store_url, "EH-0001")
    assert len(events) == 8 and {author for _, author in events} == {"os:tester"}
    again = apply(store_url, source)
    assert again.output.strip() == "applied 0 command(s): all 15 were applied earlier"


def test_after_another_writer_the_rest_is_applied_line_by_line_on_the_stored_episode(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:3]) + "\n")
    assert apply(store_url, source).exit_code == 0  # EH-0001 opened, consent, child seen
    later = tmp_path / "later.jsonl"
    later.write_text("\n".join(EXAMPLE_LINES[3:8]) + "\n")
    another_writer_after_the_check(
        monkeypatch, store_url,
        lambda app: app.change("EH-0001", lambda e, t: e.see_child(date(2025, 9, 20), t),
                               by="os:other"),
    )  # fmt: skip
    result = apply(store_url, later)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "applied 5 command(s)"
    events = history(store_url, "EH-0001")
    assert [author for _, author in events].count("os:other") == 1
    assert len(events) == 3 + 1 + 5  # the other writer's event kept, then the file's five


def test_a_line_the_other_writer_made_impossible_stops_the_run_after_the_lines_before_it(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:8]) + "\n")
    another_writer_after_the_check(
        monkeypatch, store_url,
        lambda app: app.open_episode("EH-0001", child="C-9", lead_name="Jo Bright",
                                     lead_agency="primary_school", on=date(2025, 9, 1)),
    )  # fmt: skip
    result = apply(store_url, source)
    assert result.exit_code == 1
    assert "line 1: episode EH-0001 already exists" in result.output
    assert "applied 0 command(s) before line 1" in result.output
