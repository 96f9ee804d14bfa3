"""Reads' access-log entries are group-committed: they reach the log soon without anyone asking,
and every one still waiting is committed when the server stops."""

from __future__ import annotations

import time

from aggregates.access import Principal, Role
from ehqa.api.group_commit import GroupCommit
from ehqa.auth import ACCESS_INSERT, AccessLog, access_rows
from ehqa.services import Services

READER = Principal("Jo Bright", Role.COORDINATOR, None, subject="token:jo")


def test_entries_handed_in_reach_the_log_by_themselves(store_url: str) -> None:
    s = Services(store_url)
    group = GroupCommit(s.views, every=0.05)
    try:
        for n in range(3):
            group.add(ACCESS_INSERT, access_rows(READER, [(f"read {n}", None)]))
        deadline = time.monotonic() + 30
        while len(AccessLog(s.views).entries()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(e["action"] for e in AccessLog(s.views).entries()) == [
            "read 0", "read 1", "read 2"
        ]  # fmt: skip
    finally:
        group.close()
        s.close()


def test_closing_commits_every_entry_still_waiting(store_url: str) -> None:
    s = Services(store_url)
    group = GroupCommit(s.views, every=3600)  # (its thread would wait an hour)
    try:
        group.add(ACCESS_INSERT, access_rows(READER, [("drift board", None), ("episode", "EH-1")]))
        assert AccessLog(s.views).entries() == []
        group.close()
        entries = AccessLog(s.views).entries()
        assert {(e["action"], e["episode"], e["subject"]) for e in entries} == {
            ("drift board", None, "token:jo"), ("episode", "EH-1", "token:jo")
        }  # fmt: skip
    finally:
        s.close()
