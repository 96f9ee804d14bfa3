"""The navigation a signed-in person sees: each page with the roles it is for. A page added
to the service adds its line here (a link is shown only to the roles its page answers)."""

from __future__ import annotations

from dataclasses import dataclass

from aggregates.access import AUTHORITY_WIDE, Principal, Role


@dataclass(frozen=True)
class Link:
    label: str
    path: str
    roles: frozenset[Role]


NAV: list[Link] = [
    Link("My caseload", "/web/caseload", frozenset({Role.LEAD_PROFESSIONAL, Role.PRACTITIONER})),
    Link("Drift board", "/web/drift", frozenset(AUTHORITY_WIDE)),
    Link("Audits", "/web/audits", frozenset(AUTHORITY_WIDE)),
]


def nav_for(who: Principal) -> list[Link]:
    return [link for link in NAV if who.role in link.roles]
