"""Quality-assurance audits: assigning, scoring, completing and following one up, sampling
episodes, the auditors' quotas and the grade reports; and grading scores without an audit."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ehqa.cli.context import (
    author,
    bounded,
    date_option,
    fail,
    known,
    open_services,
    open_views,
    refusals,
    today,
)
from ehqa.cli.output import print_csv, print_json, print_table

# (each command imports what it alone needs: `ehqa --help` and the other commands skip it)

app = typer.Typer()
audit_app = typer.Typer(help="Quality-assurance audits of episodes.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _staff(path: Path | None) -> dict[str, str]:
    """A staff list: `[managers]` maps each worker's name to their line manager's."""
    if path is None:
        return {}
    from ehqa import bounds

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


def _on(ctx: typer.Context, value: str | None) -> date:
    return date_option("--on", value) or today(ctx)


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
    services = open_services(ctx)
    with refusals():
        services.assign_audit(reference, episode=episode, scheme=scheme, auditor=auditor, reason=reason,
                              on=_on(ctx, on), managers=_staff(staff), kind=kind, by=author(ctx))  # fmt: skip
    typer.echo(f"assigned {reference}: {scheme} audit of {episode} by {auditor}")


@audit_app.command("propose")
def audit_propose(ctx: typer.Context, reference: str,
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:  # fmt: skip
    """What the record proves: proposed A1, R6, R8 and closure, with their facts."""
    services = open_services(ctx)
    with refusals():
        audit = services.app.get_audit(reference)
        found = services.app.proposals(audit.episode)
    rows = {
        k: {"score": p.score, "grade": p.grade and p.grade.label, "facts": list(p.facts)}
        for k, p in found.items()
    }
    if as_json:
        print_json(rows)
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
    services = open_services(ctx)
    with refusals():
        proposed = services.app.proposed_value(services.app.get_audit(reference), item)
        services.app.change_audit(reference, lambda a, t: a.score(
            item, value if not value.isdigit() else int(value), evidence, _on(ctx, on), t,
            proposed=proposed, override_reason=override_reason, action=action), by=author(ctx))  # fmt: skip
    typer.echo(f"scored {item} = {value}")


@audit_app.command("flag")
def audit_flag(ctx: typer.Context, reference: str, name: str,
               off: Annotated[bool, typer.Option("--off")] = False,
               on: Annotated[str | None, typer.Option(help="Date (default today).")] = None) -> None:  # fmt: skip
    """Set childs_voice_absent or safeguarding_not_considered (St Helens' overrides)."""
    with refusals():
        open_services(ctx).app.change_audit(
            reference, lambda a, t: a.flag(name, not off, _on(ctx, on), t), by=author(ctx)
        )
    typer.echo(f"{name} = {not off}")


@audit_app.command("concern")
def audit_concern(ctx: typer.Context, reference: str, note: Annotated[str, typer.Option()],
                  on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Raise a safeguarding concern found while auditing (delivered as an alert at once)."""
    bounded(note=("required_text", note))
    services = open_services(ctx)
    with refusals():
        services.app.change_audit(
            reference,
            lambda a, t: a.raise_safeguarding_concern(note, _on(ctx, on), t),
            by=author(ctx),
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
    from aggregates.schemes import Grade

    chosen: list[Grade] = []
    with refusals():
        wanted = Grade.parse(grade) if grade else None
        open_services(ctx).app.change_audit(
            reference,
            lambda a, t: chosen.append(a.complete(_on(ctx, on), t, wanted, reason)),
            by=author(ctx),
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
    services = open_services(ctx)
    issued = _on(ctx, on)
    with refusals():
        due_on = date_option("--due", due) or services.app.action_due(
            services.app.get_audit(reference), issued
        )
        services.app.change_audit(
            reference,
            lambda a, t: a.issue_action(number, who, what, due_on, issued, t),
            by=author(ctx),
        )
    typer.echo(f"action {number} for {who}, due {due_on}")


@audit_app.command("done")
def audit_action_done(ctx: typer.Context, reference: str, number: str,
                      on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Record an action completed."""
    with refusals():
        open_services(ctx).app.change_audit(
            reference, lambda a, t: a.complete_action(number, _on(ctx, on), t), by=author(ctx)
        )
    typer.echo(f"action {number} completed")


@audit_app.command("discuss")
def audit_discuss(ctx: typer.Context, reference: str, worker: Annotated[str, typer.Option()],
                  manager: Annotated[str, typer.Option()], notes: Annotated[str, typer.Option()] = "",
                  on: Annotated[str | None, typer.Option()] = None) -> None:  # fmt: skip
    """Record the discussion of the audit with the worker and their manager."""
    bounded(worker=("name", worker), manager=("name", manager), notes=("text", notes))
    with refusals():
        open_services(ctx).app.change_audit(
            reference,
            lambda a, t: a.record_discussion(worker, manager, notes, _on(ctx, on), t),
            by=author(ctx),
        )
    typer.echo("discussion recorded")


@audit_app.command("show")
def audit_show(
    ctx: typer.Context, reference: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """An audit: its scores, grade, actions and discussion."""
    with refusals():
        from ehqa.present import audit_json

        view = audit_json(open_services(ctx).app.get_audit(reference))
    if as_json:
        print_json(view, default=str)
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
    services = open_views(ctx)
    known(services, agency=agency)
    read = services.read
    from aggregates.programme import weighted_sample

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
    from aggregates.programme import AuditKind, Auditor, AuditorRole, standings

    first, last = date_option("--from", start), date_option("--to", end)
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
    for audit in open_views(ctx).read.audits():
        if audit["completed_on"] and first.isoformat() <= audit["completed_on"] <= last.isoformat():
            key = (audit["auditor"], AuditKind(audit["kind"]))
            done[key] = done.get(key, 0) + 1
    months = max(1, round(((last - first).days + 1) / 30.44))
    rows = [{"auditor": x.auditor, "role": x.role.value, "kind": x.kind.value, "expected": x.expected,
             "completed": x.completed, "behind": x.behind} for x in standings(people, done, months)]  # fmt: skip
    if as_json:
        print_json(rows)
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
    from projections.reports import grade_report, theme_report

    audits = open_views(ctx).read.audits()
    try:
        rows = theme_report(audits) if by == "themes" else grade_report(audits, by)
    except ValueError as error:
        fail(f"--by: {error}", code=2)
    if output == "json":
        print_json(rows)
    elif output == "csv":
        print_csv(rows)
    elif rows:
        cells = [
            {k: ", ".join(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows
        ]
        print_table(cells, tuple(rows[0]), tuple(rows[0]))
    else:
        typer.echo("no completed audits")
