"""What every command shares: the run's settings, the store, who records, refusals and errors.

The global options become one `Run` (stored on the typer context): `ehqa.settings.load()` with
the options on top of the `EHQA_*` environment. A command opens the store through `open_services`
(or `open_views`, caught up), which writes the command to the access log first.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from aggregates.access import Principal, Role
from aggregates.errors import DomainError

if TYPE_CHECKING:  # (imported where they are used: `ehqa --help` needs none of them)
    from ehqa.auth import AccessLog
    from ehqa.clock import Clock
    from ehqa.services import Services
    from ehqa.settings import Settings

# The options that override settings, by the setting each one overrides: the global options, and
# `serve --sweep-interval`.
OPTIONS = {"database_url": "--db", "policy_dir": "--policy-dir",
           "default_policy": "--default-policy", "by": "--by", "sweep_interval": "--sweep-interval"}  # fmt: skip


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def bounded(**options: tuple[str, str | None]) -> None:
    """Check options against ehqa.bounds: `bounded(note=("required_text", note))` fails with
    code 2 naming `--note` and the rule when the value is out of bounds."""
    from ehqa import bounds

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


@dataclass(frozen=True)
class Run:
    """This run of the command line: its settings and who records."""

    settings: Settings
    by: str  # the author recorded on every fact this run records
    options: dict[str, Any]  # the settings given as options (None: not given)

    def clock(self) -> Clock:
        from ehqa.clock import fixed, london_today

        today = self.settings.today
        return london_today if today is None else fixed(today)

    def services(self) -> Services:
        from ehqa.services import Services
        from ehqa.store import StoreOpenError, StoreURLError

        settings = self.settings
        try:
            return Services(settings.database_url, policy_dir=settings.policy_dir,
                            default_policy=settings.default_policy, clock=self.clock(),
                            cipher_keys=settings.cipher() or "")  # fmt: skip
        except (StoreURLError, StoreOpenError) as error:
            fail(str(error), code=2)


def start(**options: Any) -> Run:
    """The run's settings: the environment's, with the options given (not None) on top. A bad
    setting is a usage error naming the option, or the variable if it came from there."""
    from ehqa import bounds
    from ehqa.settings import PREFIX, SettingsError, load

    bounded(by=("subject", options.get("by")))
    try:
        settings = load(**options)
    except SettingsError as error:
        message = str(error)
        for name, option in OPTIONS.items():
            variable = f"{PREFIX}{name.upper()}:"
            if options.get(name) is not None and message.startswith(variable):
                message = f"option '{option}':" + message.removeprefix(variable)
        fail(message, code=2)
    if settings.by is not None and options.get("by") is None:
        try:
            bounds.check("subject", settings.by, f"{PREFIX}BY")
        except bounds.OutOfBounds as error:
            fail(str(error), code=2)
    return Run(settings, settings.by or os_subject(), options)


def os_subject() -> str:
    try:
        return "os:" + getpass.getuser()
    except (OSError, KeyError):  # no user name for this uid (e.g. in a container)
        return f"os:uid-{os.getuid()}"


def run_of(ctx: typer.Context) -> Run:
    run: Run = ctx.obj
    return run


def author(ctx: typer.Context) -> str:
    return run_of(ctx).by


def today(ctx: typer.Context) -> date:
    """Today for this run: EHQA_TODAY if set, else the wall clock's date in Europe/London."""
    return run_of(ctx).clock()()


def operator(ctx: typer.Context) -> Principal:
    """Whoever runs the command line: it has the store itself, so it acts as an admin, and is
    recorded by its subject (`--by`, else the operating-system user)."""
    by = author(ctx)
    return Principal(by, Role.ADMIN, None, subject=by)


def open_services(ctx: typer.Context) -> Services:
    """The store, opened for this command; the command is recorded in the access log (with the
    episode it names, if any) before it reads or records anything."""
    from ehqa.auth import AccessLog

    with refusals():
        opened = run_of(ctx).services()
    names: list[str] = []
    parent: Any = ctx
    while parent.parent is not None:
        names.insert(0, parent.info_name or "")
        parent = parent.parent
    action, episode = "cli " + " ".join(names), _episode_named(ctx, opened, names)
    if names[0] == "audit" and isinstance(ctx.params.get("reference"), str):
        action += " " + ctx.params["reference"]
    AccessLog(opened.views).record(operator(ctx), action, episode)
    return opened


def _episode_named(ctx: typer.Context, opened: Services, names: list[str]) -> str | None:
    """The episode a command reads or records on: its REFERENCE (for an audit command, the
    audited episode), else its --episode option."""
    reference, option = ctx.params.get("reference"), ctx.params.get("episode")
    if names[0] == "audit" and isinstance(reference, str):
        try:
            return opened.app.get_audit(reference).episode
        except DomainError:  # no such audit (yet): the command says so itself
            reference = None
    for value in (reference, option):
        if isinstance(value, str):
            return value
    return None


def open_views(ctx: typer.Context) -> Services:
    """Services whose read models have caught up with every recorded event."""
    opened = open_services(ctx)
    opened.catch_up()
    return opened


@contextmanager
def recording(
    log: AccessLog, who: Principal, entries: list[tuple[str, str | None]]
) -> Iterator[None]:
    """Whatever the run recorded goes into the access log (one entry per fact, one write at
    the end, even if the run stops part-way)."""
    try:
        yield
    finally:
        if entries:
            log.record_many(who, entries)


def date_option(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    from aggregates.calendar import FIRST_DAY, LAST_DAY

    try:
        day = date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)", code=2)
    if not FIRST_DAY <= day <= LAST_DAY:
        fail(f"{name}: {value} is outside {FIRST_DAY} to {LAST_DAY}", code=2)
    return day


def known(opened: Services, **values: str | None) -> None:
    """A filter value that matches nothing is a usage error naming the values there are."""
    from ehqa.filters import UnknownValueError, check_filters

    try:
        check_filters(opened, **values)
    except UnknownValueError as error:
        fail(error.detail(f"--{error.parameter}"), code=2)
