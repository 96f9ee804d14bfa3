"""The child's record on the command line: `ehqa record child-details CHILD`, `ehqa child CHILD`,
`ehqa erase CHILD --reason ...` and `ehqa retention due [--as-at DATE]`.

`record child-details` is made from the import's `record_child_details` model, as every
`ehqa record` step is made from its model: the child is the positional CHILD, every other field
an option, checked by the model.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ehqa.cli.context import (
    author,
    bounded,
    date_option,
    fail,
    open_services,
    open_views,
    operator,
    recording,
    refusals,
    today,
)
from ehqa.cli.output import print_json, print_table

if TYPE_CHECKING:
    from ehqa.children import ChildDetails

# (each command imports what it alone needs: `ehqa --help` and the other commands skip it)

app = typer.Typer()
CMD = "record_child_details"
ARGUMENT = "CHILD"


def print_details(found: ChildDetails | None, child: str, as_json: bool) -> None:
    from ehqa.children import ChildDetails

    shown = (found or ChildDetails(child)).as_json()
    if as_json:
        print_json(shown)
        return
    if found is None:
        typer.echo(f"nothing personal is recorded for child {child}")
    for key, value in shown.items():
        typer.echo(f"{key:>22}: {'' if value is None else value}")


def _child(value: str) -> str:
    from ehqa import bounds

    try:
        return bounds.check("reference", value, f"argument '{ARGUMENT}'")
    except bounds.OutOfBounds as error:
        fail(str(error), code=2)


def record_step(record_app: typer.Typer) -> None:
    """Add `child-details` to the `record` steps (made when `record` is first asked for)."""
    from pydantic import ValidationError

    from ehqa.auth import AccessLog
    from ehqa.cli.fields import OptionError, options, problems
    from ehqa.commands.child import RecordChildDetails

    found, defs = options(RecordChildDetails)
    found = [option for option in found if option.path != ("child",)]
    keyword = inspect.Parameter.KEYWORD_ONLY

    def record(ctx: typer.Context, child: str, as_json: bool, **values: Any) -> None:
        data: dict[str, Any] = {"cmd": CMD, "child": _child(child)}
        try:
            for option in found:
                if values[option.param] is not None:
                    data[option.path[0]] = option.value(values[option.param], defs)
            command = RecordChildDetails.model_validate(data)
        except OptionError as error:
            fail(str(error), code=2)
        except ValidationError as error:
            fail(problems(error, found, ARGUMENT), code=2)
        services = open_services(ctx)
        entries: list[tuple[str, str | None]] = []
        with refusals(), recording(AccessLog(services.views), operator(ctx), entries):
            command.apply(services.app, by=author(ctx))
            entries.append((f"record {CMD} {command.child}", None))
        if not as_json:
            typer.echo(f"recorded {CMD} for {command.child}")
        print_details(services.child_details(command.child), command.child, as_json)

    parameters = [
        inspect.Parameter("ctx", keyword, annotation=typer.Context),
        inspect.Parameter("child", keyword, annotation=str, default=typer.Argument(
            ..., metavar=ARGUMENT, help="The child's identifier.", show_default=False)),
        inspect.Parameter("as_json", keyword, annotation=bool, default=typer.Option(
            False, "--json", help="Print the child's record as JSON.")),
    ] + [
        inspect.Parameter(option.param, keyword, annotation=str | None, default=typer.Option(
            ... if option.required else None, option.name, help=option.help(defs),
            metavar=option.metavar(), show_default=False))
        for option in found
    ]  # fmt: skip
    record.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    record.__annotations__ = {p.name: p.annotation for p in parameters}
    summary = inspect.cleandoc(RecordChildDetails.__doc__ or "")
    record_app.command(
        "child-details",
        help=f"{summary}\n\nThe import format's `{CMD}` command, its fields as options.",
        short_help=f"The child's personal fields ({CMD}).",
    )(record)


@app.command("child")
def show(
    ctx: typer.Context,
    child: Annotated[str, typer.Argument(metavar=ARGUMENT, help="The child's identifier.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The child's personal fields as recorded (all empty, and `erased`, once erased)."""
    from ehqa.auth import AccessLog

    child = _child(child)
    services = open_services(ctx)
    AccessLog(services.views).record(operator(ctx), f"child {child}")
    print_details(services.child_details(child), child, as_json)


@app.command()
def erase(
    ctx: typer.Context,
    child: Annotated[str, typer.Argument(metavar=ARGUMENT, help="The child's identifier.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. the retention rule); nothing personal.")],
    on: Annotated[
        str | None, typer.Option(help="The date of the erasure (default: today).")
    ] = None,
) -> None:
    """Erase a child's personal fields: their key is destroyed, so no copy of the fields can be
    read again; the erasure is recorded, and their episodes stay, keyed by the identifier."""
    from ehqa.auth import AccessLog
    from ehqa.children import erase as erase_child

    child = _child(child)
    bounded(reason=("required_text", reason))
    day = date_option("--on", on) or today(ctx)
    services = open_services(ctx)
    entries: list[tuple[str, str | None]] = []
    with refusals(), recording(AccessLog(services.views), operator(ctx), entries):
        erase_child(services.app, child, reason, day, by=author(ctx))
        entries.append((f"erase {child}", None))
    typer.echo(f"erased the personal fields of child {child} on {day}")


retention_app = typer.Typer(help="Retention: the children due for erasure.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("due")
def retention_due(
    ctx: typer.Context,
    as_at: Annotated[str | None, typer.Option("--as-at", help="As at YYYY-MM-DD.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The children whose personal fields are due for erasure under their policy's retention
    rules, with the rule that makes each due (erase each with `ehqa erase`)."""
    from ehqa.retention import due

    when = date_option("--as-at", as_at) or today(ctx)
    found = [row.as_json() for row in due(open_views(ctx), when)]
    if as_json:
        print_json(found)
    elif found:
        print_table(
            found, ("child", "due_on", "policy", "rule"), ("child", "due", "policy", "rule")
        )
    else:
        typer.echo(f"no child is due for erasure on {when}")
