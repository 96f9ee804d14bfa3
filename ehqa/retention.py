"""`ehqa retention due`: the children whose personal fields are due for erasure, and why.

Each child's rules are those of the policy of their latest episode (by opening date); the dates
come from the views (which episode is open, when each closed) and from the child's own record
(the date of birth). Erased children are not listed: there is nothing left to erase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aggregates.retention import due_for_erasure
from ehqa.services import Services


@dataclass(frozen=True)
class RetentionDue:
    child: str
    due_on: date
    rule: str
    policy: str
    last_closed: date

    def as_json(self) -> dict[str, Any]:
        return {"child": self.child, "due_on": self.due_on.isoformat(), "rule": self.rule,
                "policy": self.policy, "last_closed": self.last_closed.isoformat()}  # fmt: skip


Episode = tuple[date, str, str, date | None]  # opened on, reference, policy, closed on


def _episodes(services: Services) -> dict[str, list[Episode]]:
    """Every child's episodes, from the views."""
    found: dict[str, list[Episode]] = {}
    for child, reference, opened, policy, closed in services.views.query(
        "SELECT child, reference, opened_on, policy, closed_on FROM ehqa_episodes"
    ):
        found.setdefault(child, []).append(
            (_day(opened), reference, policy, _day(closed) if closed else None)
        )
    return found


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def due(services: Services, as_at: date) -> list[RetentionDue]:
    """The children due for erasure as at `as_at`, earliest due first (from the views as they
    stand: the caller has them current)."""
    episodes = _episodes(services)
    details = services.children_details(sorted(episodes))
    listed = []
    for child, had in sorted(episodes.items()):
        record = details.get(child)
        if record is not None and record.erased:
            continue
        open_one = next((e[1] for e in had if e[3] is None), None)
        closed = max((e[3] for e in had if e[3] is not None), default=None)
        policy = max(had)[2]
        born = record and (record.date_of_birth or record.expected_date_of_birth)
        rules = services.app.policy(policy).retention
        found = due_for_erasure(rules, open_one, closed, born or None, as_at)
        if found.due and found.due_on is not None and closed is not None:
            listed.append(RetentionDue(child, found.due_on, found.rule, policy, closed))
    return sorted(listed, key=lambda d: (d.due_on, d.child))
