"""`ehqa verify`: walk the chains of the log in one streaming pass and report the first break.

Two streams, both in notification order and read in batches from one snapshot of the store: the
events as stored, and the chain rows (each with the event hash of its aggregate's previous
version, found by the chain's index). They are merged in step, so memory stays bounded whatever
the size of the log: one batch of each, the running hash and the next digest.

At each position:
- an event with no chain row was **inserted** (or written by a release without the chain);
- a chain row with no event: the event was **deleted**;
- an event whose aggregate or version differs from what the chain recorded there: **reordered**;
- an event whose hash (over its stored bytes and the previous version's hash) differs: **edited**;
- a chain row whose previous version is gone (or whose hash no longer matches): that version was
  **deleted** (or **edited**);
- a running hash that does not follow from the row before: a row before it was **deleted** with
  its chain row (or the chain edited);
- with digests, a running hash that differs from the digest written for that position: the log up
  to there was **rewritten** (every hash recomputed), or the position is gone (**deleted**).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ehqa.chain import ZERO, as_bytes, event_hash, log_hash, originator_text
from ehqa.digest import Digest

BATCH = 2_000


@dataclass(frozen=True)
class Break:
    kind: str  # edited, deleted, inserted, reordered, rewritten
    position: int  # the notification id (place in the log) where the walk found it
    originator: str | None  # the aggregate (32 hex digits), where one is concerned
    version: int | None  # its version (the position in its own chain)
    detail: str


@dataclass(frozen=True)
class Outcome:
    events: int
    head: int  # the last position walked
    root: bytes  # the running hash there
    digests: int  # digests matched
    broken: Break | None


def walk(
    events: Iterable[tuple[Any, ...]],
    chain: Iterable[tuple[Any, ...]],
    digests: Iterable[Digest] = (),
    *,
    whole_log: bool = True,
) -> Outcome:
    """Merge the two streams (see the module's doc) and stop at the first break.
    `events` rows: (notification id, originator, version, topic, state); `chain` rows:
    (notification id, originator, version, prev hash, event hash, log hash, previous version's
    event hash or None). `whole_log` False (one aggregate's rows) checks no running hash."""
    ahead = iter(digests)
    digest = next(ahead, None)
    e_rows, c_rows = iter(events), iter(chain)
    e, c = next(e_rows, None), next(c_rows, None)
    running, head, count, matched = ZERO, 0, 0, 0
    while e is not None or c is not None:
        nid = min(row[0] for row in (e, c) if row is not None)
        if whole_log:
            while digest is not None and digest.position < nid:
                if digest.position > head:
                    return Outcome(count, head, running, matched, _lost(digest, head))
                digest = next(ahead, None)
        found_e = e if e is not None and e[0] == nid else None
        found_c = c if c is not None and c[0] == nid else None
        broken = _check(found_e, found_c, running if whole_log else None)
        if broken is None and whole_log and c is not None and c[0] == nid:
            running = bytes(c[5])
            if digest is not None and digest.position == nid:
                if digest.root != running:
                    broken = Break("rewritten", nid, None, None, _rewritten(digest))
                else:
                    matched += 1
                    digest = next(ahead, None)
        if broken is not None:
            return Outcome(count, head, running, matched, broken)
        head, count = nid, count + 1
        if e is not None and e[0] == nid:
            e = next(e_rows, None)
        if c is not None and c[0] == nid:
            c = next(c_rows, None)
    if whole_log and digest is not None and digest.position > head:
        return Outcome(count, head, running, matched, _lost(digest, head))
    return Outcome(count, head, running, matched, None)


def _check(
    e: tuple[Any, ...] | None, c: tuple[Any, ...] | None, running: bytes | None
) -> Break | None:
    if c is None:
        assert e is not None
        nid, oid, version = e[0], originator_text(e[1]), e[2]
        return Break("inserted", nid, oid, version, "an event the chain never recorded")
    nid, oid, version, prev, digest, log, before = c
    if e is None:
        return Break("deleted", nid, oid, version, "the chain recorded an event here; it is gone")
    found = originator_text(e[1]), e[2]
    if found != (oid, version):
        return Break(
            "reordered", nid, found[0], found[1],
            f"the chain recorded version {version} of {oid} at this position",
        )  # fmt: skip
    expected_prev = ZERO if before is None else bytes(before)
    if bytes(prev) != expected_prev:
        kind = "deleted" if before is None else "edited"
        return Break(kind, nid, oid, version - 1, f"version {version - 1} of this aggregate is "
                     + ("gone" if before is None else "not the one this event followed"))  # fmt: skip
    if event_hash(bytes(prev), oid, version, str(e[3]), as_bytes(e[4])) != bytes(digest):
        return Break("edited", nid, oid, version, "the stored event differs from the one chained")
    if running is not None and log_hash(running, nid, bytes(digest)) != bytes(log):
        return Break(
            "deleted", nid, None, None,
            "the running hash does not follow from the row before: an event before this position"
            " was removed with its chain row, or the chain was edited",
        )  # fmt: skip
    return None


def _lost(digest: Digest, head: int) -> Break:
    return Break(
        "deleted", digest.position, None, None,
        f"the digest of {digest.date} was written at position {digest.position}; the log has no"
        f" row there (it ends, or goes on, after position {head})",
    )  # fmt: skip


def _rewritten(digest: Digest) -> str:
    return (
        f"the log's running hash here differs from the digest of {digest.date}: the log up to"
        " this position was rewritten (every hash recomputed)"
    )


def batched(cursor: Any, size: int = BATCH) -> Iterator[tuple[Any, ...]]:
    """Rows of an executed cursor, fetched `size` at a time."""
    while rows := cursor.fetchmany(size):
        yield from rows
