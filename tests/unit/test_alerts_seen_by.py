"""aggregates.access.alerts_seen_by: the one rule the API, the episode page and the chronology
use for whose alerts a caller sees."""

from __future__ import annotations

import pytest

from aggregates.access import AUTHORITY_WIDE, Principal, Role, alerts_seen_by


@pytest.mark.parametrize("role", sorted(AUTHORITY_WIDE))
def test_an_authority_wide_role_sees_every_alert(role: Role) -> None:
    assert alerts_seen_by(Principal("Co", role, None, "token:co")) is None


@pytest.mark.parametrize("role", [Role.LEAD_PROFESSIONAL, Role.PRACTITIONER])
def test_an_agency_caller_sees_only_alerts_addressed_to_their_subject_not_their_name(
    role: Role,
) -> None:
    jo = Principal("Jo Bright", role, "primary_school", "https://idp.example#jo-1")
    namesake = Principal("Jo Bright", role, "primary_school", "https://idp.example#jo-2")
    assert alerts_seen_by(jo) == "https://idp.example#jo-1"
    assert alerts_seen_by(namesake) != alerts_seen_by(jo)
