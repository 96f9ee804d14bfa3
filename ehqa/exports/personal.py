"""The children's personal fields the lists need (gender, ethnicity, date of birth or expected
date of birth), read through the child's record (`Services.children_details`); a child whose
record holds none, or was erased, has them blank."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ehqa.services import Services


@dataclass(frozen=True)
class Personal:
    gender: str | None = None  # the census's gender: male, female, not_known, not_specified
    ethnicity: str | None = None  # the census's code, e.g. WBRI
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None


NONE = Personal()


def personal_fields(services: Services, children: Iterable[str]) -> dict[str, Personal]:
    """Each child's personal fields (children with none, or erased, are left out)."""
    found = services.children_details(sorted(set(children)))
    return {
        child: Personal(
            None if d.gender is None else d.gender.value,
            None if d.ethnicity is None else d.ethnicity.value,
            d.date_of_birth,
            d.expected_date_of_birth,
        )
        for child, d in found.items()
        if d is not None and not d.erased
    }
