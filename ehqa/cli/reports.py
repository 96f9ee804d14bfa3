"""Reports: family feedback, the Level 2 Panel's caseload and Supporting Families claims."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from ehqa.cli.context import date_option, fail, open_views, today
from ehqa.cli.output import print_csv, print_json, print_table

# (each command imports what it alone needs: `ehqa --help` and the other commands skip it)

app = typer.Typer()
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
    from projections.reports import feedback_answers, feedback_coverage

    facts = open_views(ctx).read.feedback_facts()
    answers, coverage = feedback_answers(facts), feedback_coverage(facts)
    if as_json:
        print_json({"answers": answers, "coverage": coverage})
    elif as_csv_:
        print_csv(answers)
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
    when = date_option("--as-at", as_at) or today(ctx)
    rows = open_views(ctx).read.panel_caseload(when)
    if as_json:
        print_json(rows)
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
    from projections.reports import claims, claims_csv

    rows = claims(open_views(ctx).read.outcomes_facts(), quarter)
    total = sum(1 for row in rows if row["claimable"])
    if as_json:
        print_json({"quarter": quarter, "episodes": rows, "claimable": total})
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
