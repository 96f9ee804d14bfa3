"""`ehqa export`: the lists inspectors ask for (Ofsted's Annex A List 2, the Standard
Safeguarding Dataset's early help episodes) as CSV, and one episode's chronology as HTML or PDF,
each as the record stands now or stood at a moment (--known-at)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ehqa.cli.context import fail, open_views, today
from ehqa.cli.moments import KnownAt, when_of

app = typer.Typer()
export_app = typer.Typer(help="Exports for inspection: annex-a, ssd-early-help, chronology.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(export_app, name="export")

Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")
]


class UnbornAge(StrEnum):
    MINUS_ONE = "-1"
    BLANK = "blank"


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"


def _write(output: Path | None, data: str | bytes) -> None:
    if output is None:
        if isinstance(data, bytes):
            fail("a PDF is written to a file: give --output FILE", code=2)
        sys.stdout.write(data)
        return
    try:
        output.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}", code=2)
    typer.echo(f"wrote {output}", err=True)


@export_app.command("annex-a")
def annex_a(
    ctx: typer.Context,
    inspection_date: Annotated[
        str, typer.Option("--inspection-date", help="The inspection date, YYYY-MM-DD.")
    ],
    known_at: KnownAt = None,
    unborn_age: Annotated[
        UnbornAge, typer.Option("--unborn-age", help="Age shown for a child not yet born.")
    ] = UnbornAge.MINUS_ONE,
    output: Output = None,
) -> None:
    """Annex A List 2 (early help): assessments started in the six months before the
    inspection date, and every episode still open on it."""
    when = when_of(ctx, inspection_date, known_at, "--inspection-date")
    assert when.as_at is not None
    services = open_views(ctx)
    blank = unborn_age is UnbornAge.BLANK
    from ehqa.exports import run

    _write(output, run.annex_a_csv(services, when.as_at, when.known_at, "blank" if blank else "-1"))


@export_app.command("ssd-early-help")
def ssd_early_help(
    ctx: typer.Context,
    as_at: Annotated[
        str | None, typer.Option("--as-at", help="Episodes as at YYYY-MM-DD (default: today).")
    ] = None,
    known_at: KnownAt = None,
    output: Output = None,
) -> None:
    """The Standard Safeguarding Dataset's ssd_early_help_episodes table."""
    when = when_of(ctx, as_at, known_at)
    services = open_views(ctx)
    from ehqa.exports import run

    _write(output, run.ssd_csv(services, when.day, when.known_at))


@export_app.command("chronology")
def chronology(
    ctx: typer.Context,
    reference: str,
    known_at: KnownAt = None,
    format: Annotated[Format, typer.Option("--format", help="html or pdf.")] = Format.HTML,
    output: Output = None,
) -> None:
    """One episode's chronology: every fact with its date, when it was recorded and by whom;
    its clocks, alerts, exceptions and audits."""
    when = when_of(ctx, None, known_at)
    services = open_views(ctx)
    if services.read.episode(reference) is None:
        fail(f"no episode {reference}")
    from ehqa.exports import run

    maker = run.chronology_pdf if format is Format.PDF else run.chronology_html
    _write(output, maker(services, reference, when.known_at, today(ctx)))
