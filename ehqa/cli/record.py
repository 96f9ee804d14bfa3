"""`ehqa record STEP REFERENCE --on DATE ...`: one step of an episode, recorded from options.

There is one subcommand per command model of the import format (`ehqa.commands.MODELS`), made
from the model: its name is the model's `cmd` without a leading `record_` or `hold_` (`consent`,
`review`, `fam`, `panel-outcome`, ...), the episode is the positional REFERENCE and every other
field is an option (`ehqa.cli.fields` says how each shape of field is written). The model checks
the values as it checks a line of `ehqa apply`, and the step is recorded by the same application
call, with the `--by` author; so the events are the ones the import or the HTTP API records.

The subcommands are made when `record` is first asked for one (or for its help): the other
commands, and `ehqa --help`, never load the command models.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from ehqa.cli.context import author, fail, open_services, operator, recording, refusals
from ehqa.cli.output import print_episode

if TYPE_CHECKING:
    from ehqa.cli.fields import Option
    from ehqa.commands import _Command


class Steps(TyperGroup):
    """The `record` group: its subcommands made from the command models when first asked for."""

    _made: Any = None  # (a group of typer's own click)

    def steps(self) -> Any:
        if self._made is None:
            from ehqa.commands import MODELS

            steps = typer.Typer()
            for cmd, model in MODELS.items():
                _subcommand(steps, cmd, model)
            from ehqa.cli.children import record_step

            record_step(steps)  # (the child's record, keyed by the child)
            self._made = typer.main.get_command(steps)
        return self._made

    def list_commands(self, ctx: Any) -> list[str]:
        found: list[str] = self.steps().list_commands(ctx)
        return found

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return self.steps().get_command(ctx, cmd_name)


app = typer.Typer()
record_app = typer.Typer(
    help="Record one step of an episode: the import format's commands, their fields as options"
    " (see `ehqa record STEP --help`). Prints where the episode then stands (--json: as JSON).",
    no_args_is_help=True,
    cls=Steps,
)
app.add_typer(record_app, name="record")

ARGUMENT = "REFERENCE"


def step_name(cmd: str) -> str:
    """The subcommand of an import command: `record_consent` is `consent`, `hold_review` is
    `review`, `change_lead` is `change-lead`."""
    for verb in ("record_", "hold_"):
        cmd = cmd.removeprefix(verb)
    return cmd.replace("_", "-")


def _parameters(found: list[Option], defs: dict[str, Any]) -> list[inspect.Parameter]:
    from ehqa.cli.fields import FLAG, ITEMS

    keyword = inspect.Parameter.KEYWORD_ONLY
    made = [
        inspect.Parameter("ctx", keyword, annotation=typer.Context),
        inspect.Parameter("reference", keyword, annotation=str, default=typer.Argument(
            ..., metavar=ARGUMENT, help="The episode's reference.", show_default=False)),
        inspect.Parameter("as_json", keyword, annotation=bool, default=typer.Option(
            False, "--json", help="Print the episode as JSON.")),
    ]  # fmt: skip
    for option in found:
        text, default = option.help(defs), option.schema.get("default")
        if option.shape == FLAG:
            flags = f"{option.name}/--no-{option.name.removeprefix('--')}"
            made.append(inspect.Parameter(option.param, keyword, annotation=bool,
                        default=typer.Option(... if option.required else bool(default), flags,
                                             help=text)))  # fmt: skip
            continue
        shown: bool | str = False if default in (None, [], {}) else str(default)
        made.append(inspect.Parameter(
            option.param, keyword, annotation=list[str] | None if option.shape == ITEMS else str | None,
            default=typer.Option(... if option.required else None, option.name, help=text,
                                 metavar=option.metavar(), show_default=shown),
        ))  # fmt: skip
    return made


def _data(cmd: str, reference: str, found: list[Option], defs: dict[str, Any],
          values: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The command as the import would read it: only the options given (the model fills in its
    defaults), a nested model's options gathered under its field."""
    from ehqa.cli.fields import ITEMS

    data: dict[str, Any] = {"cmd": cmd, "episode": reference}
    for option in found:
        raw = values[option.param]
        if raw is None or (option.shape == ITEMS and not raw):
            continue
        *outer, last = option.path
        into = data.setdefault(outer[0], {}) if outer else data
        into[last] = option.value(raw, defs)
    return data


def _subcommand(steps: typer.Typer, cmd: str, model: type[_Command]) -> None:
    from pydantic import ValidationError

    from ehqa.auth import AccessLog
    from ehqa.cli.fields import OptionError, options, problems
    from projections.queries import episode_json
    from projections.views import EpisodesProjection

    found, defs = options(model)
    clash = {option.name for option in found} & {"--json", "--help"}
    if clash:
        raise TypeError(f"{model.__name__}: a field would be the option {clash.pop()}")

    def record(ctx: typer.Context, reference: str, as_json: bool, **values: Any) -> None:
        try:
            command = model.model_validate(_data(cmd, reference, found, defs, values))
        except OptionError as error:
            fail(str(error), code=2)
        except ValidationError as error:
            fail(problems(error, found, ARGUMENT), code=2)
        services = open_services(ctx)
        entries: list[tuple[str, str | None]] = []
        with refusals(), recording(AccessLog(services.views), operator(ctx), entries):
            episode = command.apply(services.app, by=author(ctx))
            entries.append((f"record {cmd}", command.episode))
        if not as_json:
            typer.echo(f"recorded {cmd} on {command.episode}")
        print_episode(episode_json(EpisodesProjection.summary(episode)), as_json)

    parameters = _parameters(found, defs)
    record.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    record.__annotations__ = {p.name: p.annotation for p in parameters}
    summary = inspect.cleandoc(model.__doc__ or "") or cmd.replace("_", " ").capitalize() + "."
    first = summary.replace("\n", " ").split(". ")[0].rstrip(".")
    steps.command(
        step_name(cmd),
        help=f"{summary}\n\nThe import format's `{cmd}` command, its fields as options.",
        short_help=f"{first} ({cmd}).",
    )(record)
