"""The walk itself, on rows made in memory as the recorders make them: what it holds is bounded
(past MAX_RECENT aggregates it asks the chain's index), and digests are matched, repeated or
found missing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ehqa import verify as verify_module
from ehqa.chain import ZERO, event_hash, log_hash
from ehqa.digest import Digest
from ehqa.verify import walk

Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


def log_of(aggregates: int, versions: int) -> Rows:
    """Events of several aggregates interleaved, with their chain rows."""
    events, chain, last, running = [], [], {}, ZERO
    nid = 0
    for version in range(1, versions + 1):
        for n in range(aggregates):
            nid += 1
            oid, state = f"{n:032x}", f'{{"n": {nid}}}'.encode()
            prev = last.get(oid, ZERO)
            digest = event_hash(prev, oid, version, "t:Event", state)
            last[oid], running = digest, log_hash(running, nid, digest)
            events.append((nid, oid, version, "t:Event", state))
            chain.append((nid, oid, version, prev, digest, running))
    return events, chain


def test_past_the_aggregates_it_holds_it_asks_the_index_and_stays_green(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, chain = log_of(aggregates=5, versions=4)
    by_version = {(row[1], row[2]): row[4] for row in chain}
    asked: list[tuple[str, int]] = []

    def lookup(oid: str, version: int) -> bytes | None:
        asked.append((oid, version))
        return by_version.get((oid, version))

    assert walk(events, chain, lookup).broken is None and not asked
    monkeypatch.setattr(verify_module, "MAX_RECENT", 2)
    outcome = walk(events, chain, lookup)
    assert outcome.broken is None and outcome.events == 20 and asked


def test_digests_match_repeat_and_go_missing() -> None:
    events, chain = log_of(aggregates=3, versions=3)
    lookup = {(row[1], row[2]): row[4] for row in chain}.get

    def at(position: int, root: bytes | None = None) -> Digest:
        found = root or next(row[5] for row in chain if row[0] == position)
        return Digest(date(2026, 11, position), position, found)

    same = [at(4), at(4), at(9)]
    assert walk(events, chain, lambda o, v: lookup((o, v)), same).digests == 3
    wrong = walk(events, chain, lambda o, v: lookup((o, v)), [at(4), at(4, bytes(32))])
    assert wrong.broken is not None and wrong.broken.kind == "rewritten"
    beyond = walk(
        events, chain, lambda o, v: lookup((o, v)), [at(9), Digest(date(2026, 12, 1), 12, ZERO)]
    )
    assert beyond.broken is not None and beyond.broken.kind == "deleted"
    assert beyond.broken.position == 12
