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


def as_csv(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    return out.getvalue()
