"""Who may read and record what: roles, and the family's consent statement.

Consent decides access for the agencies: an agency named in the episode's consent statement may
read and record on it; before consent is recorded, only the referring lead professional's
agency may. Co-ordinators see and work on their authority's episodes; auditors and inspectors
read but never record; inspectors and admins also read who looked at what.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    LEAD_PROFESSIONAL = "lead_professional"
    PRACTITIONER = "practitioner"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    INSPECTOR = "inspector"
    ADMIN = "admin"


AUTHORITY_WIDE = {Role.COORDINATOR, Role.AUDITOR, Role.INSPECTOR, Role.ADMIN}
READ_ONLY = {Role.AUDITOR, Role.INSPECTOR}
AGENCY_ROLES = {Role.LEAD_PROFESSIONAL, Role.PRACTITIONER}


@dataclass(frozen=True)
class Principal:
    """Who is calling. `subject` is the stable identity (an API token's id, or an OIDC issuer
    and `sub`); `name` is only for display: two people may share one."""

    name: str
    role: Role
    agency: str | None = None
    subject: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOWED = Decision(True)


def _agency_may(who: Principal, lead_agency: str | None, consent_agencies: list[str]) -> Decision:
    if who.agency is None:
        return Decision(False, f"a {who.role.value} must belong to an agency")
    if who.agency in consent_agencies:
        return ALLOWED
    if who.role is Role.LEAD_PROFESSIONAL and not consent_agencies and who.agency == lead_agency:
        return ALLOWED  # the referring agency, before the family's consent is recorded
    named = ", ".join(consent_agencies) or "no agency yet"
    return Decision(False, f"{who.agency} is not named in the family's consent ({named})")


def may_read(who: Principal, lead_agency: str | None, consent_agencies: list[str]) -> Decision:
    if who.role in AUTHORITY_WIDE:
        return ALLOWED
    return _agency_may(who, lead_agency, consent_agencies)


def may_record(who: Principal, lead_agency: str | None, consent_agencies: list[str]) -> Decision:
    if who.role in READ_ONLY:
        return Decision(False, f"an {who.role.value} reads the record but changes nothing")
    if who.role in (Role.COORDINATOR, Role.ADMIN):
        return ALLOWED
    return _agency_may(who, lead_agency, consent_agencies)


def may_open(who: Principal, lead_agency: str) -> Decision:
    if who.role in (Role.COORDINATOR, Role.ADMIN):
        return ALLOWED
    if who.role is Role.LEAD_PROFESSIONAL and who.agency == lead_agency:
        return ALLOWED
    if who.role is Role.LEAD_PROFESSIONAL:
        return Decision(
            False, f"a lead professional of {who.agency} opens episodes led by {who.agency}"
        )
    return Decision(False, f"a {who.role.value} cannot open episodes")


def may_see_authority(who: Principal) -> Decision:
    """The drift board, caseloads and every episode's deadlines."""
    if who.role in AUTHORITY_WIDE:
        return ALLOWED
    return Decision(
        False,
        f"a {who.role.value} sees the episodes of their own agency, not the authority's board",
    )


def alerts_seen_by(who: Principal) -> str | None:
    """Whose alerts a caller sees, wherever alerts are shown (the API, the episode page, the
    chronology): every alert (None) for an authority-wide role; an agency caller only those
    addressed to their own sign-in subject."""
    return None if who.role in AUTHORITY_WIDE else who.subject


def may_read_access_log(who: Principal) -> Decision:
    if who.role in (Role.ADMIN, Role.INSPECTOR):
        return ALLOWED
    return Decision(False, "only admins and inspectors read the access log")
