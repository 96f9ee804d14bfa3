"""Ofsted's Annex A, List 2 (early help): the early help assessments of the six months before an
inspection date, and every episode still open on that date.

One row per episode: the child's identifier and personal fields, the assessment's start (the
family's consent, which starts the assessment clock) and completion (the assessment finalised),
and the lead professional's agency (as at the completion, else as at the inspection date).
Dates are dd/mm/yyyy; gender and ethnicity are Annex A's lettered labels; the age is whole years
on the assessment's start (on the inspection date where there is none), -1 (or blank, if asked)
for a child not yet born then. The rules and their sources: docs/exports.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal

from aggregates.calendar import add_months
from ehqa.exports.facts import EpisodeFacts
from ehqa.exports.personal import NONE, Personal

HEADER = (
    "Child Unique ID", "Gender", "Ethnicity", "Date of Birth", "Age of Child (Years)",
    "Assessment start date", "Assessment completion date", "Organisation completing assessment",
)  # fmt: skip
GENDER = {"male": "a) Male", "female": "b) Female", "not_known": "c) Not stated/recorded",
          "not_specified": "c) Not stated/recorded"}  # fmt: skip
ETHNICITY = {
    code: f"{letter}) {code}"
    for letter, code in zip(
        "abcdefghijklmnopqrst",
        ("WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN",
         "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"),
        strict=True,
    )
}  # fmt: skip
UnbornAge = Literal["-1", "blank"]


def window_start(inspection: date) -> date:
    """The first day of the six months before the inspection date (the same day of the month
    six months earlier, clamped to the month's end)."""
    return add_months(inspection, -6)


def included(item: EpisodeFacts, inspection: date) -> bool:
    started = item.assessment_started_on
    recent = started is not None and window_start(inspection) <= started <= inspection
    return recent or item.is_open()


def dmy(day: date | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


def age_on(person: Personal, pre_birth: bool, day: date, unborn: UnbornAge) -> int | None:
    """Whole years on `day`; for a child not born by then, -1 (or None for "blank")."""
    born = person.date_of_birth
    if (born is None and (person.expected_date_of_birth is not None or pre_birth)) or (
        born is not None and born > day
    ):
        return -1 if unborn == "-1" else None
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def rows(
    facts: list[EpisodeFacts], people: dict[str, Personal], inspection: date,
    unborn: UnbornAge = "-1",
) -> Iterator[tuple[str | int | None, ...]]:  # fmt: skip
    chosen = [item for item in facts if included(item, inspection)]
    chosen.sort(key=lambda i: (i.assessment_started_on or i.opened_on, i.reference))
    for item in chosen:
        person = people.get(item.child, NONE)
        started = item.assessment_started_on
        born = person.date_of_birth
        lead = item.lead_on(item.assessed_on or inspection)
        yield (
            item.child,
            GENDER.get(person.gender or "", "" if person.gender is None else person.gender),
            ETHNICITY.get(person.ethnicity or "", person.ethnicity or ""),
            dmy(born if born is not None and born <= inspection else None),
            age_on(person, item.pre_birth, started or inspection, unborn),
            dmy(started),
            dmy(item.assessed_on),
            lead.get("agency", ""),
        )
