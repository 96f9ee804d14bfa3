"""The alert ladder: which rungs of a clock occurrence have fallen due, and for whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from aggregates.calendar import WorkingCalendar
from aggregates.policy import ClockName, Escalation


class Rung(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    ESCALATED = "escalated"


LEAD_PROFESSIONAL = "lead professional"

# Who each rung is addressed to, by role: the lead professional is the episode's lead (by
# stable subject); the co-ordinator and team manager are the policy's escalation contacts.
ROLES_BY_RUNG: dict[Rung, tuple[str, ...]] = {
    Rung.DUE_SOON: ("lead_professional",),
    Rung.OVERDUE: ("lead_professional", "coordinator"),
    Rung.ESCALATED: ("lead_professional", "coordinator", "team_manager"),
}
ALERT_ROLES = ("lead_professional", "coordinator", "team_manager")


def alert_id(reference: str, clock: ClockName | str, occurrence: int, rung: Rung | str) -> str:
    """The alert's stable identity: one episode's clock occurrence at one rung."""
    return f"{reference}/{ClockName(clock).value}/{occurrence}/{Rung(rung).value}"


def episode_of_alert(ident: str) -> str:
    """The episode reference an alert id names (references may themselves contain "/")."""
    return ident.rsplit("/", 3)[0]


@dataclass(frozen=True)
class Ladder:
    due_soon_on: date
    overdue_on: date
    escalated_on: date

    def fell_due(self, as_at: date) -> list[tuple[Rung, date]]:
        """The rungs that have fallen due by `as_at`, each with the day it fell due."""
        rungs = [(Rung.DUE_SOON, self.due_soon_on), (Rung.OVERDUE, self.overdue_on),
                 (Rung.ESCALATED, self.escalated_on)]  # fmt: skip
        return [(rung, day) for rung, day in rungs if day <= as_at]

    def next_after(self, raised: set[Rung]) -> tuple[Rung, date] | None:
        for rung, day in ((Rung.DUE_SOON, self.due_soon_on), (Rung.OVERDUE, self.overdue_on),
                          (Rung.ESCALATED, self.escalated_on)):  # fmt: skip
            if rung not in raised:
                return rung, day
        return None


def ladder(due_on: date, escalation: Escalation, calendar: WorkingCalendar) -> Ladder:
    return _ladder(due_on, escalation.due_soon_working_days,
                   escalation.escalate_after_working_days, calendar)  # fmt: skip


@lru_cache(maxsize=65536)
def _ladder(due_on: date, soon: int, escalate_after: int, calendar: WorkingCalendar) -> Ladder:
    return Ladder(
        due_soon_on=calendar.working_days_before(due_on, soon),
        overdue_on=calendar.add_working_days(due_on, 1),
        escalated_on=calendar.add_working_days(due_on, escalate_after),
    )


def recipients(rung: Rung, lead_name: str | None, escalation: Escalation) -> list[str]:
    """Who is told: the lead professional (or, with none, the co-ordinator), then more."""
    lead = lead_name or escalation.coordinator
    people = {
        Rung.DUE_SOON: [lead],
        Rung.OVERDUE: [lead, escalation.coordinator],
        Rung.ESCALATED: [lead, escalation.coordinator, escalation.team_manager],
    }[rung]
    return list(dict.fromkeys(people))
