"""The `ehqa` command line: parse, make one application call, print; exit non-zero on refusal."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer

from aggregates.errors import DomainError
from aggregates.lifecycle import mermaid
from ehqa import demo as demo_module
from ehqa.application import Deadline, EhqaApplication
from ehqa.commands import LineError, parse_line
from ehqa.policies import DEFAULT_POLICY, PolicyBook
from ehqa.store import DEFAULT_DATABASE, StoreURLError, store_env

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

    def application(self) -> EhqaApplication:
        try:
            env = store_env(self.database_url)
        except StoreURLError as error:
            fail(str(error), code=2)
        return EhqaApplication(
            env, policies=PolicyBook(self.policy_dir), default_policy=self.default_policy
        )


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


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
) -> None:
    ctx.obj = Settings(db, policy_dir, default_policy)


def _app(ctx: typer.Context) -> EhqaApplication:
    settings: Settings = ctx.obj
    with refusals():
        return settings.application()


def _lines(source: TextIO) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(source, start=1):
        if line.strip():
            yield number, line


@app.command()
def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A JSON Lines file of commands, or - for stdin.")],
) -> None:
    """Apply commands in order, one per line; stop at the first refused line."""
    ehqa = _app(ctx)
    source = sys.stdin if file == "-" else _open(file)
    applied = 0
    with source, _progress(file, source) as advance:
        for number, text in _lines(source):
            try:
                parse_line(text).apply(ehqa)
            except (LineError, DomainError) as error:
                typer.echo(f"line {number}: {error}", err=True)
                typer.echo(f"applied {applied} command(s) before line {number}", err=True)
                raise typer.Exit(1) from None
            applied += 1
            advance(len(text.encode()))
    typer.echo(f"applied {applied} command(s)")


def _open(file: str) -> TextIO:
    try:
        return open(file, encoding="utf-8")
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror}", code=2)


@contextmanager
def _progress(file: str, source: TextIO) -> Iterator[Any]:
    """A progress bar on a terminal (by bytes read), nothing when piped."""
    if file == "-" or not sys.stderr.isatty():
        yield lambda _: None
        return
    with typer.progressbar(length=os.path.getsize(file), label="applying", file=sys.stderr) as bar:
        yield bar.update


@app.command()
def episode(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where one episode stands."""
    ehqa = _app(ctx)
    with refusals():
        found = ehqa.get_episode(reference)
    view = {
        "episode": found.reference,
        "child": found.child,
        "state": found.state.value,
        "lead": found.lead,
        "policy": found.policy,
        "origin": found.origin.value,
        "pre_birth": found.pre_birth,
        "opened_on": found.opened_on.isoformat(),
        "consent_agencies": found.consent_agencies,
        "closed_on": found.closed_on and found.closed_on.isoformat(),
        "closed_reason": found.closed_reason and found.closed_reason.value,
        "closure_summary": found.closure_summary,
        "version": found.version,
    }
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    lead = found.lead
    for key, value in {**view, "lead": lead and f"{lead['name']} ({lead['agency']})"}.items():
        typer.echo(f"{key:>17}: {'' if value is None else value}")


def _deadline_json(deadline: Deadline) -> dict[str, Any]:
    entry = deadline.entry
    return {
        "episode": deadline.episode,
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
    ehqa = _app(ctx)
    when = _date_option("--as-at", as_at)
    with refusals():
        episodes = [ehqa.get_episode(episode)] if episode else ehqa.episodes()
        rows = [_deadline_json(d) for found in episodes for d in ehqa.deadlines(found, when)]
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
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)", code=2)


@app.command()
def timeline(
    ctx: typer.Context,
    reference: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The episode's events in business-date order."""
    ehqa = _app(ctx)
    with refusals():
        events = ehqa.timeline(reference)
    if as_json:
        typer.echo(json.dumps(events, indent=2))
        return
    for item in events:
        details = {k: v for k, v in item.items() if k not in ("on", "recorded_at", "event")}
        extra = " ".join(f"{k}={json.dumps(v)}" for k, v in details.items())
        typer.echo(f"{item['on']}  {item['event']:<22} {extra}".rstrip())


@app.command()
def demo(ctx: typer.Context) -> None:
    """Build a small realistic caseload in the store and show where each episode stands."""
    ehqa = _app(ctx)
    with refusals():
        made = demo_module.build(ehqa)
    settings: Settings = ctx.obj
    typer.echo(
        f"{'created' if made else 'already present:'} {len(demo_module.EPISODES)} demo episodes "
        f"in {settings.database_url}\n"
    )
    rows = []
    for line in demo_module.standing(ehqa):
        rows.append(line)
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


def main() -> None:
    app()
