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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ehqa.chain import ZERO, as_bytes, event_hash, log_hash, originator_text
from ehqa.digest import Digest

BATCH = 2_000
MAX_RECENT = 100_000  # aggregates whose last event hash a walk holds


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


Lookup = Callable[[str, int], "bytes | None"]  # (aggregate, version) -> its chained event hash


class Walk:
    """The state of one walk: the running hash, the next digest, and the last event hash of the
    aggregates seen lately (at most MAX_RECENT; past that it starts afresh, and a version whose
    predecessor is no longer held asks the chain's index for it)."""

    def __init__(self, digests: Iterable[Digest], lookup: Lookup, whole_log: bool) -> None:
        self.ahead, self.lookup, self.whole_log = iter(digests), lookup, whole_log
        self.digest = next(self.ahead, None)
        self.running, self.head, self.count, self.matched = ZERO, 0, 0, 0
        self.recent: dict[str, tuple[int, bytes]] = {}

    def outcome(self, broken: Break | None) -> Outcome:
        return Outcome(self.count, self.head, self.running, self.matched, broken)

    def before(self, oid: str, version: int) -> bytes | None:
        """The event hash of the aggregate's previous version, or None if it has none."""
        held = self.recent.get(oid)
        if held is not None and held[0] == version - 1:
            return held[1]
        return None if version <= 1 else self.lookup(oid, version - 1)

    def step(self, e: tuple[Any, ...] | None, c: tuple[Any, ...] | None, nid: int) -> Break | None:
        digest = self.digest
        while self.whole_log and digest is not None and digest.position < nid:
            if digest.position > self.head:
                return _lost(digest, self.head)
            if digest.position == self.head > 0:  # (another digest of the same position)
                if digest.root != self.running:
                    return Break("rewritten", self.head, None, None, _rewritten(digest))
                self.matched += 1
            digest = self.digest = next(self.ahead, None)
        before = self.before(c[1], c[2]) if c is not None else None
        if e is None or c is None or not _sound(e, c, before, self.running, self.whole_log):
            broken = _check(e, c, before, self.running if self.whole_log else None)
            if broken is not None:
                return broken
        assert c is not None
        self.recent[c[1]] = (c[2], c[4])
        if len(self.recent) > MAX_RECENT:
            self.recent.clear()
        if self.whole_log:
            self.running = c[5]
            if digest is not None and digest.position == nid:
                if digest.root != self.running:
                    return Break("rewritten", nid, None, None, _rewritten(digest))
                self.matched += 1
                self.digest = next(self.ahead, None)
        self.head, self.count = nid, self.count + 1
        return None


def walk(
    events: Iterable[tuple[Any, ...]],
    chain: Iterable[tuple[Any, ...]],
    lookup: Lookup,
    digests: Iterable[Digest] = (),
    *,
    whole_log: bool = True,
) -> Outcome:
    """Merge the two streams (see the module's doc) and stop at the first break.
    `events` rows: (notification id, originator, version, topic, state); `chain` rows:
    (notification id, originator, version, prev hash, event hash, log hash); `lookup` finds a
    chained event hash by aggregate and version. `whole_log` False (one aggregate's rows)
    checks no running hash and no digest."""
    state = Walk(digests, lookup, whole_log)
    e_rows, c_rows = iter(events), iter(chain)
    e, c = next(e_rows, None), next(c_rows, None)
    while e is not None or c is not None:
        if e is not None and (c is None or e[0] <= c[0]):
            nid = e[0]
        else:
            assert c is not None
            nid = c[0]
        found_e = e if e is not None and e[0] == nid else None
        found_c = c if c is not None and c[0] == nid else None
        broken = state.step(found_e, found_c, nid)
        if broken is not None:
            return state.outcome(broken)
        if found_e is not None:
            e = next(e_rows, None)
        if found_c is not None:
            c = next(c_rows, None)
    digest = state.digest
    if whole_log and digest is not None and digest.position > state.head:
        return state.outcome(_lost(digest, state.head))
    return state.outcome(None)


def _sound(
    e: tuple[Any, ...], c: tuple[Any, ...], before: bytes | None, running: bytes, whole: bool
) -> bool:
    """The usual case, checked quickly: the event is the one chained at its place, its hash
    follows from the previous version's and (for the whole log) the running hash from the last."""
    nid, oid, version, prev, digest, log = c
    state = e[4]
    return (
        e[1] == oid
        and e[2] == version
        and prev == (before if before is not None else ZERO)
        and type(state) is bytes
        and event_hash(prev, oid, version, e[3], state) == digest
        and (not whole or log_hash(running, nid, digest) == log)
    )


def _check(
    e: tuple[Any, ...] | None,
    c: tuple[Any, ...] | None,
    before: bytes | None,
    running: bytes | None,
) -> Break | None:
    if c is None:
        assert e is not None
        nid, oid, version = e[0], originator_text(e[1]), e[2]
        return Break("inserted", nid, oid, version, "an event the chain never recorded")
    nid, oid, version, prev, digest, log = c
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
    return None  # (sound after all: a state SQLite gives back as text, the same bytes)


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
