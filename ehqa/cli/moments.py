"""The two kinds of "as at" as command-line options: `--as-at DATE` (business time) and
`--known-at TIMESTAMP` (record time), made into one `ehqa.reads.When`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ehqa.cli.context import date_option, fail, today

if TYPE_CHECKING:  # (loaded by the command that reads: `ehqa --help` never loads the replay)
    from ehqa.reads import When

KnownAt = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        help="As the record stood at this moment (YYYY-MM-DDTHH:MM, Europe/London unless it"
        " ends in Z or +HH:MM): facts recorded later are left out, whatever their dates.",
    ),
]


def when_of(
    ctx: typer.Context, as_at: str | None, known_at: str | None, as_at_option: str = "--as-at"
) -> When:
    """The run's When: a bad value is a usage error (exit 2) naming its option (the date's
    as `as_at_option`)."""
    from ehqa.moment import MomentError, parse_moment
    from ehqa.reads import When

    day = date_option(as_at_option, as_at)
    moment = None
    if known_at is not None:
        try:
            moment = parse_moment(known_at)
        except MomentError as error:
            fail(f"--known-at: {error}", code=2)
    return When(day, moment, today(ctx))
