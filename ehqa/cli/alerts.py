"""Alerts and their delivery: one sweep, the open alerts, acknowledging one, and sending the
raised ones to a JSON Lines file or a webhook (the scheduler in `admin` runs both on a timer)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ehqa.cli.context import (
    author,
    bounded,
    date_option,
    fail,
    known,
    open_services,
    open_views,
    refusals,
)
from ehqa.cli.moments import KnownAt, when_of
from ehqa.cli.output import print_json, print_table

if TYPE_CHECKING:
    from schedulers.delivery import Sink
    from schedulers.sweep import Raised

app = typer.Typer()

# The sinks' options, shared with `ehqa scheduler run`; they keep their own variables.
AlertFile = Annotated[Path | None, typer.Option(envvar="EHQA_ALERT_FILE")]
Webhook = Annotated[str | None, typer.Option(envvar="EHQA_ALERT_WEBHOOK")]


def _raised_json(raised: Raised) -> dict[str, Any]:
    return {**raised.__dict__, "fell_due_on": raised.fell_due_on.isoformat()}


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Sweep as at YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One sweep: raise every alert that has fallen due, and print what was raised."""
    services = open_services(ctx)
    raised = services.sweep(date_option("--as-at", as_at))
    if raised is None:
        fail("another sweeper is running on this store; nothing was done")
    if as_json:
        print_json([_raised_json(r) for r in raised])
        return
    for r in raised:
        typer.echo(f"raised {r.id}  (fell due {r.fell_due_on}; to {', '.join(r.recipients)})")
    typer.echo(f"{len(raised)} alert(s) raised")


alerts_app = typer.Typer(help="Alerts: list them (the default) or acknowledge one.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
def alerts_list(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Open as at YYYY-MM-DD.")] = None,
    known_at: KnownAt = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Only alerts addressed to this subject"
            " (a lead professional's sign-in subject) or role (lead_professional,"
            " coordinator, team_manager).",
        ),
    ] = None,
    include_cleared: Annotated[bool, typer.Option("--all", help="Cleared ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open alerts (raised and not yet cleared), oldest first."""
    bounded(**{"for": ("subject", to)})
    if ctx.invoked_subcommand is not None:
        return
    asked = when_of(ctx, as_at, known_at)
    services = open_views(ctx)
    known(services, **{"for": to})
    from aggregates.alerts import ALERT_ROLES

    role = to if to in ALERT_ROLES else None
    from ehqa import reads

    with reads.reading(services, asked) as read:
        found = read.alerts(asked.day, None if role else to, role, include_cleared)
    if as_json:
        print_json(found)
    elif found:
        rows = [{**a, "recipients": ", ".join(a["recipients"]),
                 "ack": a["acknowledged_by"] or ""} for a in found]  # fmt: skip
        columns = ("id", "rung", "fell_due_on", "raised_on", "recipients", "ack", "cleared_on")
        print_table(rows, columns, ("alert", "rung", "fell due", "raised", "to", "acknowledged",
                                    "cleared"))  # fmt: skip
    else:
        typer.echo("no open alerts")


@alerts_app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    ident: Annotated[str, typer.Argument(metavar="ID", help="The alert's id.")],
    by: Annotated[str, typer.Option(envvar="USER", help="Who acknowledges it.")] = "unknown",
) -> None:
    """Acknowledge an alert (it stays open until the awaited step happens)."""
    bounded(by=("name", by))
    services = open_services(ctx)
    with refusals():
        services.app.acknowledge_alert(ident, by, by=author(ctx))
    typer.echo(f"acknowledged {ident} by {by}")


def sinks(alert_file: Path | None, webhook: str | None) -> list[Sink]:
    from schedulers.delivery import JsonLinesSink, WebhookSink

    found: list[Sink] = []
    if alert_file:
        found.append(JsonLinesSink(alert_file))
    if webhook:
        found.append(WebhookSink(webhook))
    return found


@app.command()
def deliver(ctx: typer.Context, alert_file: AlertFile = None, webhook: Webhook = None) -> None:
    """Send raised alerts waiting in the outbox to the JSON-lines file and/or webhook."""
    chosen = sinks(alert_file, webhook)
    if not chosen:
        fail("name a sink: --alert-file PATH and/or --webhook URL", code=2)
    typer.echo(f"delivered {open_services(ctx).deliver(chosen)} alert(s)")
