"""Digest files are read one line at a time; a line that is not a digest is refused, naming the
line and the rule; a webhook for digests needs the file it posts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehqa.digest import DigestFileError, read
from ehqa.settings import SettingsError, load

ROOT = "ab" * 32


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"date": "2026-11-20", "position": 5}', "no root"),
        (f'{{"date": "2026-11-20", "position": 5, "root": "{ROOT}", "by": "x"}}', "unknown key by"),
        (f'{{"date": "20/11/2026", "position": 5, "root": "{ROOT}"}}', "YYYY-MM-DD"),
        (f'{{"date": "2026-11-20", "position": -1, "root": "{ROOT}"}}', "0 or more"),
        (f'{{"date": "2026-11-20", "position": true, "root": "{ROOT}"}}', "whole number"),
        ('{"date": "2026-11-20", "position": 5, "root": "AB"}', "64 lower-case hex"),
        (f'{{"date": "2026-11-20", "position": 4, "root": "{ROOT}"}}', "lower than the line"),
        ("x" * 1_001, "longer than 1000"),
    ],
)
def test_a_line_that_is_not_a_digest_is_refused_naming_it(
    tmp_path: Path, line: str, rule: str
) -> None:
    path = tmp_path / "digests.jsonl"
    path.write_text(f'{{"date": "2026-11-19", "position": 5, "root": "{ROOT}"}}\n\n{line}\n')
    with pytest.raises(DigestFileError, match="line 3") as refused:
        list(read(path))
    assert rule in str(refused.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(DigestFileError, match=r"nothing\.jsonl"):
        list(read(tmp_path / "nothing.jsonl"))


def test_a_digest_webhook_needs_the_digest_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHQA_DIGEST_WEBHOOK", "http://127.0.0.1:8649/digests")
    with pytest.raises(SettingsError, match="EHQA_DIGEST_FILE"):
        load()
    monkeypatch.setenv("EHQA_DIGEST_FILE", "/tmp/digests.jsonl")
    assert load().digest_webhook == "http://127.0.0.1:8649/digests"


def test_a_line_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "digests.jsonl"
    good = f'{{"date": "2026-11-19", "position": 5, "root": "{ROOT}"}}\n'.encode()
    path.write_bytes(good + b'\xff{"date": "2026-11-20"}\n')
    with pytest.raises(DigestFileError, match="line 2: not UTF-8"):
        list(read(path))
