"""How the command line prints: tables, JSON, CSV, an episode, and progress bars on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from projections.queries import BoardRow


def print_table(
    rows: list[dict[str, Any]], columns: tuple[str, ...], headings: tuple[str, ...]
) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headings)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_json(value: Any, default: Callable[[Any], Any] | None = None) -> None:
    typer.echo(json.dumps(value, indent=2, default=default))


def print_csv(rows: list[dict[str, Any]]) -> None:
    from projections.reports import as_csv

    typer.echo(as_csv(rows), nl=False)


def print_episode(view: dict[str, Any], as_json: bool) -> None:
    """An episode summary (as the episodes view gives it): JSON, or one `key: value` a line."""
    if as_json:
        print_json(view)
        return
    lead = view["lead"]
    for key, value in {**view, "lead": lead and f"{lead['name']} ({lead['agency']})"}.items():
        typer.echo(f"{key:>17}: {'' if value is None else value}")


# ---- clocks: the deadlines and the drift board ---------------------------------------------------

COLUMNS = ("episode", "clock", "occurrence", "started_on", "due_on", "stopped_on", "status",
           "working_days_late", "exception")  # fmt: skip
HEADINGS = ("episode", "clock", "#", "started", "due", "stopped", "status", "wd late", "exception")
DRIFT_COLUMNS = ("episode", "clock", "occurrence", "due_on", "status", "working_days_late",
                 "lead", "agency", "exception")  # fmt: skip
DRIFT_HEADINGS = ("episode", "clock", "#", "due", "status", "wd late", "lead", "agency",
                  "exception")  # fmt: skip


def deadline_json(row: BoardRow) -> dict[str, Any]:
    entry = row.entry
    return {
        "episode": row.episode,
        "clock": entry.clock.value,
        "occurrence": entry.occurrence,
        "started_on": entry.started_on.isoformat(),
        "due_on": entry.due_on.isoformat(),
        "stopped_on": entry.stopped_on and entry.stopped_on.isoformat(),
        "status": entry.status.value,
        "working_days_late": entry.working_days_late,
        "exception": entry.exception,
    }


def board_json(row: BoardRow) -> dict[str, Any]:
    return {**deadline_json(row), "lead": row.lead_name, "agency": row.lead_agency,
            "policy": row.policy}  # fmt: skip


# ---- progress --------------------------------------------------------------------------------


@contextmanager
def progress(file: str, length: int, label: str) -> Iterator[Any]:
    """A progress bar reading a file on a terminal (by bytes), nothing when piped."""
    if file == "-" or not sys.stderr.isatty():
        yield lambda _: None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


@contextmanager
def bar(length: int, label: str) -> Iterator[Any]:
    """A progress bar on a terminal; None when piped."""
    if not sys.stderr.isatty():
        yield None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as shown:
        yield shown.update
