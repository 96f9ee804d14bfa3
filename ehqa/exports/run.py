"""The exports as the command line and the API hand them over: CSV text, HTML text, PDF bytes."""

from __future__ import annotations

from datetime import date, datetime

from ehqa.exports import annex_a, ssd
from ehqa.exports.chronology import chronology, to_html
from ehqa.exports.facts import episode_facts
from ehqa.exports.pdf import to_pdf
from ehqa.exports.personal import personal_fields
from ehqa.exports.table import to_csv
from ehqa.reads import When, reading
from ehqa.services import Services


def annex_a_csv(
    services: Services, inspection: date, known_at: datetime | None = None,
    unborn: annex_a.UnbornAge = "-1",
) -> str:  # fmt: skip
    """Annex A List 2 for an inspection date (as the record stood at `known_at`, if given)."""
    with reading(services, When(inspection, known_at, inspection), timeline=True) as read:
        facts = episode_facts(read, inspection)
    people = personal_fields(services, (item.child for item in facts))
    return to_csv(annex_a.HEADER, annex_a.rows(facts, people, inspection, unborn))


def ssd_csv(services: Services, day: date, known_at: datetime | None = None) -> str:
    """ssd_early_help_episodes as at a date (as the record stood at `known_at`, if given)."""
    with reading(services, When(day, known_at, day), timeline=True) as read:
        facts = episode_facts(read, day)
    return to_csv(ssd.HEADER, ssd.rows(facts, day))


def chronology_html(
    services: Services, reference: str, known_at: datetime | None, today: date,
    audits: bool = True, alerts_to: str | None = None,
) -> str:  # fmt: skip
    return to_html(chronology(services, reference, known_at, today, audits, alerts_to))


def chronology_pdf(
    services: Services, reference: str, known_at: datetime | None, today: date,
    audits: bool = True, alerts_to: str | None = None,
) -> bytes:  # fmt: skip
    return to_pdf(chronology(services, reference, known_at, today, audits, alerts_to))
