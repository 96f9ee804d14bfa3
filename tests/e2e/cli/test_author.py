"""Every recorded fact stores its author (a stable subject id): given with --by or EHQA_BY,
otherwise "os:" and the operating-system user name. Events stored before authors were kept load
with no author."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from aggregates.audit import audit_id
from aggregates.episode import child_record_id, episode_id
from ehqa.application import EhqaApplication
from ehqa.store import store_env
from tests.e2e.cli.test_cli import EXAMPLE_LINES, ehqa


def authors(url: str, aggregate_id: object) -> list[str | None]:
    app = EhqaApplication(store_env(url))
    try:
        return [e.author for e in app.repository.event_store.get(aggregate_id)]  # type: ignore[attr-defined, arg-type]
    finally:
        app.close()


def test_facts_applied_with_by_and_without_store_their_author(
    store_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:4]) + "\n")
    result = ehqa(store_url, "--by", "token:3f2a", "apply", str(source))
    assert result.returncode == 0, result.stderr
    assert authors(store_url, episode_id("EH-0001")) == ["token:3f2a"] * 4
    assert set(authors(store_url, child_record_id("C-1001"))) == {"token:3f2a"}

    source.write_text("\n".join(EXAMPLE_LINES[4:6]) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "EHQA_BY"}
    run = [sys.executable, "-m", "ehqa", "--db", store_url, "apply", str(source)]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    source.write_text(EXAMPLE_LINES[6] + "\n")
    result = subprocess.run(
        run, capture_output=True, text=True, timeout=120, env={**env, "EHQA_BY": "os:carer"}
    )
    assert result.returncode == 0, result.stderr
    me = "os:" + getpass.getuser()
    assert authors(store_url, episode_id("EH-0001")) == ["token:3f2a"] * 4 + [me, me, "os:carer"]


def test_an_audit_command_stores_its_author(sqlite_url: str, tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:8]) + "\n")
    assert ehqa(sqlite_url, "apply", str(source)).returncode == 0
    assign = ["audit", "assign", "AU-1", "--episode", "EH-0001", "--scheme", "st_helens",
              "--auditor", "Sam Auditor", "--on", "2025-11-20"]  # fmt: skip
    result = ehqa(sqlite_url, "--by", "token:aud1", *assign)
    assert result.returncode == 0, result.stderr
    flag = ["audit", "flag", "AU-1", "childs_voice_absent", "--on", "2025-11-21"]
    assert ehqa(sqlite_url, "--by", "token:aud2", *flag).returncode == 0
    assert authors(sqlite_url, audit_id("AU-1")) == ["token:aud1", "token:aud2"]


def test_events_stored_before_authors_were_kept_still_load(tmp_path: Path) -> None:
    url = str(tmp_path / "old.db")
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:4]) + "\n")
    assert ehqa(url, "--by", "os:alice", "apply", str(source)).returncode == 0
    with sqlite3.connect(url) as db:  # as an older ehqa stored them: no author
        for rowid, state in db.execute("SELECT rowid, state FROM stored_events").fetchall():
            fields = json.loads(state)
            fields.pop("author", None)
            db.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                (json.dumps(fields).encode(), rowid),
            )
    assert authors(url, episode_id("EH-0001")) == [None] * 4
    app = EhqaApplication(store_env(url))
    try:
        assert app.get_episode("EH-0001").state.value == "assessed"
    finally:
        app.close()
    source.write_text("\n".join(EXAMPLE_LINES[4:5]) + "\n")
    assert ehqa(url, "--by", "os:bob", "apply", str(source)).returncode == 0
    assert authors(url, episode_id("EH-0001")) == [None] * 4 + ["os:bob"]
    timeline = json.loads(ehqa(url, "timeline", "EH-0001", "--json").stdout)
    assert [item.get("author") for item in timeline] == [None] * 4 + ["os:bob"]
