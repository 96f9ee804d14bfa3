"""The `ehqa` command line: parse, make one application call, print; exit non-zero on refusal."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import re
import signal
import sqlite3
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import psycopg
import typer
from eventsourcing.persistence import OperationalError, Tracking

from aggregates.access import Principal, Role
from aggregates.alerts import ALERT_ROLES
from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.errors import DomainError
from aggregates.lifecycle import mermaid
from aggregates.programme import AuditKind, Auditor, AuditorRole, standings, weighted_sample
from aggregates.schemes import (
    Grade,
    SchemeName,
    as_number,
    bnes_summary,
    check_bnes,
    check_flags,
    darlington,
    st_helens,
    what_makes_good,
)
from ehqa import bounds
from ehqa import demo as demo_module
from ehqa import simulate as simulation
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.auth import AccessLog, TokenBook, TokenError, parse_expiry
from ehqa.clock import from_environment
from ehqa.commands import LineError, _Command, parse_line
from ehqa.filters import UnknownValueError, check_filters
from ehqa.policies import DEFAULT_POLICY, PolicyBook
from ehqa.present import audit_json
from ehqa.services import Services
from ehqa.store import DEFAULT_DATABASE, StoreOpenError, StoreURLError
from projections.queries import BoardRow
from projections.reports import (
    as_csv,
    claims,
    claims_csv,
    feedback_answers,
    feedback_coverage,
    grade_report,
    theme_report,
)
from projections.runner import REBUILD_BATCH, follow
from schedulers.delivery import JsonLinesSink, Sink, WebhookSink
from schedulers.scheduler import run_every
from schedulers.sweep import Raised

app = typer.Typer(
    help="ehqa: Early Help Assessment episodes, their clocks and their quality.",
    no_args_is_help=True,
    add_completion=False,
)
policy_app = typer.Typer(
    help="Council policies: the timescales of every clock.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")


@dataclass
class Settings:
    database_url: str
    policy_dir: Path | None
    default_policy: str
    by: str  # the author recorded on every fact this run records

    def services(self) -> Services:
        try:
            return Services(
                self.database_url, policy_dir=self.policy_dir, default_policy=self.default_policy
            )
        except (StoreURLError, StoreOpenError) as error:
            fail(str(error), code=2)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def bounded(**options: tuple[str, str | None]) -> None:
    """Check options against ehqa.bounds: `bounded(note=("required_text", note))` fails with
    code 2 naming `--note` and the rule when the value is out of bounds."""
    for option, (kind, value) in options.items():
        if value is not None:
            try:
                bounds.check(kind, value, f"option '--{option.replace('_', '-')}'")
            except bounds.OutOfBounds as error:
                fail(str(error), code=2)


@contextmanager
def refusals() -> Iterator[None]:
    """Domain refusals become one line on stderr and exit code 1."""
    try:
        yield
    except DomainError as error:
        fail(str(error))


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="EHQA_DATABASE_URL",
            help="SQLite file path or postgresql://user@host:port/dbname.",
        ),
    ] = DEFAULT_DATABASE,
    policy_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="EHQA_POLICY_DIR", help="A directory of the council's own policy files."
        ),
    ] = None,
    default_policy: Annotated[
        str, typer.Option(envvar="EHQA_DEFAULT_POLICY", help="Policy for episodes that name none.")
    ] = DEFAULT_POLICY,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            envvar="EHQA_BY",
            help="Who records: a stable subject id stored on every fact recorded"
            ' (default "os:" and the operating-system user name).',
        ),
    ] = None,
) -> None:
    bounded(by=("subject", by))
    ctx.obj = Settings(db, policy_dir, default_policy, by or _os_subject())


def _os_subject() -> str:
    try:
        return "os:" + getpass.getuser()
    except (OSError, KeyError):  # no user name for this uid (e.g. in a container)
        return f"os:uid-{os.getuid()}"


def _by(ctx: typer.Context) -> str:
    settings: Settings = ctx.obj
    return settings.by


def _operator(ctx: typer.Context) -> Principal:
    """Whoever runs the command line: it has the store itself, so it acts as an admin, and is
    recorded by its subject (`--by`, else the operating-system user)."""
    by = _by(ctx)
    return Principal(by, Role.ADMIN, None, subject=by)


def _services(ctx: typer.Context) -> Services:
    """The store, opened for this command; the command is recorded in the access log (with the
    episode it names, if any) before it reads or records anything."""
    settings: Settings = ctx.obj
    with refusals():
        services = settings.services()
    names: list[str] = []
    parent: Any = ctx
    while parent.parent is not None:
        names.insert(0, parent.info_name or "")
        parent = parent.parent
    action, episode = "cli " + " ".join(names), _episode_named(ctx, services, names)
    if names[0] == "audit" and isinstance(ctx.params.get("reference"), str):
        action += " " + ctx.params["reference"]
    AccessLog(services.views).record(_operator(ctx), action, episode)
    return services


def _episode_named(ctx: typer.Context, services: Services, names: list[str]) -> str | None:
    """The episode a command reads or records on: its REFERENCE (for an audit command, the
    audited episode), else its --episode option."""
    reference, option = ctx.params.get("reference"), ctx.params.get("episode")
    if names[0] == "audit" and isinstance(reference, str):
        try:
            return services.app.get_audit(reference).episode
        except DomainError:  # no such audit (yet): the command says so itself
            reference = None
    for value in (reference, option):
        if isinstance(value, str):
            return value
    return None


def _views(ctx: typer.Context) -> Services:
    """Services whose read models have caught up with every recorded event."""
    services = _services(ctx)
    services.catch_up()
    return services


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The file's non-blank lines with their numbers (counting blank ones)."""
    for number, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            yield number, line


def _decoded(line: bytes) -> str:
    # a byte that is not UTF-8 becomes a surrogate, which parse_line names with its column
    return line.decode("utf-8", errors="surrogateescape")


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
    services, by = _services(ctx), _by(ctx)
    ehqa = services.app
    data = _read(file)
    # Each applied line is tracked (this name, its line number) in the transaction of its events.
    tracking_name = "import:" + hashlib.sha256(data).hexdigest()
    done = ehqa.recorder.max_tracking_id(tracking_name) or 0
    lines = list(_lines(data))
    earlier = sum(1 for number, _ in lines if number <= done)
    commands = _check(ehqa, [(n, line) for n, line in lines if n > done], file, len(data))
    if dry_run:
        counts = Counter(command.cmd for _, command, _ in commands)  # type: ignore[attr-defined]
        typer.echo(f"would apply {len(commands)} command(s){_earlier(earlier)}; recorded nothing")
        for cmd, count in sorted(counts.items()):
            typer.echo(f"  {cmd:<26} {count}")
        return
    applied, recorded = 0, list[tuple[str, str | None]]()
    log = AccessLog(services.views)
    with (
        _progress(file, len(data), "applying") as advance,
        _recording(log, _operator(ctx), recorded),
    ):
        for number, command, size in commands:
            try:
                command.apply(ehqa, by=by, tracking=Tracking(tracking_name, number))
                recorded.append((f"record {command.cmd}", command.episode))  # type: ignore[attr-defined]
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


@contextmanager
def _recording(
    log: AccessLog, who: Principal, entries: list[tuple[str, str | None]]
) -> Iterator[None]:
    """Whatever the run recorded goes into the access log (one entry per fact, one write at
    the end, even if the run stops part-way)."""
    try:
        yield
    finally:
        if entries:
            log.record_many(who, entries)


def _earlier(count: int) -> str:
    return f" ({count} already applied earlier)" if count else ""


def _check(
    ehqa: EhqaApplication, lines: list[tuple[int, bytes]], file: str, length: int
) -> list[tuple[int, _Command, int]]:
    """Every line's shape, then its command rehearsed on the episodes as the earlier lines left
    them (nothing saved); the first bad line ends the run with nothing recorded."""
    rehearsal = Rehearsal()
    checked = []
    with _progress(file, length, "checking") as advance:
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


@contextmanager
def _progress(file: str, length: int, label: str) -> Iterator[Any]:
    """A progress bar on a terminal (by bytes), nothing when piped."""
    if file == "-" or not sys.stderr.isatty():
        yield lambda _: None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


@app.command()
def episode(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Where it stood on YYYY-MM-DD.")
    ] = None,
) -> None:
    """Where one episode stands (or, with --as-at, stood on a business date)."""
    day = _date_option("--as-at", as_at)
    services = _views(ctx)
    view = services.read.episode(reference)
    if view is None:
        fail(f"no episode {reference}")
    if day is not None:
        view = services.episode_as_at(reference, day)
        if view is None:
            fail(f"episode {reference} was not yet opened on {day}")
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    lead = view["lead"]
    for key, value in {**view, "lead": lead and f"{lead['name']} ({lead['agency']})"}.items():
        typer.echo(f"{key:>17}: {'' if value is None else value}")


def _deadline_json(row: BoardRow) -> dict[str, Any]:
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


COLUMNS = (
    "episode",
    "clock",
    "occurrence",
    "started_on",
    "due_on",
    "stopped_on",
    "status",
    "working_days_late",
    "exception",
)
HEADINGS = ("episode", "clock", "#", "started", "due", "stopped", "status", "wd late", "exception")


def print_table(
    rows: list[dict[str, Any]], columns: tuple[str, ...], headings: tuple[str, ...]
) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headings)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@app.command()
def deadlines(
    ctx: typer.Context,
    episode: Annotated[str | None, typer.Option("--episode", help="One episode only.")] = None,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Status as at YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every clock of every episode (or one), with its due date and status."""
    when = _date_option("--as-at", as_at) or from_environment()()
    services = _views(ctx)
    if episode and services.read.episode(episode) is None:
        fail(f"no episode {episode}")
    rows = [_deadline_json(row) for row in services.read.deadlines(episode, when)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif rows:
        print_table(rows, COLUMNS, HEADINGS)
    else:
        typer.echo("no clocks")


def _date_option(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)", code=2)
    if not FIRST_DAY <= day <= LAST_DAY:
        fail(f"{name}: {value} is outside {FIRST_DAY} to {LAST_DAY}", code=2)
    return day


@app.command()
def timeline(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    milestones: Annotated[
        bool, typer.Option("--milestones", help="Add each clock's due date and labels.")
    ] = False,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Clock status as at.")] = None,
) -> None:
    """The episode's events in business-date order (with --milestones, each clock's due date)."""
    services = _views(ctx)
    if services.read.episode(reference) is None:
        fail(f"no episode {reference}")
    when = _date_option("--as-at", as_at) or from_environment()()
    events = services.read.timeline(reference, milestones=milestones, as_at=when)
    if as_json:
        typer.echo(json.dumps(events, indent=2))
        return
    labelled = events if milestones else services.read.timeline(reference, True, when)
    for item in labelled:
        typer.echo(f"{item['on']}  {item['label']}")


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a small realistic caseload in the store and show where each episode stands."""
    services = _services(ctx)
    with refusals():
        made = demo_module.build(services.app, by=_by(ctx))
    services.catch_up()
    settings: Settings = ctx.obj
    typer.echo(
        f"{'created' if made else 'already present:'} {len(demo_module.EPISODES)} demo episodes "
        f"in {settings.database_url}\n"
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


@policy_app.command("show")
def policy_show(
    ctx: typer.Context,
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective policy NAME (its `extends` chain merged)."""
    settings: Settings = ctx.obj
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
    settings: Settings = ctx.obj
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

    settings: Settings = ctx.obj
    with refusals():
        book = PolicyBook(settings.policy_dir)
        found = differences(book.get(a), book.get(b))
    if as_json:
        rows = [difference.as_json() for difference in found]
        typer.echo(json.dumps({"a": a, "b": b, "differences": rows}, indent=2))
        return
    for difference in found:
        typer.echo(str(difference))
    if not found:
        typer.echo(f"{a} and {b} do not differ")


# ---- drift and caseloads ---------------------------------------------------------------------

DRIFT_COLUMNS = ("episode", "clock", "occurrence", "due_on", "status", "working_days_late",
                 "lead", "agency", "exception")  # fmt: skip
DRIFT_HEADINGS = ("episode", "clock", "#", "due", "status", "wd late", "lead", "agency",
                  "exception")  # fmt: skip


def _board_json(row: BoardRow) -> dict[str, Any]:
    return {**_deadline_json(row), "lead": row.lead_name, "agency": row.lead_agency,
            "policy": row.policy}  # fmt: skip


def _known(services: Services, **values: str | None) -> None:
    """A filter value that matches nothing is a usage error naming the values there are."""
    try:
        check_filters(services, **values)
    except UnknownValueError as error:
        fail(error.detail(f"--{error.parameter}"), code=2)


@app.command()
def drift(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="As at YYYY-MM-DD.")] = None,
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
    when = _date_option("--as-at", as_at) or from_environment()()
    services = _views(ctx)
    _known(services, agency=agency, lead=lead, policy=policy, clock=clock)
    read = services.read
    filters: dict[str, Any] = {"agency": agency, "lead": lead, "policy": policy, "clock": clock,
                               "due_within": due_within}  # fmt: skip
    found = [_board_json(row) for row in read.drift(when, limit=limit, **filters)]
    if as_json:
        typer.echo(json.dumps(found, indent=2))
    elif found:
        print_table(found, DRIFT_COLUMNS, DRIFT_HEADINGS)
        if limit is not None:
            typer.echo(f"showing {len(found)} of {read.drift_count(when, **filters)}")
    else:
        typer.echo("nothing due soon" if due_within is not None else f"nothing overdue on {when}")


@app.command()
def caseload(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Overdue as at YYYY-MM-DD.")] = None,
    by_agency: Annotated[bool, typer.Option("--by-agency", help="Totals per agency.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open episodes per lead professional (or agency) with their overdue and worst clocks."""
    when = _date_option("--as-at", as_at) or from_environment()()
    read = _views(ctx).read
    loads = read.agency_loads(when) if by_agency else read.caseloads(when)
    if as_json:
        typer.echo(json.dumps(loads, indent=2))
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
    found = [s.__dict__ for s in _services(ctx).status()]
    if as_json:
        typer.echo(json.dumps(found, indent=2))
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
        found = [d.__dict__ for d in _services(ctx).dead_letters(view)]
    except KeyError as error:
        fail(str(error.args[0]), code=2)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
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
    services = _services(ctx)
    for projection in services.projections:
        applied = services.catch_up_one(projection.name)
        typer.echo(f"{projection.name:<10} applied {applied} event(s)")


@projections_app.command("rebuild")
def projections_rebuild(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="One view (default: all).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000_000)] = REBUILD_BATCH,
) -> None:
    """Empty a view and replay every event into it, showing progress and events/s."""
    services = _services(ctx)
    try:
        names = [services.projection(name).name] if name else [p.name for p in services.projections]
    except KeyError as error:
        fail(str(error.args[0]), code=2)
    log = services.app.recorder.max_notification_id() or 0
    for view in names:
        started = time.perf_counter()
        with _bar(log, f"rebuilding {view}") as advance:
            applied = services.rebuild(view, batch_size=batch_size, progress=advance)
            if advance:  # (the view's own last event may come before the end of the log)
                advance(log)
        seconds = time.perf_counter() - started
        rate = applied / seconds if seconds else 0.0
        typer.echo(f"{view:<10} {applied} event(s) in {seconds:.2f}s ({rate:,.0f} events/s)")


@contextmanager
def _bar(length: int, label: str) -> Iterator[Any]:
    if not sys.stderr.isatty():
        yield None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


@projections_app.command("follow")
def projections_follow(
    ctx: typer.Context,
    poll: Annotated[float, typer.Option(help="Seconds between polls (SQLite).")] = 1.0,
) -> None:
    """Keep the views current until interrupted (live on PostgreSQL, polled on SQLite)."""
    services = _services(ctx)
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


# ---- alerts ----------------------------------------------------------------------------------


def _raised_json(raised: Raised) -> dict[str, Any]:
    return {**raised.__dict__, "fell_due_on": raised.fell_due_on.isoformat()}


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="Sweep as at YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One sweep: raise every alert that has fallen due, and print what was raised."""
    services = _services(ctx)
    raised = services.sweep(_date_option("--as-at", as_at))
    if raised is None:
        fail("another sweeper is running on this store; nothing was done")
    if as_json:
        typer.echo(json.dumps([_raised_json(r) for r in raised], indent=2))
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
    when = _date_option("--as-at", as_at) or from_environment()()
    services = _views(ctx)
    _known(services, **{"for": to})
    role = to if to in ALERT_ROLES else None
    found = services.read.alerts(when, None if role else to, role, include_cleared)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
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
    services = _services(ctx)
    with refusals():
        services.app.acknowledge_alert(ident, by, by=_by(ctx))
    typer.echo(f"acknowledged {ident} by {by}")


def _sinks(alert_file: Path | None, webhook: str | None) -> list[Sink]:
    sinks: list[Sink] = []
    if alert_file:
        sinks.append(JsonLinesSink(alert_file))
    if webhook:
        sinks.append(WebhookSink(webhook))
    return sinks


@app.command()
def deliver(
    ctx: typer.Context,
    alert_file: Annotated[Path | None, typer.Option(envvar="EHQA_ALERT_FILE")] = None,
    webhook: Annotated[str | None, typer.Option(envvar="EHQA_ALERT_WEBHOOK")] = None,
) -> None:
    """Send raised alerts waiting in the outbox to the JSON-lines file and/or webhook."""
    sinks = _sinks(alert_file, webhook)
    if not sinks:
        fail("name a sink: --alert-file PATH and/or --webhook URL", code=2)
    typer.echo(f"delivered {_services(ctx).deliver(sinks)} alert(s)")


scheduler_app = typer.Typer(help="The scheduler that wakes the sweep.", no_args_is_help=True)
app.add_typer(scheduler_app, name="scheduler")


@scheduler_app.command("run")
def scheduler_run(
    ctx: typer.Context,
    interval: Annotated[
        float, typer.Option(min=0.1, max=86_400, help="Seconds between sweeps.")
    ] = 300,
    alert_file: Annotated[Path | None, typer.Option(envvar="EHQA_ALERT_FILE")] = None,
    webhook: Annotated[str | None, typer.Option(envvar="EHQA_ALERT_WEBHOOK")] = None,
) -> None:
    """Sweep at start-up and then every INTERVAL seconds until stopped, logging what it raised."""
    services = _services(ctx)
    sinks = _sinks(alert_file, webhook)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log = logging.getLogger("ehqa.scheduler")

    def job() -> None:
        try:
            raised = services.sweep()
            if raised is None:
                log.info("another sweeper holds the lock; skipped")
                return
            for r in raised:
                log.info(
                    "raised %s (fell due %s; to %s)", r.id, r.fell_due_on, ", ".join(r.recipients)
                )
            log.info("sweep as at %s: %d alert(s) raised", services.app.clock(), len(raised))
            if sinks:
                log.info("delivered %d alert(s)", services.deliver(sinks))
        except Exception:  # logged; the next wake-up tries again
            log.exception("sweep failed")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log.info("scheduler started on %s, every %ss", services.database_url, interval)
    run_every(job, interval, stop)
    services.close()
    log.info("scheduler stopped")


# ---- the HTTP service ------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    sweep_interval: Annotated[float, typer.Option(help="Seconds between sweeps.")] = 300,
) -> None:
    """Serve the HTTP API (with view catch-up and the alert sweep running beside it)."""
    import uvicorn

    settings: Settings = ctx.obj
    _services(ctx).close()  # fail early, with a clear message, if the store is unusable
    os.environ["EHQA_DATABASE_URL"] = settings.database_url
    os.environ["EHQA_DEFAULT_POLICY"] = settings.default_policy
    os.environ["EHQA_SWEEP_INTERVAL"] = str(sweep_interval)
    if settings.policy_dir:
        os.environ["EHQA_POLICY_DIR"] = str(settings.policy_dir)
    uvicorn.run("ehqa.api:from_environment", factory=True, host=host, port=port, workers=workers,
                log_level="info")  # fmt: skip


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
    bounded(name=("name", name), agency=("name", agency))
    services = _services(ctx)
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
    services = _services(ctx)
    tokens = TokenBook(services.views).tokens()
    if as_json:
        typer.echo(json.dumps(tokens, indent=2))
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
    services = _services(ctx)
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
    entries = AccessLog(_services(ctx).views).entries(episode, limit)
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    columns = ("at", "who", "subject", "role", "agency", "action", "episode")
    print_table(entries, columns, columns)


# ---- audits ------------------------------------------------------------------------------------

audit_app = typer.Typer(help="Quality-assurance audits of episodes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _staff(path: Path | None) -> dict[str, str]:
    """A staff list: `[managers]` maps each worker's name to their line manager's."""
    if path is None:
        return {}
    try:
        managers = {
            str(k): str(v) for k, v in tomllib.loads(path.read_text()).get("managers", {}).items()
        }
        for worker, manager in managers.items():
            bounds.check("name", worker, f"the staff list {path}: worker")
            bounds.check("name", manager, f"the staff list {path}: manager of {worker!r}")
        return managers
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, bounds.OutOfBounds) as error:
        fail(f"cannot read the staff list {path}: {error}", code=2)


def _on(value: str | None) -> date:
    return _date_option("--on", value) or from_environment()()


@audit_app.command("assign")
def audit_assign(
    ctx: typer.Context,
    reference: str,
    episode: Annotated[str, typer.Option(help="The episode audited.")],
    scheme: Annotated[str, typer.Option(help="st_helens, what_makes_good, darlington or bnes.")],
    auditor: Annotated[str, typer.Option(help="Who audits.")],
    reason: Annotated[str, typer.Option(help="Why the episode was sampled.")] = "",
    staff: Annotated[Path | None, typer.Option(help="Staff list (TOML, [managers]).")] = None,
    kind: Annotated[str, typer.Option(help="detailed, brief or one_to_one.")] = "detailed",
    on: Annotated[str | None, typer.Option(help="Date (default today).")] = None,
) -> None:
    """Assign an audit (refused for an auditor involved in the episode or managing its lead)."""
    bounded(reference=("path_reference", reference), episode=("reference", episode),
            auditor=("name", auditor), reason=("text", reason))  # fmt: skip
    services = _services(ctx)
    with refusals():
        services.assign_audit(reference, episode=episode, scheme=scheme, auditor=auditor, reason=reason,
                              on=_on(on), managers=_staff(staff), kind=kind, by=_by(ctx))  # fmt: skip
    typer.echo(f"assigned {reference}: {scheme} audit of {episode} by {auditor}")


@audit_app.command("propose")
def audit_propose(ctx: typer.Context, reference: str,
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:  # fmt: skip
    """What the record proves: proposed A1, R6, R8 and closure, with their facts."""
    services = _services(ctx)
    with refusals():
        audit = services.app.get_audit(reference)
        found = services.app.proposals(audit.episode)
    rows = {
        k: {"score": p.score, "grade": p.grade and p.grade.label, "facts": list(p.facts)}
        for k, p in found.items()
    }
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for item, proposal in found.items():
        shown = (
            proposal.score
            if proposal.score is not None
            else (proposal.grade and proposal.grade.label)
        )
        typer.echo(f"{item}: {shown if shown is not None else 'for the auditor'}")
        for fact in proposal.facts:
            typer.echo(f"    {fact}")


@audit_app.command("score")
def audit_score(
    ctx: typer.Context,
    reference: str,
    item: str,
    value: str,
    evidence: Annotated[str, typer.Option(help="What in the record shows it.")],
    override_reason: Annotated[
        str, typer.Option(help="Why the score differs from the proposal.")
    ] = "",
    action: Annotated[str, typer.Option(help="The action (B&NES red or amber).")] = "",
    on: Annotated[str | None, typer.Option(help="Date (default today).")] = None,
) -> None:
    """Score an item, a section, a dimension or a standard, with its evidence."""
    bounded(evidence=("required_text", evidence), override_reason=("text", override_reason),
            action=("text", action))  # fmt: skip
    services = _services(ctx)
    with refusals():
        proposed = services.app.proposed_value(services.app.get_audit(reference), item)
        services.app.change_audit(reference, lambda a, t: a.score(
            item, value if not value.isdigit() else int(value), evidence, _on(on), t,
            proposed=proposed, override_reason=override_reason, action=action), by=_by(ctx))  # fmt: skip
    typer.echo(f"scored {item} = {value}")


@audit_app.command("flag")
def audit_flag(ctx: typer.Context, reference: str, name: str,
               off: Annotated[bool, typer.Option("--off")] = False,
               on: Annotated[str | None, typer.Option(help="Date (default today).")] = None) -> None:  # fmt: skip
    """Set childs_voice_absent or safeguarding_not_considered (St Helens' overrides)."""
    with refusals():
        _services(ctx).app.change_audit(
            reference, lambda a, t: a.flag(name, not off, _on(on), t), by=_by(ctx)
        )
    typer.echo(f"{name} = {not off}")


@audit_app.command("concern")
def audit_concern(ctx: typer.Context, reference: str, note: Annotated[str, typer.Option()],
                  on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Raise a safeguarding concern found while auditing (delivered as an alert at once)."""
    bounded(note=("required_text", note))
    services = _services(ctx)
    with refusals():
        services.app.change_audit(
            reference, lambda a, t: a.raise_safeguarding_concern(note, _on(on), t), by=_by(ctx)
        )
    services.catch_up()
    typer.echo("safeguarding concern raised")


@audit_app.command("complete")
def audit_complete(
    ctx: typer.Context,
    reference: str,
    grade: Annotated[
        str | None, typer.Option(help="The grade, where the scheme lets the auditor choose.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, when it differs from the proposal.")] = "",
    on: Annotated[str | None, typer.Option(help="Date (default today).")] = None,
) -> None:
    """Complete the audit with its grade."""
    bounded(reason=("text", reason))
    chosen: list[Grade] = []
    with refusals():
        wanted = Grade.parse(grade) if grade else None
        _services(ctx).app.change_audit(
            reference,
            lambda a, t: chosen.append(a.complete(_on(on), t, wanted, reason)),
            by=_by(ctx),
        )
    typer.echo(f"completed {reference}: {chosen[0].label}")


@audit_app.command("action")
def audit_action(
    ctx: typer.Context, reference: str, number: str,
    who: Annotated[str, typer.Option()], what: Annotated[str, typer.Option()],
    due: Annotated[str | None, typer.Option(help="Due date (default: the audit_actions clock).")] = None,
    on: Annotated[str | None, typer.Option()] = None,
) -> None:  # fmt: skip
    """Issue a SMART action: who does what by when."""
    bounded(who=("name", who), what=("required_text", what))
    services = _services(ctx)
    issued = _on(on)
    with refusals():
        due_on = _date_option("--due", due) or services.app.action_due(
            services.app.get_audit(reference), issued
        )
        services.app.change_audit(
            reference,
            lambda a, t: a.issue_action(number, who, what, due_on, issued, t),
            by=_by(ctx),
        )
    typer.echo(f"action {number} for {who}, due {due_on}")


@audit_app.command("done")
def audit_action_done(ctx: typer.Context, reference: str, number: str,
                      on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Record an action completed."""
    with refusals():
        _services(ctx).app.change_audit(
            reference, lambda a, t: a.complete_action(number, _on(on), t), by=_by(ctx)
        )
    typer.echo(f"action {number} completed")


@audit_app.command("discuss")
def audit_discuss(ctx: typer.Context, reference: str, worker: Annotated[str, typer.Option()],
                  manager: Annotated[str, typer.Option()], notes: Annotated[str, typer.Option()] = "",
                  on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Record the discussion of the audit with the worker and their manager."""
    bounded(worker=("name", worker), manager=("name", manager), notes=("text", notes))
    with refusals():
        _services(ctx).app.change_audit(
            reference,
            lambda a, t: a.record_discussion(worker, manager, notes, _on(on), t),
            by=_by(ctx),
        )
    typer.echo("discussion recorded")


@audit_app.command("show")
def audit_show(
    ctx: typer.Context, reference: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """An audit: its scores, grade, actions and discussion."""
    with refusals():
        view = audit_json(_services(ctx).app.get_audit(reference))
    if as_json:
        typer.echo(json.dumps(view, indent=2, default=str))
        return
    for key in (
        "audit",
        "episode",
        "scheme",
        "auditor",
        "reason",
        "grade",
        "proposed_grade",
        "why",
        "completed_on",
    ):
        typer.echo(f"{key:>15}: {'' if view[key] is None else view[key]}")
    for item, score in view["scores"].items():
        typer.echo(f"{item:>15}: {score['value']}  ({score['evidence']})")


@audit_app.command("sample")
def audit_sample(
    ctx: typer.Context,
    size: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many episodes.")],
    seed: Annotated[int, typer.Option(min=0, max=2**63 - 1, help="Same seed, same sample.")],
    open_only: Annotated[bool, typer.Option("--open-only", help="Open episodes only.")] = False,
    agency: Annotated[str | None, typer.Option(help="Episodes led by this agency.")] = None,
) -> None:
    """A reproducible random sample of episodes, weighted by how many agencies are involved."""
    services = _views(ctx)
    _known(services, agency=agency)
    read = services.read
    for reference in weighted_sample(read.sample_candidates(open_only, agency), size, seed):
        typer.echo(reference)


@audit_app.command("programme")
def audit_programme(
    ctx: typer.Context,
    auditors: Annotated[
        Path,
        typer.Option(help='TOML: [auditors] "Name" = "role", or [auditors."Name"] role, workers.'),
    ],
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who is behind their audit quota over a period (quotas per role, St Helens framework)."""
    first, last = _date_option("--from", start), _date_option("--to", end)
    if first is None or last is None or last < first:
        fail("--from and --to give the period, first day first", code=2)
    try:
        listed = tomllib.loads(auditors.read_text()).get("auditors", {})
        people = [
            Auditor(str(name), AuditorRole(str(entry)))
            if not isinstance(entry, dict)
            else Auditor(
                str(name), AuditorRole(str(entry.get("role"))), int(entry.get("workers", 0))
            )
            for name, entry in listed.items()
        ]
    except (OSError, tomllib.TOMLDecodeError, ValueError) as error:
        fail(f"{auditors}: {error} (roles: {', '.join(r.value for r in AuditorRole)})", code=2)
    done: dict[tuple[str, AuditKind], int] = {}
    for audit in _views(ctx).read.audits():
        if audit["completed_on"] and first.isoformat() <= audit["completed_on"] <= last.isoformat():
            key = (audit["auditor"], AuditKind(audit["kind"]))
            done[key] = done.get(key, 0) + 1
    months = max(1, round(((last - first).days + 1) / 30.44))
    rows = [{"auditor": x.auditor, "role": x.role.value, "kind": x.kind.value, "expected": x.expected,
             "completed": x.completed, "behind": x.behind} for x in standings(people, done, months)]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        columns = ("auditor", "role", "kind", "expected", "completed", "behind")
        print_table(rows, columns, columns)


@audit_app.command("report")
def audit_report(
    ctx: typer.Context,
    by: Annotated[
        str, typer.Option(help="scheme, agency, quarter, auditor or section; or themes.")
    ] = "scheme",
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Grades of completed audits by scheme, agency, quarter, auditor or section; or the board's themes."""
    audits = _views(ctx).read.audits()
    try:
        rows = theme_report(audits) if by == "themes" else grade_report(audits, by)
    except ValueError as error:
        fail(f"--by: {error}", code=2)
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
    elif output == "csv":
        typer.echo(as_csv(rows), nl=False)
    elif rows:
        cells = [
            {k: ", ".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows
        ]
        print_table(cells, tuple(rows[0]), tuple(rows[0]))
    else:
        typer.echo("no completed audits")


@app.command()
def grade(
    scheme: Annotated[str, typer.Argument(help="st_helens, what_makes_good, darlington or bnes.")],
    file: Annotated[Path, typer.Argument(help='JSON: {"scores": {...}, "flags": {...}}.')],
) -> None:
    """Grade a set of scores by a scheme's rules, without recording an audit. Unknown items,
    sections, dimensions, standards and flags are refused; flags are JSON true or false."""
    if scheme not in tuple(SchemeName):
        fail(f"unknown scheme '{scheme}' ({', '.join(s.value for s in SchemeName)})", code=2)
    try:
        data = json.loads(file.read_text())
        if not isinstance(data, dict):
            fail(f'{file}: not a JSON object ({{"scores": {{...}}, "flags": {{...}}}})', code=2)
        extra = sorted(set(data) - {"scores", "flags"})
        if extra:
            fail(f"{file}: unknown key '{extra[0]}' (known: scores, flags)", code=2)
        scores, flags = dict(data.get("scores", {})), dict(data.get("flags", {}))
    except (OSError, ValueError, AttributeError, TypeError) as error:
        fail(f"{file}: {error}", code=2)
    with refusals():
        flags = check_flags(scheme, flags)
        if scheme == SchemeName.ST_HELENS:
            closure = scores.pop("closure", None)
            result = st_helens(
                {k: as_number(k, v) for k, v in scores.items()}, closure=closure and Grade.parse(str(closure)),
                assessment_audited=any(k.startswith("A") for k in scores),
                review_audited=any(k.startswith("R") for k in scores),
                childs_voice_absent=flags.get("childs_voice_absent", False),
                safeguarding_not_considered=flags.get("safeguarding_not_considered", False),
            )  # fmt: skip
            for name in ("assessment", "review", "closure"):
                section = getattr(result, name)
                typer.echo(f"{name:<12} {section.label if section else '-'}")
            typer.echo(
                f"{'overall':<12} {result.overall.label}"
                + "".join(f"\n  ({r})" for r in result.reasons)
            )
        elif scheme == SchemeName.WHAT_MAKES_GOOD:
            found = what_makes_good({k: Grade.parse(str(v)) for k, v in scores.items()})
            choice = " or ".join(g.label for g in found.options)
            typer.echo(
                f"overall      {found.proposed.label}"
                + (f" (moderate: {choice})" if found.needs_moderation else "")
            )
            typer.echo(f"  ({found.reason})")
        elif scheme == SchemeName.DARLINGTON:
            typer.echo(
                f"overall      {darlington({k: as_number(k, v) for k, v in scores.items()}).label} (the middle grade)"
            )
        elif scheme == SchemeName.BNES:
            ratings = {
                k: check_bnes(k, str(v), "(graded offline)", "(to agree)")
                for k, v in scores.items()
            }
            for area, counts in bnes_summary(ratings).items():
                typer.echo(f"{area:<24} " + ", ".join(f"{n} {rag}" for rag, n in counts.items()))


# ---- simulator ---------------------------------------------------------------------------------


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
    services = _services(ctx)
    today = services.app.clock()
    last = _date_option("--end", end) or today
    first = _date_option("--start", start) or last - timedelta(days=730)
    if last > today:
        fail(f"--end {last} is in the future (today is {today})", code=2)
    if first > last:
        fail(f"--start {first} is after --end {last}", code=2)
    probe = next(simulation.references(seed, 1))
    if services.app.exists(probe):
        fail(
            f"a simulation with seed {seed} is already in this store (e.g. {probe}): use another seed"
        )
    with _bar(episodes, "simulating") as advance, refusals():
        report = simulation.simulate(
            services.app, episodes, seed, first, last, progress=advance, interleaved=interleaved
        )
    typer.echo(f"simulated {report.episodes} episodes, {report.events} events ({first} to {last})")
    for scenario, count in sorted(report.scenarios.items()):
        typer.echo(f"  {scenario:<18} {count}")
    for refusal in report.refused[:20]:
        typer.echo(f"refused: {refusal}", err=True)


# ---- family feedback and the Level 2 Panel ------------------------------------------------------

feedback_app = typer.Typer(help="Family feedback (B&NES toolkits 5 and 6).", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")
panel_app = typer.Typer(help="The Level 2 Panel (St Helens).", no_args_is_help=True)
app.add_typer(panel_app, name="panel")


@feedback_app.command("report")
def feedback_report(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv_: Annotated[bool, typer.Option("--csv", help="Print the answers as CSV.")] = False,
) -> None:
    """Answers by agency, quarter, respondent and statement; and the share of episodes with
    feedback at each point (of those that reached it)."""
    facts = _views(ctx).read.feedback_facts()
    answers, coverage = feedback_answers(facts), feedback_coverage(facts)
    if as_json:
        typer.echo(json.dumps({"answers": answers, "coverage": coverage}, indent=2))
    elif as_csv_:
        typer.echo(as_csv(answers), nl=False)
    else:
        if answers:
            print_table(answers, tuple(answers[0]), tuple(answers[0]))
        else:
            typer.echo("no feedback recorded")
        typer.echo("")
        shown = [{**row, "share": "" if row["share"] is None else f"{row['share']:.0%}"}
                 for row in coverage]  # fmt: skip
        print_table(shown, tuple(shown[0]), tuple(shown[0]))


@panel_app.command("caseload")
def panel_caseload(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="As at YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Requests awaiting the panel's outcome and allocations awaiting its three-month review."""
    when = _date_option("--as-at", as_at) or from_environment()()
    rows = _views(ctx).read.panel_caseload(when)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif rows:
        cells = [{**row, "asks": ", ".join(row["asks"]),
                  "services": "; ".join(f"{s['service']} ({s['provider']})" for s in row["services"])}
                 for row in rows]  # fmt: skip
        columns = (
            "episode",
            "request",
            "status",
            "since",
            "due_on",
            "asks",
            "services",
            "lead",
            "agency",
        )
        print_table(cells, columns, columns)
    else:
        typer.echo("nothing awaits the Level 2 Panel")


# ---- Supporting Families claims -----------------------------------------------------------------

claims_app = typer.Typer(help="Supporting Families outcomes and claims.", no_args_is_help=True)
app.add_typer(claims_app, name="claims")


@claims_app.command("report")
def claims_report(
    ctx: typer.Context,
    quarter: Annotated[str, typer.Option("--quarter", help="The quarter, as YYYY-Qn.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv_: Annotated[
        bool, typer.Option("--csv", help="Print the claimable episodes as CSV.")
    ] = False,
) -> None:
    """Episodes whose six-month sustained check fell in the quarter: which can be claimed (three
    or more needs, a whole-family assessment, a plan, every met outcome sustained) and why not."""
    if not re.fullmatch(r"(2[01][0-9]{2})-Q[1-4]", quarter):
        fail(f"--quarter must look like 2025-Q3, not {quarter!r}", code=2)
    rows = claims(_views(ctx).read.outcomes_facts(), quarter)
    total = sum(1 for row in rows if row["claimable"])
    if as_json:
        typer.echo(json.dumps({"quarter": quarter, "episodes": rows, "claimable": total}, indent=2))
    elif as_csv_:
        typer.echo(claims_csv(rows), nl=False)
    elif rows:
        cells = [{**row, **{k: ", ".join(row[k]) for k in ("needs", "met", "sustained")},
                  "claimable": "yes" if row["claimable"] else "no",
                  "reasons": "; ".join(row["reasons"])} for row in rows]  # fmt: skip
        columns = ("episode", "checked_on", "needs", "met", "sustained", "claimable", "reasons")
        print_table(cells, columns, columns)
        typer.echo(f"\n{total} claimable of {len(rows)} checked in {quarter}")
    else:
        typer.echo(f"no sustained check fell in {quarter}")


def main() -> None:
    try:
        app()
    except (psycopg.OperationalError, sqlite3.OperationalError, OperationalError) as error:
        # The store went away after it was opened: one line, not a traceback.
        cause = (str(error).strip().splitlines() or ["no answer"])[0]
        typer.echo(f"error: the store failed: {cause}", err=True)
        sys.exit(2)
