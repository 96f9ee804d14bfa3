"""The `ehqa` command line: parse, make one application call, print; exit non-zero on refusal.

The commands live by area, each module with a typer app of its own merged into this one:

- `episodes`: apply, episode, deadlines, timeline, demo, lifecycle, simulate;
- `record`: `ehqa record STEP`, one subcommand per command model (options from `fields`);
- `views`: drift, caseload, projections;
- `alerts`: sweep, alerts, deliver;
- `audits` and `grading`: the audit commands, and grade;
- `reports`: feedback, panel, claims;
- `admin`: serve, access-log, policy, scheduler, tokens;
- `trail`: verify, digest (tamper evidence);
- `exports`: export annex-a, ssd-early-help, chronology.

`context` holds what they share (the settings of the run, the store, the access log, `fail`,
`bounded`, `refusals`) and `output` how they print (tables, JSON, CSV).

A command's area is imported, and its options and arguments made (by typer, from its
signature), when it is asked for: a run imports and makes only its own command, and `ehqa --help`
lists them all from `listing.COMMANDS` (their names, areas and first paragraphs of help) without
importing any area.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo

from ehqa.cli.listing import COMMANDS

# The areas, by the name of their module (ehqa.cli.NAME), in the order their commands are listed.
AREAS = tuple(dict.fromkeys(area for _, area, _ in COMMANDS))


def infos(area: str) -> dict[str, Any]:
    """An area's commands and groups by name, in typer's order (its commands, then its groups),
    as registered on its typer app (the area is imported)."""
    module = importlib.import_module(f"ehqa.cli.{area}")
    found: dict[str, Any] = {}
    for command in module.app.registered_commands:
        found[command.name or typer.main.get_command_name(command.callback.__name__)] = command
    for group in module.app.registered_groups:
        found[group.name] = group
    return found


class Made(Mapping[str, Any]):
    """Every area's commands and groups by name, in typer's order, each made by typer, as
    `typer.main.get_command` would make it, when first asked for (its area imported then)."""

    def __init__(self) -> None:
        self._areas = {name: area for name, area, _ in COMMANDS}
        self._made: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._made:
            info = infos(self._areas[name])[name]
            short, markup = app.pretty_exceptions_short, app.rich_markup_mode
            if isinstance(info, CommandInfo):
                self._made[name] = typer.main.get_command_from_info(
                    info, pretty_exceptions_short=short, rich_markup_mode=markup
                )
            else:
                self._made[name] = typer.main.get_group_from_info(
                    info, pretty_exceptions_short=short, rich_markup_mode=markup,
                    suggest_commands=app.suggest_commands,
                )  # fmt: skip
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._areas)

    def __len__(self) -> int:
        return len(self._areas)


class Commands(TyperGroup):
    """The top-level group, whose commands are made when asked for (`Made`), and listed by its
    help from `listing.COMMANDS` (each as a command that has only its name and help)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.commands = Made()  # type: ignore[assignment]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # (their names: none is made to be listed)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        made = self.commands
        self.commands = {name: TyperCommand(name, help=text) for name, _, text in COMMANDS}
        try:
            super().format_help(ctx, formatter)
        finally:
            self.commands = made


app = typer.Typer(
    help="ehqa: Early Help Assessment episodes, their clocks and their quality.",
    no_args_is_help=True,
    add_completion=False,
    cls=Commands,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLite file path or postgresql://user@host:port/dbname"
            " (default: EHQA_DATABASE_URL, else ehqa.db).",
            show_default=False,
        ),
    ] = None,
    policy_dir: Annotated[
        Path | None,
        typer.Option(
            help="A directory of the council's own policy files (default: EHQA_POLICY_DIR)."
        ),
    ] = None,
    default_policy: Annotated[
        str | None,
        typer.Option(
            help="Policy for episodes that name none (default: EHQA_DEFAULT_POLICY, else"
            " st-helens)."
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Who records: a stable subject id stored on every fact recorded"
            ' (default: EHQA_BY, else "os:" and the operating-system user name).',
        ),
    ] = None,
) -> None:
    # Settings come from the EHQA_* environment (docs/settings.md); these options override them.
    from ehqa.cli.context import start

    ctx.obj = start(database_url=db, policy_dir=policy_dir, default_policy=default_policy, by=by)


def main() -> None:
    try:
        app()
    except Exception as error:
        cipher = sys.modules.get("ehqa.cipher")  # (loaded only once the event store is opened)
        if cipher and isinstance(error.__cause__, cipher.KeyMissingError):  # (a key not given)
            typer.echo(f"error: {error.__cause__} (docs/privacy.md)", err=True)
            sys.exit(2)
        if not _store_failed(error):
            raise
        # The store went away after it was opened: one line, not a traceback.
        cause = (str(error).strip().splitlines() or ["no answer"])[0]
        typer.echo(f"error: the store failed: {cause}", err=True)
        sys.exit(2)


def _store_failed(error: Exception) -> bool:
    """Whether the store failed under the command: the drivers' operational errors, looked up
    only if loaded (a command on SQLite never imports psycopg, nor `ehqa --help` either)."""
    kinds: list[type[BaseException]] = [sqlite3.OperationalError]
    for module in ("psycopg", "eventsourcing.persistence"):
        loaded = sys.modules.get(module)
        if loaded is not None:
            kinds.append(loaded.OperationalError)
    return isinstance(error, tuple(kinds))
