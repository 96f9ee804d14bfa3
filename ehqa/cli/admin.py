"""Administration: serving the HTTP API, API tokens, the scheduler, policies and the access log.

`ehqa serve` runs uvicorn on the import string "ehqa.api:from_environment" (this package never
imports ehqa.api): the server reads its settings with `ehqa.settings.load()`, so the options
given here reach it as the documented `EHQA_*` variables of the server's own process.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import threading
from typing import Annotated

import typer

from aggregates.access import Role
from ehqa.cli.alerts import AlertFile, Webhook, sinks
from ehqa.cli.context import bounded, fail, open_services, refusals, run_of, start
from ehqa.cli.output import print_json, print_table

# (each command imports what it alone needs: `ehqa --help` and the other commands skip it)

app = typer.Typer()

# ---- the HTTP service and the store ----------------------------------------------------------

# The settings `serve` passes on to the server when given as options here.
SERVER_SETTINGS = ("database_url", "policy_dir", "default_policy", "sweep_interval")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    sweep_interval: Annotated[
        float | None,
        typer.Option(help="Seconds between sweeps (default: EHQA_SWEEP_INTERVAL, else 300)."),
    ] = None,
) -> None:
    """Serve the HTTP API (with view catch-up and the alert sweep running beside it)."""
    from ehqa.settings import PREFIX

    given = {**run_of(ctx).options, "sweep_interval": sweep_interval}
    start(**given)  # the server's settings, checked here first (a bad one: exit 2)
    open_services(ctx).close()  # fail early, with a clear message, if the store is unusable
    # This process becomes the server (same pid, signals straight to uvicorn), with the options
    # given as its EHQA_* variables: this process's own environment is never changed.
    environment = dict(os.environ) | {
        PREFIX + name.upper(): str(given[name])
        for name in SERVER_SETTINGS
        if given.get(name) is not None
    }
    # One key signs the pages' session cookies in every worker (unset: made now, for this run).
    environment.setdefault(PREFIX + "SESSION_SECRET", secrets.token_urlsafe(32))
    command = [sys.executable, "-m", "uvicorn", "ehqa.api:from_environment", "--factory",
               "--host", host, "--port", str(port), "--workers", str(workers),
               "--log-level", "info"]  # fmt: skip
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command, environment)


@app.command("access-log")
def access_log(
    ctx: typer.Context,
    episode: Annotated[str | None, typer.Option(help="Only the reads of this episode.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="The most recent N entries.")
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Who read or recorded what, most recent first (the access log)."""
    from ehqa.auth import AccessLog

    entries = AccessLog(open_services(ctx).views).entries(episode, limit)
    if as_json:
        print_json(entries)
        return
    columns = ("at", "who", "subject", "role", "agency", "action", "episode")
    print_table(entries, columns, columns)


# ---- policies ----------------------------------------------------------------------------------


@app.command()
def migrate(
    ctx: typer.Context,
    show_status: Annotated[
        bool, typer.Option("--status", help="Only list the applied and pending migrations.")
    ] = False,
) -> None:
    """Bring the tables that are not views (tokens, access log, idempotency keys, deliveries) to
    this release's shape. Every start-up does this too; run it to upgrade a store on purpose, or
    to see where it stands."""
    from ehqa import migrate as migrations
    from ehqa.store import StoreOpenError, StoreURLError

    url = run_of(ctx).settings.database_url
    try:
        if show_status:
            found = migrations.status(url)
            for name in found.applied:
                typer.echo(f"applied  {name}")
            for name in found.pending:
                typer.echo(f"pending  {name}")
            return
        applied = migrations.migrate(url)
    except (StoreURLError, StoreOpenError) as error:
        fail(str(error), code=2)
    typer.echo("\n".join(f"applied  {name}" for name in applied) or "up to date: nothing to apply")


policy_app = typer.Typer(
    help="Council policies: the timescales of every clock.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective policy NAME (its `extends` chain merged)."""
    from ehqa.policies import PolicyBook

    settings = run_of(ctx).settings
    with refusals():
        policy = PolicyBook(settings.policy_dir).get(name)
    if as_json:
        typer.echo(policy.model_dump_json(indent=2, exclude_none=True))
        return
    typer.echo(f"{policy.name}: {policy.title}")
    if policy.extends:
        typer.echo(f"extends: {policy.extends}")
    typer.echo(f"due dates in days or months roll forward to a working day: {policy.roll_forward}")
    for clock, rule in policy.clocks.items():
        pre_birth = f"; pre-birth {rule.pre_birth_due}" if rule.pre_birth_due else ""
        off = "" if rule.enabled else " (off)"
        unborn = "" if rule.applies_pre_birth else "; not for pre-birth episodes"
        typer.echo(f"  {clock.value:<26} {rule.due}{pre_birth}{unborn}{off}  - {rule.label}")


@policy_app.command("list")
def policy_list(ctx: typer.Context) -> None:
    """The policies this installation knows."""
    from ehqa.policies import PolicyBook

    settings = run_of(ctx).settings
    with refusals():
        book = PolicyBook(settings.policy_dir)
        for name in book.names():
            typer.echo(f"{name:<14} {book.get(name).title}")


@policy_app.command("diff")
def policy_diff(
    ctx: typer.Context,
    a: str,
    b: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How policy B differs from policy A: one line per field (title, roll_forward, each clock's
    label, due, pre_birth_due, applies_pre_birth, enabled and source, the escalation values)."""
    from aggregates.policy import differences  # kept here: the policy commands' own import
    from ehqa.policies import PolicyBook

    settings = run_of(ctx).settings
    with refusals():
        book = PolicyBook(settings.policy_dir)
        found = differences(book.get(a), book.get(b))
    if as_json:
        rows = [difference.as_json() for difference in found]
        print_json({"a": a, "b": b, "differences": rows})
        return
    for difference in found:
        typer.echo(str(difference))
    if not found:
        typer.echo(f"{a} and {b} do not differ")


# ---- the scheduler ---------------------------------------------------------------------------

scheduler_app = typer.Typer(help="The scheduler that wakes the sweep.", no_args_is_help=True)
app.add_typer(scheduler_app, name="scheduler")


@scheduler_app.command("run")
def scheduler_run(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option(min=0.1, max=86_400, help="Seconds between sweeps.")
    ] = 300,
    alert_file: AlertFile = None,
    webhook: Webhook = None,
) -> None:
    """Sweep at start-up and then every INTERVAL seconds until stopped, logging what it raised."""
    from ehqa.trail import digest_round
    from schedulers.scheduler import run_every

    services = open_services(ctx)
    chosen = sinks(alert_file, webhook)
    digest_file, digest_webhook = (
        run_of(ctx).settings.digest_file,
        run_of(ctx).settings.digest_webhook,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = logging.getLogger("ehqa.scheduler")

    def job() -> None:
        try:
            raised = services.sweep(stop=stop, paced=True)
            if raised is None:
                log.info("another sweeper holds the lock; skipped")
                return
            for r in raised:
                log.info(
                    "raised %s (fell due %s; to %s)", r.id, r.fell_due_on, ", ".join(r.recipients)
                )
            log.info("sweep as at %s: %d alert(s) raised", services.app.clock(), len(raised))
            if chosen:
                log.info("delivered %d alert(s)", services.deliver(chosen))
        except Exception:  # logged; the next wake-up tries again
            log.exception("sweep failed")
        if digest_file is not None:
            digest_round(services, digest_file, log, digest_webhook)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("scheduler started on %s, every %ss", services.database_url, interval)
    run_every(job, interval, stop)
    services.close()
    log.info("scheduler stopped")


# ---- API tokens --------------------------------------------------------------------------------

tokens_app = typer.Typer(help="API tokens (stored hashed).", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    role: Annotated[Role, typer.Option(help="What the holder may do.")],
    name: Annotated[str, typer.Option(help="Who holds it (a person, or a system).")],
    agency: Annotated[
        str | None, typer.Option(help="Their agency (lead professionals, practitioners).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="When it stops working: 90d (days from now) or YYYY-MM-DD.")
    ] = None,
) -> None:
    """Issue a token and print it once: only its hash is kept (its id goes to stderr)."""
    from ehqa.auth import TokenBook, parse_expiry

    bounded(name=("name", name), agency=("name", agency))
    services = open_services(ctx)
    try:
        book = TokenBook(services.views)
        expiry = parse_expiry(expires, book.now()) if expires else None
        issued = book.issue(name, role, agency, expiry)
    except ValueError as error:
        fail(str(error), code=2)
    typer.echo(issued.token)
    until = f", expires {issued.expires_at}" if issued.expires_at else ""
    typer.echo(f"token {issued.id} for {name}{until}", err=True)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Every token: id, holder, role, agency, created, expires, last used, revoked (never the
    token itself)."""
    from ehqa.auth import TokenBook

    services = open_services(ctx)
    tokens = TokenBook(services.views).tokens()
    if as_json:
        print_json(tokens)
        return
    columns = ("id", "name", "role", "agency", "created_at", "expires_at", "last_used_at",
               "revoked_at")  # fmt: skip
    print_table(tokens, columns, ("id", "name", "role", "agency", "created", "expires",
                                  "last used", "revoked"))  # fmt: skip


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    id_or_name: Annotated[
        str,
        typer.Argument(
            metavar="ID_OR_NAME",
            help="A token's id, or its holder's name if only one unrevoked token has it.",
        ),
    ],
) -> None:
    """Revoke a token: every worker refuses it from the next request."""
    from ehqa.auth import TokenBook, TokenError

    services = open_services(ctx)
    try:
        token = TokenBook(services.views).revoke(id_or_name)
    except TokenError as error:
        fail(str(error))
    if token["revoked_at"]:
        typer.echo(
            f"token {token['id']} ({token['name']}) was already revoked at {token['revoked_at']}"
        )
    else:
        typer.echo(f"revoked token {token['id']} ({token['name']})")
