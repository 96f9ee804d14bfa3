"""Audit reports: grades by scheme, agency or quarter, and the themes a partnership board asks for."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from aggregates.schemes import Grade, section_grades, themes

GROUPS = ("scheme", "agency", "quarter", "auditor", "section")
GRADES = [g.label for g in sorted(Grade, reverse=True)]


def quarter(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def grade_report(audits: Sequence[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """Completed audits counted by grade for each group."""
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not '{by}'")
    table: dict[str, Counter[str]] = {}
    for audit in audits:
        if not audit["grade"]:
            continue
        if by == "section":  # each section (or dimension) of each completed audit
            for section, grade in section_grades(audit["scheme"], audit["scores"]).items():
                table.setdefault(f"{audit['scheme']}: {section}", Counter())[grade] += 1
            continue
        key = quarter(audit["completed_on"]) if by == "quarter" else str(audit[by] or "unknown")
        table.setdefault(key, Counter())[audit["grade"]] += 1
    return [{by: key, **{g: counts[g] for g in GRADES}, "total": sum(counts.values())}
            for key, counts in sorted(table.items())]  # fmt: skip


def theme_report(audits: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """How many audits show each theme, with the episodes they are on."""
    found: dict[str, list[str]] = {}
    for audit in audits:
        for theme in themes(audit["scheme"], audit["scores"], audit["flags"]):
            found.setdefault(theme, []).append(audit["episode"])
    return [{"theme": t, "audits": len(eps), "episodes": sorted(set(eps))}
            for t, eps in sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))]  # fmt: skip


RATINGS = ("agree", "partly", "disagree")
POINTS = ("during_assessment", "third_review", "closure")


def feedback_answers(facts: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Family feedback answers counted by agency (of the lead professional when the sheet was
    given), quarter, respondent and statement."""
    table: dict[tuple[str, str, str, str], Counter[str]] = {}
    for _, body in facts:
        if body["event"] != "FeedbackRecorded":
            continue
        for statement, rating in body["answers"].items():
            key = (body["agency"], quarter(body["on"]), body["respondent"], statement)
            table.setdefault(key, Counter())[rating] += 1
    return [
        {"agency": agency, "quarter": q, "respondent": who, "statement": statement,
         **{r: counts[r] for r in RATINGS}, "answered": sum(counts.values())}
        for (agency, q, who, statement), counts in sorted(table.items())
    ]  # fmt: skip


def feedback_coverage(facts: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """For each point, how many episodes reached it (consent to an assessment; a third review;
    a closing after consent) and how many of those have feedback at it from anyone."""
    reached: dict[str, set[str]] = {point: set() for point in POINTS}
    given: dict[str, set[str]] = {point: set() for point in POINTS}
    skips, consented, reviews = set(), set(), Counter[str]()
    for ref, body in facts:
        kind = body["event"]
        if kind == "Opened" and body.get("recent_social_care_assessment"):
            skips.add(ref)
        elif kind == "ConsentRecorded":
            consented.add(ref)
            if ref not in skips:
                reached["during_assessment"].add(ref)
        elif kind == "ReviewHeld":
            reviews[ref] += 1
            if reviews[ref] == 3:
                reached["third_review"].add(ref)
        elif kind == "Closed" and ref in consented:
            reached["closure"].add(ref)
        elif kind == "FeedbackRecorded":
            given[body["point"]].add(ref)
    rows = []
    for point in POINTS:
        due, with_feedback = len(reached[point]), len(reached[point] & given[point])
        share = round(with_feedback / due, 3) if due else None
        rows.append({"point": point, "episodes": due, "with_feedback": with_feedback,
                     "share": share})  # fmt: skip
    return rows


CLAIM_MIN_NEEDS = 3


def claims(facts: Sequence[tuple[str, dict[str, Any]]], in_quarter: str) -> list[dict[str, Any]]:
    """Supporting Families: every episode whose sustained check fell in the quarter, with whether
    it can be claimed and, if not, why. Claimable: at least three needs identified, a whole-family
    assessment, a plan (a Family Action Meeting held or a single-agency plan agreed), at least
    one outcome met at closure and every met outcome sustained."""
    found: dict[str, dict[str, Any]] = {}
    for ref, body in facts:
        item = found.setdefault(ref, {"needs": [], "whole_family": False, "plan": False,
                                      "outcomes": {}, "sustained": None, "checked_on": None})  # fmt: skip
        kind = body["event"]
        if kind == "NeedsRecorded":
            item.update(
                needs=list(body["needs"]), whole_family=bool(body["whole_family_assessment"])
            )
        elif kind in ("FamHeld", "SingleAgencyPlanAgreed"):
            item["plan"] = True
        elif kind == "OutcomesRecorded":
            item["outcomes"] = dict(body["outcomes"])
        elif kind == "SustainedCheckRecorded":
            item.update(sustained=dict(body["sustained"]), checked_on=body["on"])
    rows = []
    for ref, item in sorted(found.items()):
        if item["checked_on"] is None or quarter(item["checked_on"]) != in_quarter:
            continue
        met = sorted(need for need, ok in item["outcomes"].items() if ok)
        reasons = []
        if len(item["needs"]) < CLAIM_MIN_NEEDS:
            reasons.append(f"fewer than {CLAIM_MIN_NEEDS} needs identified")
        if not item["whole_family"]:
            reasons.append("no whole-family assessment")
        if not item["plan"]:
            reasons.append("no plan")
        if not met:
            reasons.append("no outcome met")
        lost = sorted(need for need in met if not item["sustained"].get(need))
        if lost:
            reasons.append(f"not sustained: {', '.join(lost)}")
        rows.append({
            "episode": ref, "checked_on": item["checked_on"], "needs": item["needs"],
            "met": met, "not_met": sorted(set(item["needs"]) - set(met)),
            "sustained": sorted(n for n in met if item["sustained"].get(n)),
            "claimable": not reasons, "reasons": reasons,
        })  # fmt: skip
    return rows


def claims_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The claimable episodes, one a row, with their needs and outcomes; then the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["episode", "checked_on", "needs", "met", "not_met", "sustained"])
    claimable = [row for row in rows if row["claimable"]]
    for row in claimable:
        writer.writerow([row["episode"], row["checked_on"],
                         *(";".join(row[k]) for k in ("needs", "met", "not_met", "sustained"))])  # fmt: skip
    writer.writerow(["total", len(claimable), "", "", "", ""])
    return out.getvalue()


def as_csv(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()
