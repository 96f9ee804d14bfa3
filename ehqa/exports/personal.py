"""The children's personal fields the lists need (gender, ethnicity, date of birth or expected
date of birth), read through the child's record (`Services.children_details`); a child whose
record holds none, or was erased, has them blank."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ehqa.services import Services


@dataclass(frozen=True)
class Personal:
    gender: str | None = None
    ethnicity: str | None = None
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None


NONE = Personal()


def personal_fields(services: Services, children: Iterable[str]) -> dict[str, Personal]:
    """Each child's personal fields (children without any are left out)."""
    wanted = sorted(set(children))
    lookup: Any = getattr(services, "children_details", None)
    if lookup is None or not wanted:
        return {}
    found = lookup(wanted)
    details = found.values() if isinstance(found, dict) else found
    return {
        d.child_id: Personal(
            None if d.gender is None else str(getattr(d.gender, "value", d.gender)),
            None if d.ethnicity is None else str(getattr(d.ethnicity, "value", d.ethnicity)),
            d.date_of_birth,
            d.expected_date_of_birth,
        )
        for d in details
        if d is not None and not d.erased
    }
