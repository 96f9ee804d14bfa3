"""Episodes: importing their history, where they stand, their clocks and timelines, the demo,
the lifecycle diagram and the simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from ehqa.cli.context import (
    author,
    date_option,
    fail,
    open_services,
    open_views,
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
)

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
    from ehqa.cli.applying import apply_file

    apply_file(ctx, file, dry_run)


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
    from ehqa import reads

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
    from ehqa import reads

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
    from ehqa import reads

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
    from ehqa import demo as demo_module

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
    from aggregates.lifecycle import mermaid

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
    from ehqa import simulate as simulation

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
