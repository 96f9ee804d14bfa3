"""Episodes: importing their history, where they stand, their clocks and timelines, the demo,
the lifecycle diagram and the simulator."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from eventsourcing.persistence import Tracking

from aggregates.errors import DomainError
from aggregates.lifecycle import mermaid
from ehqa import demo as demo_module
from ehqa import reads
from ehqa import simulate as simulation
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.auth import AccessLog
from ehqa.cli.context import (
    author,
    date_option,
    fail,
    open_services,
    open_views,
    operator,
    recording,
    refusals,
    run_of,
)
from ehqa.cli.moments import KnownAt, when_of
from ehqa.cli.output import (
    COLUMNS,
    HEADINGS,
    bar,
    deadline_json,
    print_episode,
    print_json,
    print_table,
    progress,
)
from ehqa.commands import LineError, parse_line
from ehqa.commands.parsing import AnyCommand

app = typer.Typer()


@app.command()
def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A JSON Lines file of commands, or - for stdin.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only check the whole file; record nothing.")
    ] = False,
) -> None:
    """Apply commands in order, one per line: the whole file is checked first and a bad line
    records nothing; run again, an interrupted file continues after its last applied line."""
    services, by = open_services(ctx), author(ctx)
    ehqa = services.app
    data = _read(file)
    # Each applied line is tracked (this name, its line number) in the transaction of its events.
    tracking_name = "import:" + hashlib.sha256(data).hexdigest()
    done = ehqa.recorder.max_tracking_id(tracking_name) or 0
    lines = list(_lines(data))
    earlier = sum(1 for number, _ in lines if number <= done)
    commands = _check(ehqa, [(n, line) for n, line in lines if n > done], file, len(data))
    if dry_run:
        counts = Counter(command.cmd for _, command, _ in commands)  # type: ignore[union-attr]
        typer.echo(f"would apply {len(commands)} command(s){_earlier(earlier)}; recorded nothing")
        for cmd, count in sorted(counts.items()):
            typer.echo(f"  {cmd:<26} {count}")
        return
    applied, recorded = 0, list[tuple[str, str | None]]()
    log = AccessLog(services.views)
    with (
        progress(file, len(data), "applying") as advance,
        recording(log, operator(ctx), recorded),
    ):
        for number, command, size in commands:
            try:
                command.apply(ehqa, by=by, tracking=Tracking(tracking_name, number))
                recorded.append((f"record {command.cmd}", command.episode))  # type: ignore[union-attr]
            except DomainError as error:
                typer.echo(f"line {number}: {error}", err=True)
                typer.echo(
                    f"applied {applied} command(s) before line {number}{_earlier(earlier)}; "
                    "apply the same file again to continue from there",
                    err=True,
                )
                raise typer.Exit(1) from None
            applied += 1
            advance(size)
    if not applied and earlier:
        typer.echo(f"applied 0 command(s): all {earlier} were applied earlier")
    else:
        typer.echo(f"applied {applied} command(s){_earlier(earlier)}")


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
    ehqa: EhqaApplication, lines: list[tuple[int, bytes]], file: str, length: int
) -> list[tuple[int, AnyCommand, int]]:
    """Every line's shape, then its command rehearsed on the episodes as the earlier lines left
    them (nothing saved); the first bad line ends the run with nothing recorded."""
    rehearsal = Rehearsal()
    checked = []
    with progress(file, length, "checking") as advance:
        for number, line in lines:
            try:
                command = parse_line(_decoded(line))
                command.apply(ehqa, rehearsal=rehearsal)
            except (LineError, DomainError) as error:
                typer.echo(f"line {number}: {error}", err=True)
                typer.echo("nothing was recorded: correct the file and apply it again", err=True)
                raise typer.Exit(1) from None
            checked.append((number, command, len(line) + 1))
            advance(len(line) + 1)
    return checked


def _read(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", code=2)


@app.command()
def episode(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Where it stood on YYYY-MM-DD.")
    ] = None,
    known_at: KnownAt = None,
) -> None:
    """Where one episode stands (or, with --as-at, stood on a business date; with --known-at,
    as the record stood at that moment)."""
    when = when_of(ctx, as_at, known_at)
    services = open_views(ctx)
    if services.read.episode(reference) is None:
        fail(f"no episode {reference}")
    view = reads.episode(services, reference, when)
    if view is None:
        fail(f"episode {reference} was not yet opened {when.describe()}")
    print_episode(view, as_json)


@app.command()
def deadlines(
    ctx: typer.Context,
    episode: Annotated[str | None, typer.Option("--episode", help="One episode only.")] = None,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Status as at YYYY-MM-DD.")] = None,
    known_at: KnownAt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every clock of every episode (or one), with its due date and status."""
    when = when_of(ctx, as_at, known_at)
    services = open_views(ctx)
    if episode and services.read.episode(episode) is None:
        fail(f"no episode {episode}")
    with reads.reading(services, when, episode) as read:
        rows = [deadline_json(row) for row in read.deadlines(episode, when.day)]
    if as_json:
        print_json(rows)
    elif rows:
        print_table(rows, COLUMNS, HEADINGS)
    else:
        typer.echo("no clocks")


@app.command()
def timeline(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    milestones: Annotated[
        bool, typer.Option("--milestones", help="Add each clock's due date and labels.")
    ] = False,
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Events dated on or before; clocks as at.")
    ] = None,
    known_at: KnownAt = None,
) -> None:
    """The episode's events in business-date order (with --milestones, each clock's due date)."""
    when = when_of(ctx, as_at, known_at)
    services = open_views(ctx)
    if services.read.episode(reference) is None:
        fail(f"no episode {reference}")
    events = reads.timeline(services, reference, when, milestones)
    if as_json:
        print_json(events)
        return
    labelled = events if milestones else reads.timeline(services, reference, when, True)
    for item in labelled:
        typer.echo(f"{item['on']}  {item['label']}")


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a small realistic caseload in the store and show where each episode stands."""
    services = open_services(ctx)
    with refusals():
        made = demo_module.build(services.app, by=author(ctx))
    services.catch_up()
    typer.echo(
        f"{'created' if made else 'already present:'} {len(demo_module.EPISODES)} demo episodes "
        f"in {run_of(ctx).settings.database_url}\n"
    )
    rows = demo_module.standing(services.read, services.app.clock())
    print_table(rows, demo_module.COLUMNS, demo_module.HEADINGS)
    typer.echo(
        "\nTry: ehqa deadlines --episode DEMO-0003   ehqa timeline DEMO-0001"
        "   ehqa episode DEMO-0005"
    )


@app.command()
def lifecycle() -> None:
    """Print the episode lifecycle as a Mermaid state diagram (drawn from the same table)."""
    typer.echo(mermaid())


@app.command()
def simulate(
    ctx: typer.Context,
    episodes: Annotated[int, typer.Option(min=1, max=10_000_000, help="How many episodes.")] = 100,
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Same seed, same data.")] = 1,
    start: Annotated[
        str | None, typer.Option(help="First referral date (default: 2 years ago).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last date recorded (default: today).")] = None,
    interleaved: Annotated[
        bool,
        typer.Option(
            help="Save the events in business-date order across episodes, as a live service"
            " records them (holds every history in memory first)."
        ),
    ] = False,
) -> None:
    """Write realistic simulated histories through the real commands."""
    services = open_services(ctx)
    now = services.app.clock()
    last = date_option("--end", end) or now
    first = date_option("--start", start) or last - timedelta(days=730)
    if last > now:
        fail(f"--end {last} is in the future (today is {now})", code=2)
    if first > last:
        fail(f"--start {first} is after --end {last}", code=2)
    probe = next(simulation.references(seed, 1))
    if services.app.exists(probe):
        fail(
            f"a simulation with seed {seed} is already in this store (e.g. {probe}): use another seed"
        )
    with bar(episodes, "simulating") as advance, refusals():
        report = simulation.simulate(
            services.app, episodes, seed, first, last, progress=advance, interleaved=interleaved
        )
    typer.echo(f"simulated {report.episodes} episodes, {report.events} events ({first} to {last})")
    for scenario, count in sorted(report.scenarios.items()):
        typer.echo(f"  {scenario:<18} {count}")
    for refusal in report.refused[:20]:
        typer.echo(f"refused: {refusal}", err=True)
