"""`ehqa apply FILE`: check the whole file, then record it in batches of lines.

The check rehearses every line, in order, on the episodes as the store holds them and as the
earlier lines leave them (each episode read from the store once), and keeps the events each line
produced, with the run's author. Applying then saves those events, a batch of lines at a time, each
batch in one transaction with the tracking record of its last line: a killed run has saved whole
batches only, and the same file applied again continues after the last one. If another writer
changed an episode after the check, the batch is refused whole (nothing of it saved) and the rest
of the file is applied line by line, each line run again on the episode as the store now holds it
(the way every line was applied before batches), so that the lines before a refused one stay
applied.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from eventsourcing.persistence import IntegrityError, Tracking

from aggregates.errors import DomainError
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.auth import AccessLog
from ehqa.cli.context import author, fail, open_services, operator, recording
from ehqa.cli.output import progress
from ehqa.commands import LineError, parse_line
from ehqa.commands.parsing import AnyCommand

BATCH_LINES = 100  # lines saved per transaction (their events held in memory since the check)


@dataclass
class Line:
    number: int
    command: AnyCommand
    size: int  # bytes of the file, for the progress bar
    events: list[Any]  # what the rehearsal recorded for it, by the run's author


def apply_file(ctx: typer.Context, file: str, dry_run: bool) -> None:
    services, by = open_services(ctx), author(ctx)
    ehqa = services.app
    data = _read(file)
    # Each applied line is tracked (this name, its line number) in the transaction of its events.
    tracking_name = "import:" + hashlib.sha256(data).hexdigest()
    done = ehqa.recorder.max_tracking_id(tracking_name) or 0
    lines = list(_lines(data))
    earlier = sum(1 for number, _ in lines if number <= done)
    checked = _check(ehqa, [(n, line) for n, line in lines if n > done], file, len(data), by)
    if dry_run:
        counts = Counter(line.command.cmd for line in checked)  # type: ignore[union-attr]
        typer.echo(f"would apply {len(checked)} command(s){_earlier(earlier)}; recorded nothing")
        for cmd, count in sorted(counts.items()):
            typer.echo(f"  {cmd:<26} {count}")
        return
    recorded = list[tuple[str, str | None]]()
    with (
        progress(file, len(data), "applying") as advance,
        recording(AccessLog(services.views), operator(ctx), recorded),
    ):
        applied = _save(ehqa, checked, tracking_name, by, recorded, advance, earlier)
    if not applied and earlier:
        typer.echo(f"applied 0 command(s): all {earlier} were applied earlier")
    else:
        typer.echo(f"applied {applied} command(s){_earlier(earlier)}")


def _save(
    ehqa: EhqaApplication,
    checked: list[Line],
    tracking_name: str,
    by: str,
    recorded: list[tuple[str, str | None]],
    advance: Any,
    earlier: int,
) -> int:
    """Save the checked lines' events in batches; after a conflict, line by line. The number of
    lines applied."""
    applied = 0
    for start, batch in _batches(checked):
        try:
            if batch[0].command.episode is None:
                # A child's record: sealed with the child's own key, which only the real run
                # makes (the rehearsal sealed with a throwaway key), so it is run again here.
                batch[0].command.apply(
                    ehqa, by=by, tracking=Tracking(tracking_name, batch[0].number)
                )
            else:
                # stamped now, as they are saved (not when the check made them): a read known
                # at a moment counts an event from its timestamp (ehqa.known_at)
                now = datetime.now(UTC)
                events = [replace(event, timestamp=now) for line in batch for event in line.events]
                ehqa.save(*events, tracking=Tracking(tracking_name, batch[-1].number))
        except (IntegrityError, DomainError):  # another writer got there after the check
            return applied + _one_by_one(
                ehqa, checked[start:], tracking_name, by, recorded, advance, applied, earlier
            )
        for line in batch:
            recorded.append((f"record {line.command.cmd}", line.command.episode))  # type: ignore[union-attr]
            advance(line.size)
        applied += len(batch)
    return applied


def _batches(checked: list[Line]) -> Iterator[tuple[int, list[Line]]]:
    """Up to BATCH_LINES lines at a time (with where each starts), a child's record alone."""
    start = 0
    while start < len(checked):
        end = start
        while end < len(checked) and end - start < BATCH_LINES:
            if checked[end].command.episode is None:
                end += end == start  # (alone in its batch)
                break
            end += 1
        yield start, checked[start:end]
        start = end


def _one_by_one(
    ehqa: EhqaApplication,
    rest: list[Line],
    tracking_name: str,
    by: str,
    recorded: list[tuple[str, str | None]],
    advance: Any,
    applied: int,
    earlier: int,
) -> int:
    done = 0
    for line in rest:
        command = line.command
        try:
            command.apply(ehqa, by=by, tracking=Tracking(tracking_name, line.number))
        except DomainError as error:
            typer.echo(f"line {line.number}: {error}", err=True)
            typer.echo(
                f"applied {applied + done} command(s) before line {line.number}"
                f"{_earlier(earlier)}; apply the same file again to continue from there",
                err=True,
            )
            raise typer.Exit(1) from None
        recorded.append((f"record {command.cmd}", command.episode))  # type: ignore[union-attr]
        advance(line.size)
        done += 1
    return done


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines with their numbers (counting blank ones)."""
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield number, line


def _decoded(line: bytes) -> str:
    # a byte that is not UTF-8 becomes a surrogate, which parse_line names with its column
    return line.decode("utf-8", errors="surrogateescape")


def _earlier(count: int) -> str:
    return f" ({count} already applied earlier)" if count else ""


def _check(
    ehqa: EhqaApplication, lines: list[tuple[int, bytes]], file: str, length: int, by: str
) -> list[Line]:
    """Every line's shape, then its command rehearsed on the episodes as the earlier lines left
    them (nothing saved); the first bad line ends the run with nothing recorded."""
    rehearsal = Rehearsal()
    checked = []
    with progress(file, length, "checking") as advance:
        for number, line in lines:
            try:
                command = parse_line(_decoded(line))
                command.apply(ehqa, by=by, rehearsal=rehearsal)
            except (LineError, DomainError) as error:
                typer.echo(f"line {number}: {error}", err=True)
                typer.echo("nothing was recorded: correct the file and apply it again", err=True)
                raise typer.Exit(1) from None
            checked.append(Line(number, command, len(line) + 1, rehearsal.take_events()))
            advance(len(line) + 1)
    return checked


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", code=2)
