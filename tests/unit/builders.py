"""Episodes built in memory through the real commands, for the domain's unit tests."""

from __future__ import annotations

from datetime import date

from aggregates.calendar import england_and_wales
from aggregates.clocks import ClockEntry, schedule
from aggregates.episode import Episode, Origin
from aggregates.policy import Policy
from ehqa.policies import PolicyBook

TODAY = date(2026, 1, 15)
CAL = england_and_wales()
BOOK = PolicyBook()


def opened(on: date = date(2024, 1, 2), **options: object) -> Episode:
    return Episode.open(
        reference=str(options.pop("reference", "EH-1")),
        child=str(options.pop("child", "C-1")),
        lead_name="Jo Bright",
        lead_agency="primary_school",
        on=on,
        today=TODAY,
        policy=str(options.pop("policy", "st-helens")),
        origin=Origin(str(options.pop("origin", "referral"))),
        **options,  # type: ignore[arg-type]
    )


def consented(on: date = date(2024, 1, 3), **options: object) -> Episode:
    episode = opened(**options)
    episode.record_consent(["primary_school", "health_visiting"], on, TODAY)
    return episode


def with_fam(held: date, decided: date = date(2024, 1, 10)) -> Episode:
    episode = consented()
    episode.finalise_assessment(date(2024, 1, 9), TODAY)
    episode.decide_fam(decided, TODAY)
    episode.hold_fam(held, TODAY)
    return episode


def policy(name: str = "st-helens") -> Policy:
    return BOOK.get(name)


def clocks(episode: Episode, as_at: date = TODAY, name: str | None = None) -> list[ClockEntry]:
    entries = schedule(episode.facts, policy(name or episode.policy), CAL, as_at)
    return entries


def clock(
    episode: Episode, clock_name: str, occurrence: int = 1, as_at: date = TODAY
) -> ClockEntry:
    matching = [
        e
        for e in clocks(episode, as_at)
        if e.clock.value == clock_name and e.occurrence == occurrence
    ]
    assert matching, f"no {clock_name} clock #{occurrence}"
    return matching[0]
