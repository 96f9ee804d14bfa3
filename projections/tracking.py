"""Each view's tracking position, and its moves: compare-and-set, so two processes catching up
at once never apply a batch twice, and a batch never moves a view that is being replayed.

A replay (a rebuild of a view derived from aggregates, or catch-up of an empty view far behind)
keeps where it ends in a second tracking row (`REPLAYING`) while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections.db import Cursor, ViewDatabase

REPLAYING = "{}:replay"  # the tracking row holding where a view's replay ends, while it runs


def position(db: ViewDatabase, name: str) -> int:
    rows = db.query("SELECT position FROM ehqa_tracking WHERE projection = ?", (name,))
    return int(rows[0][0]) if rows else 0


def _advance(cur: Cursor, name: str, old: int, new: int) -> bool:
    if old == 0:
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, 0)"
            " ON CONFLICT (projection) DO NOTHING",
            (name,),
        )
    cur.execute(
        "UPDATE ehqa_tracking SET position = ? WHERE projection = ? AND position = ?",
        (new, name, old),
    )
    return cur.rowcount == 1


class Moved(Exception):
    """Another process advanced this view first; the batch is rolled back and read again."""


def replay_target(db: ViewDatabase, name: str) -> int | None:
    """Where the view's replay ends (the last event it takes), while one is under way."""
    rows = db.query(
        "SELECT position FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),)
    )
    return int(rows[0][0]) if rows else None


def _target_in(cur: Cursor, name: str) -> int | None:
    cur.execute(
        "SELECT position FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),)
    )
    row = cur.fetchone()
    return None if row is None else int(row[0])


def move(cur: Cursor, name: str, old: int, new: int) -> None:
    """Move the view's position past a batch read in log order: never while it replays (the
    check follows the compare-and-set, which holds the tracking row, so a replay that begins
    at the same moment and this batch cannot both commit)."""
    if not _advance(cur, name, old, new) or _target_in(cur, name) is not None:
        raise Moved


def move_all(cur: Cursor, moves: Sequence[tuple[str, int]], new: int) -> None:
    """Move several views (none at 0) from their positions to `new` at once, as `move` moves
    each: one compare-and-set for all, then the check that none of them is being replayed.
    Raises Moved (and the transaction moves none of them) if any has moved meanwhile."""
    if not moves:
        return
    ordered = sorted(moves)
    where = " OR ".join("(projection = ? AND position = ?)" for _ in ordered)
    cur.execute(f"UPDATE ehqa_tracking SET position = ? WHERE {where}",
                (new, *(value for move in ordered for value in move)))  # fmt: skip
    if cur.rowcount != len(ordered):
        raise Moved
    replays = [REPLAYING.format(name) for name, _ in ordered]
    marks = ", ".join("?" for _ in replays)
    cur.execute(f"SELECT COUNT(*) FROM ehqa_tracking WHERE projection IN ({marks})", replays)
    row = cur.fetchone()
    if row is None or row[0]:
        raise Moved


def begin_replay(db: ViewDatabase, name: str, target: int) -> bool:
    """Mark an empty view (position 0) as replaying up to `target`; False if it has moved."""
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, 0)"
            " ON CONFLICT (projection) DO NOTHING",
            (name,),
        )
        cur.execute(  # (takes the tracking row, as each batch's compare-and-set does)
            "UPDATE ehqa_tracking SET position = 0 WHERE projection = ? AND position = 0", (name,)
        )
        if cur.rowcount != 1:
            return False
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, ?)"
            " ON CONFLICT (projection) DO NOTHING",
            (REPLAYING.format(name), target),
        )
    return True


def move_replay(cur: Cursor, name: str, old: int, new: int, target: int, last: bool) -> None:
    """Move a replaying view's position (and end the replay with its last batch)."""
    if _target_in(cur, name) != target or not _advance(cur, name, old, new):
        raise Moved  # (another process moved it, or began another rebuild)
    if last:
        cur.execute("DELETE FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),))
