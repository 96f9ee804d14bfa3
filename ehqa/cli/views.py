"""Authority-wide views: the drift board, caseloads, and the read models themselves."""

from __future__ import annotations

import signal
import threading
import time
from typing import Annotated, Any

import typer

from ehqa.cli.context import bounded, fail, known, open_services, open_views
from ehqa.cli.moments import KnownAt, when_of
from ehqa.cli.output import DRIFT_COLUMNS, DRIFT_HEADINGS, bar, board_json, print_json, print_table

app = typer.Typer()


@app.command()
def drift(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="As at YYYY-MM-DD.")] = None,
    known_at: KnownAt = None,
    agency: Annotated[str | None, typer.Option(help="Lead professionals of this agency.")] = None,
    lead: Annotated[str | None, typer.Option(help="One lead professional, by name.")] = None,
    policy: Annotated[str | None, typer.Option(help="Episodes under this policy.")] = None,
    clock: Annotated[str | None, typer.Option(help="One clock, e.g. assessment.")] = None,
    due_within: Annotated[
        int | None,
        typer.Option("--due-within", min=0, help="Instead: clocks due in the next N working days."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Only the first N rows.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The drift board: overdue clocks (worst first), or those falling due soon."""
    bounded(agency=("name", agency), lead=("name", lead), policy=("name", policy),
            clock=("name", clock))  # fmt: skip
    asked = when_of(ctx, as_at, known_at)
    when = asked.day
    services = open_views(ctx)
    known(services, agency=agency, lead=lead, policy=policy, clock=clock)
    filters: dict[str, Any] = {"agency": agency, "lead": lead, "policy": policy, "clock": clock,
                               "due_within": due_within}  # fmt: skip
    from ehqa import reads

    with reads.reading(services, asked) as read:
        found = [board_json(row) for row in read.drift(when, limit=limit, **filters)]
        total = read.drift_count(when, **filters) if limit is not None else len(found)
    if as_json:
        print_json(found)
    elif found:
        print_table(found, DRIFT_COLUMNS, DRIFT_HEADINGS)
        if limit is not None:
            typer.echo(f"showing {len(found)} of {total}")
    else:
        typer.echo("nothing due soon" if due_within is not None else f"nothing overdue on {when}")


@app.command()
def caseload(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Overdue as at YYYY-MM-DD.")] = None,
    known_at: KnownAt = None,
    by_agency: Annotated[bool, typer.Option("--by-agency", help="Totals per agency.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open episodes per lead professional (or agency) with their overdue and worst clocks."""
    asked = when_of(ctx, as_at, known_at)
    from ehqa import reads

    with reads.reading(open_views(ctx), asked) as read:
        loads = read.agency_loads(asked.day) if by_agency else read.caseloads(asked.day)
    if as_json:
        print_json(loads)
        return
    rows = [
        {**load, "worst": "-" if not load["worst"] else
         f"{load['worst']['episode']} {load['worst']['clock']} ({load['worst']['working_days_late']} wd)"}
        for load in loads
    ]  # fmt: skip
    columns = (("agency", "lead_professionals") if by_agency else ("lead", "agency")) + (
        "open_episodes", "overdue_clocks", "worst")  # fmt: skip
    headings = tuple(c.replace("_", " ") for c in columns)
    print_table(rows, columns, headings) if rows else typer.echo("no open episodes")


# ---- projections ------------------------------------------------------------------------------

projections_app = typer.Typer(help="The read models: status, catch-up, rebuild, follow.",
                              no_args_is_help=True)  # fmt: skip
app.add_typer(projections_app, name="projections")


@projections_app.command("status")
def projections_status(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Each view's position against the event log, and how many events it dead-lettered."""
    found = [s.__dict__ for s in open_services(ctx).status()]
    if as_json:
        print_json(found)
        return
    for row in found:
        state = "behind" if row["pending"] else "up to date"
        dead = f"  {row['dead_letters']} dead-lettered" if row["dead_letters"] else ""
        typer.echo(
            f"{row['name']:<10} at {row['position']:>9} of {row['log_position']:>9}  {state}{dead}"
        )


@projections_app.command("dead-letters")
def projections_dead_letters(
    ctx: typer.Context,
    view: Annotated[str | None, typer.Option("--view", help="One view (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The events each view could not decode or apply, and skipped (see docs/views.md)."""
    try:
        found = [d.__dict__ for d in open_services(ctx).dead_letters(view)]
    except KeyError as error:
        fail(str(error.args[0]), code=2)
    if as_json:
        print_json(found)
        return
    if not found:
        typer.echo("no dead letters")
    for row in found:
        version = "" if row["originator_version"] is None else f" v{row['originator_version']}"
        typer.echo(
            f"{row['view']:<10} #{row['notification_id']} {row['originator_id']}{version}"
            f" {row['topic']}: {row['reason']}"
        )


@projections_app.command("catch-up")
def projections_catch_up(ctx: typer.Context) -> None:
    """Apply every event recorded since each view's position."""
    services = open_services(ctx)
    for projection in services.projections:
        applied = services.catch_up_one(projection.name)
        typer.echo(f"{projection.name:<10} applied {applied} event(s)")


@projections_app.command("rebuild")
def projections_rebuild(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One view (default: all).")] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=10_000_000, help="Events per batch (default: the rebuild's own)."),
    ] = None,
) -> None:
    """Empty a view and replay every event into it, showing progress and events/s."""
    services = open_services(ctx)
    sized = {} if batch_size is None else {"batch_size": batch_size}
    try:
        names = [services.projection(name).name] if name else [p.name for p in services.projections]
    except KeyError as error:
        fail(str(error.args[0]), code=2)
    log = services.app.recorder.max_notification_id() or 0
    for view in names:
        started = time.perf_counter()
        with bar(log, f"rebuilding {view}") as advance:
            applied = services.rebuild(view, progress=advance, **sized)
            if advance:  # (the view's own last event may come before the end of the log)
                advance(log)
        seconds = time.perf_counter() - started
        rate = applied / seconds if seconds else 0.0
        typer.echo(f"{view:<10} {applied} event(s) in {seconds:.2f}s ({rate:,.0f} events/s)")


@projections_app.command("follow")
def projections_follow(
    ctx: typer.Context,
    poll: Annotated[float, typer.Option(help="Seconds between polls (SQLite).")] = 1.0,
) -> None:
    """Keep the views current until interrupted (live on PostgreSQL, polled on SQLite)."""
    from projections.runner import follow

    services = open_services(ctx)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo(f"following {services.database_url} (Ctrl-C to stop)", err=True)
    try:
        follow(services.app, services.views, services.projections, stop, poll,
               on_applied=lambda n: typer.echo(f"applied {n} event(s)", err=True))  # fmt: skip
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
