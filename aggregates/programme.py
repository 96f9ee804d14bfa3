"""The audit programme: who audits how many records, of which kind, and which records.

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


class AuditKind(StrEnum):
    DETAILED = "detailed"
    BRIEF = "brief"
    ONE_TO_ONE = "one_to_one"


@dataclass(frozen=True)
class Quota:
    per_month: float
    per_worker: bool = False  # brief audits: so many for each worker in the manager's team


QUOTAS: dict[AuditorRole, dict[AuditKind, Quota]] = {
    # partnership co-ordinators: 2 audits a month plus 1 one-to-one
    AuditorRole.PARTNERSHIP_COORDINATOR: {
        AuditKind.DETAILED: Quota(2),
        AuditKind.ONE_TO_ONE: Quota(1),
    },
    # early help team managers: 2 detailed audits a month and 2 brief audits per worker a month
    AuditorRole.TEAM_MANAGER: {
        AuditKind.DETAILED: Quota(2),
        AuditKind.BRIEF: Quota(2, per_worker=True),
    },
    # the service manager: 6 a year
    AuditorRole.SERVICE_MANAGER: {AuditKind.DETAILED: Quota(0.5)},
}


@dataclass(frozen=True)
class Auditor:
    name: str
    role: AuditorRole
    workers: int = 0


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
    kind: AuditKind
    expected: float
    completed: int

    @property
    def behind(self) -> float:
        return max(self.expected - self.completed, 0)


def standings(
    auditors: Sequence[Auditor], completed: Mapping[tuple[str, AuditKind], int], months: int
) -> list[Standing]:
    """Each auditor against each of their quotas over `months` months, the furthest behind first."""
    found = []
    for auditor in auditors:
        for kind, quota in QUOTAS[auditor.role].items():
            expected = quota.per_month * months * (auditor.workers if quota.per_worker else 1)
            found.append(
                Standing(
                    auditor.name,
                    auditor.role,
                    kind,
                    expected,
                    completed.get((auditor.name, kind), 0),
                )
            )
    return sorted(found, key=lambda s: (-s.behind, s.auditor, s.kind.value))
