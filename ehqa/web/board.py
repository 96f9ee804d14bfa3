"""What the drift board page shows, from the same read-model queries as the API's `/drift`.

The board lists the overdue clocks (worst first: the rungs `escalated` and `overdue`), then the
clocks due soon (soonest first: the rung `due_soon`). A clock's rung is its alert rung as at
the as-at date, which depends only on its policy's escalation ladder and its due date, so the
counts by rung are answered by one grouped count per part (`drift_due_dates`), not by reading
every row; the default view (every rung, worst first) reads only the rows of the page shown.
A rung filter or another sort reads the filtered board whole, then sorts and cuts it.

Filter values are checked against the data first (`ehqa.filters`), so a typo is refused, naming
the field, instead of answering "nothing overdue".
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from aggregates.alerts import Rung, ladder
from aggregates.policy import Policy
from ehqa.filters import UnknownValueError, known_values
from ehqa.services import Services
from projections.queries import BoardRow
from projections.runner import position

PAGE_SIZE = 50
FILTERS = ("agency", "lead", "clock", "rung", "policy")
RUNGS = [Rung.ESCALATED, Rung.OVERDUE, Rung.DUE_SOON]  # worst first
SORTS: dict[str, Callable[[Row], Any]] = {}  # filled below, once Row exists


@dataclass(frozen=True)
class Row:
    board: BoardRow
    rung: Rung


SORTS.update({
    # the overdue first, the most working days late first (the drift query's order); then due soon
    "worst": lambda r: (r.rung is Rung.DUE_SOON, r.board.entry.due_on),
    "due": lambda r: (r.board.entry.due_on, r.board.episode),
    "episode": lambda r: (r.board.episode, r.board.entry.due_on),
    "lead": lambda r: (r.board.lead_name or "", r.board.entry.due_on),
    "agency": lambda r: (r.board.lead_agency or "", r.board.entry.due_on),
    "clock": lambda r: (r.board.entry.clock.value, r.board.entry.due_on),
})  # fmt: skip


@dataclass(frozen=True)
class Board:
    rows: list[Row]
    counts: dict[str, int]  # by rung value
    total: int  # rows the filters match (every page)
    page: int
    pages: int


class PageError(ValueError):
    """A page number past the last page."""


def rung_of(policy: Policy, due_on: date, as_at: date, services: Services) -> Rung:
    """The clock's alert rung as at `as_at` (an overdue clock whose overdue alert has not yet
    fallen due, as over a weekend, counts as overdue)."""
    steps = ladder(due_on, policy.escalation, services.app.calendar)
    if due_on < as_at:
        return Rung.ESCALATED if as_at >= steps.escalated_on else Rung.OVERDUE
    return Rung.DUE_SOON


def _soon_days(services: Services) -> int:
    book = services.app.policies
    return max(book.get(name).escalation.due_soon_working_days for name in book.names())


def _is_soon(policy: Policy, due_on: date, as_at: date, services: Services) -> bool:
    return as_at >= ladder(due_on, policy.escalation, services.app.calendar).due_soon_on


class Counted:
    """The counts by rung of each board asked for, kept while the episodes view (which holds
    the clocks) stays where it is: paging through a board, or reading it again, counts once.
    Any step recorded moves the view on, and the next read counts afresh."""

    def __init__(self, most: int = 64) -> None:
        self.kept: dict[tuple[Any, ...], dict[str, int]] = {}
        self.most = most

    def counts(self, services: Services, as_at: date, where: dict[str, Any]) -> dict[str, int]:
        here = (services.database_url, position(services.views, "episodes"))
        key = (here, as_at, *sorted(where.items()))
        if key not in self.kept:
            if len(self.kept) >= self.most or any(k[0] != key[0] for k in self.kept):
                self.kept = {k: v for k, v in self.kept.items() if k[0] == key[0]}
                while len(self.kept) >= self.most:
                    del self.kept[next(iter(self.kept))]
            self.kept[key] = counts(services, as_at, where)
        return dict(self.kept[key])


def counts(services: Services, as_at: date, where: dict[str, Any]) -> dict[str, int]:
    """The board's clocks by rung, from one grouped count per policy and part."""
    found = {rung.value: 0 for rung in RUNGS}
    get, names = services.app.policies.get, services.app.policies.names()
    for name, due_on, n in services.read.drift_due_dates(as_at, names, **where):
        found[rung_of(get(name), due_on, as_at, services).value] += n
    soon = services.read.drift_due_dates(as_at, names, due_within=_soon_days(services), **where)
    found[Rung.DUE_SOON.value] = sum(
        n for name, due_on, n in soon if _is_soon(get(name), due_on, as_at, services)
    )
    return found


def _rows(services: Services, as_at: date, where: dict[str, Any], limit: int | None) -> list[Row]:
    """The board in its default order (the overdue, most working days late first; then those
    due soon, soonest first): its first `limit` rows, each part cut in SQL."""
    get = services.app.policies.get
    late = services.read.drift(as_at, limit=limit, **where)
    rows = [Row(r, rung_of(get(r.policy), r.entry.due_on, as_at, services)) for r in late]
    if limit is not None and len(rows) >= limit:
        return rows
    wanted = None if limit is None else limit - len(rows)
    cut = wanted
    while True:  # (a policy with a shorter due-soon window drops rows: read on until enough)
        soon = services.read.drift(as_at, due_within=_soon_days(services), limit=cut, **where)
        kept = [Row(r, Rung.DUE_SOON) for r in soon
                if _is_soon(get(r.policy), r.entry.due_on, as_at, services)]  # fmt: skip
        if wanted is None or cut is None or len(kept) >= wanted or len(soon) < cut:
            return rows + kept[:wanted]
        cut *= 2


class Known:
    """The values each filter may take (ehqa.filters). The agencies and lead professionals are
    read from every episode, which at 100,000 episodes costs more than the board itself, so the
    lists are kept for up to `fresh` seconds for the select lists; a value not in a kept list is
    looked for again in the data before it is refused, so a new agency is never refused."""

    def __init__(self, fresh: float = 60.0) -> None:
        self.kept: dict[tuple[str, str], tuple[float, list[str]]] = {}
        self.fresh = fresh

    def values(self, services: Services, name: str, again: bool = False) -> list[str]:
        if name not in ("agency", "lead"):
            return known_values(services, name)
        key, now = (name, services.database_url), time.monotonic()
        kept = self.kept.get(key)
        if again or kept is None or now - kept[0] > self.fresh:
            kept = self.kept[key] = (now, known_values(services, name))
        return kept[1]

    def check(self, services: Services, filters: dict[str, str | None]) -> None:
        """Refuse the first value its filter does not know, as `ehqa.filters.check_filters`."""
        for name, value in filters.items():
            if value is None or value in self.values(services, name):
                continue
            known = self.values(services, name, again=True)
            if value not in known:
                raise UnknownValueError(name, value, known)


KNOWN = Known()
COUNTED = Counted()


def board(services: Services, as_at: date, filters: dict[str, str | None], sort: str = "worst",
          page: int = 1, size: int = PAGE_SIZE) -> Board:  # fmt: skip
    """One page of the board (the views read as they are: catch them up first)."""
    KNOWN.check(services, filters)
    rung = filters.get("rung")
    where = {k: v for k, v in filters.items() if k != "rung"}
    by_rung = COUNTED.counts(services, as_at, where)
    total = by_rung[rung] if rung else sum(by_rung.values())
    pages = max(1, -(-total // size))
    if page > pages:
        raise PageError(f"page {page} is past the last page ({pages})")
    start = (page - 1) * size
    if rung is None and sort == "worst":
        rows = _rows(services, as_at, where, start + size)[start:]
    else:
        every = [r for r in _rows(services, as_at, where, None) if rung in (None, r.rung.value)]
        every.sort(key=SORTS[sort])
        rows = every[start : start + size]
    return Board(rows, by_rung, total, page, pages)


COLUMNS = ("episode", "clock", "occurrence", "rung", "status", "started_on", "due_on",
           "working_days_late", "exception", "lead", "agency", "policy")  # fmt: skip


def cells(row: Row) -> dict[str, Any]:
    b, e = row.board, row.board.entry
    return {
        "episode": b.episode, "clock": e.clock.value, "occurrence": e.occurrence,
        "rung": row.rung.value, "status": e.status.value, "started_on": e.started_on.isoformat(),
        "due_on": e.due_on.isoformat(), "working_days_late": e.working_days_late,
        "exception": e.exception or "", "lead": b.lead_name or "", "agency": b.lead_agency or "",
        "policy": b.policy,
    }  # fmt: skip


def as_csv(rows: list[Row]) -> str:
    """The rows shown, as CSV (a cell that a spreadsheet would read as a formula is quoted
    with a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _safe(v) for k, v in cells(row).items()})
    return out.getvalue()


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
