"""Grading a set of scores by a scheme's rules, without recording an audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ehqa.cli.context import fail, refusals

app = typer.Typer()


@app.command()
def grade(
    scheme: Annotated[str, typer.Argument(help="st_helens, what_makes_good, darlington or bnes.")],
    file: Annotated[Path, typer.Argument(help='JSON: {"scores": {...}, "flags": {...}}.')],
) -> None:
    """Grade a set of scores by a scheme's rules, without recording an audit. Unknown items,
    sections, dimensions, standards and flags are refused; flags are JSON true or false."""
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
