"""The audit programme: who audits how many records, and which records they audit.

Quotas per role follow the St Helens framework; samples are random but reproducible (the same
seed gives the same sample) and weighted by how many agencies are involved in an episode, so
multi-agency records are audited more often.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from aggregates.errors import InvalidCommandError


class AuditorRole(StrEnum):
    PARTNERSHIP_COORDINATOR = "partnership_coordinator"
    TEAM_MANAGER = "team_manager"
    SERVICE_MANAGER = "service_manager"


@dataclass(frozen=True)
class Quota:
    audits_per_month: float
    note: str


QUOTAS = {
    AuditorRole.PARTNERSHIP_COORDINATOR: Quota(2, "2 audits a month, plus 1 one-to-one"),
    AuditorRole.TEAM_MANAGER: Quota(2, "2 detailed audits a month, plus 2 brief audits per worker"),
    AuditorRole.SERVICE_MANAGER: Quota(0.5, "6 audits a year"),
}


def weighted_sample(candidates: Sequence[tuple[str, int]], size: int, seed: int) -> list[str]:
    """`size` references drawn without replacement, each with a chance proportional to its
    weight (the number of agencies involved); the same seed and candidates give the same draw."""
    if size < 0:
        raise InvalidCommandError("a sample size cannot be negative")
    rng = random.Random(seed)
    keyed = sorted(
        ((rng.random() ** (1 / max(weight, 1)), ref) for ref, weight in sorted(candidates)),
        reverse=True,
    )
    return [ref for _, ref in keyed[:size]]


@dataclass(frozen=True)
class Standing:
    auditor: str
    role: AuditorRole
    expected: float
    completed: int

    @property
    def behind(self) -> float:
        return max(self.expected - self.completed, 0)


def standings(
    auditors: Mapping[str, AuditorRole], completed: Mapping[str, int], months: int
) -> list[Standing]:
    """Each auditor against their quota over `months` months, the furthest behind first."""
    found = [
        Standing(name, role, QUOTAS[role].audits_per_month * months, completed.get(name, 0))
        for name, role in auditors.items()
    ]
    return sorted(found, key=lambda s: (-s.behind, s.auditor))
