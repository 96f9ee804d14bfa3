"""The child's personal fields: recorded at opening or later, and corrected the same way.

One command, `record_child_details`: the child's identifier (the key, never changed) and the
fields to record or correct; a field left out keeps its value. A date of birth replaces an
expected date of birth (the child is born), and an expected date replaces a date of birth.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from eventsourcing.persistence import Tracking
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.child import Child, Ethnicity, Gender
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.bounds import Name, Reference
from ehqa.children import record_details

# The UK postcode's shape (outward code, space, inward code), and the one exception, GIR 0AA.
POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][ABD-HJLNP-UW-Z]{2})|(GIR) ?(0AA)")
UNBORN_AHEAD = timedelta(days=300)  # an expected date of birth at most this far ahead


def _postcode(value: str) -> str:
    found = POSTCODE.fullmatch(value.strip().upper())
    if found is None:
        raise ValueError("not a UK postcode (e.g. WA10 1AB)")
    outward, inward = (part for part in found.groups() if part)
    return f"{outward} {inward}"


Postcode = Annotated[
    str,
    Field(min_length=5, max_length=10, description="A UK postcode, e.g. WA10 1AB."),
    AfterValidator(_postcode),
]
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
Birthday = Annotated[
    date, Field(ge=date(1900, 1, 1), le=LAST_DAY)
]  # (before the first business day)


class RecordChildDetails(BaseModel):
    """The child's personal fields (name, date of birth or expected date of birth, gender,
    ethnicity, postcode): record them, or correct one; each is kept encrypted with a key of the
    child's own, destroyed when the child is erased."""

    model_config = ConfigDict(extra="forbid")
    cmd: Literal["record_child_details"]
    child: Reference
    on: Day
    name: Name | None = Field(default=None, description="The child's name.")
    date_of_birth: Birthday | None = Field(default=None, description="Not after the date recorded.")
    expected_date_of_birth: Day | None = Field(
        default=None, description="An unborn child's: at most 300 days after the date recorded."
    )
    gender: Gender | None = Field(default=None, description="As the census records it.")
    ethnicity: Ethnicity | None = Field(
        default=None,
        description="The children-in-need census code (REFU refused, NOBT not yet obtained).",
    )
    postcode: Postcode | None = Field(default=None, description="The child's address postcode.")

    @model_validator(mode="after")
    def _dates(self) -> RecordChildDetails:
        if self.date_of_birth is not None and self.expected_date_of_birth is not None:
            raise ValueError("give a date of birth or an expected date of birth, not both")
        if self.date_of_birth is not None and self.date_of_birth > self.on:
            raise ValueError(f"date_of_birth {self.date_of_birth} is after the date recorded")
        edd = self.expected_date_of_birth
        if edd is not None and edd > self.on + UNBORN_AHEAD:
            raise ValueError(
                f"expected_date_of_birth {edd} is more than 300 days after the date recorded"
            )
        if not self.fields():
            raise ValueError(
                "give at least one of name, date_of_birth, expected_date_of_birth, gender,"
                " ethnicity, postcode"
            )
        return self

    def fields(self) -> dict[str, str]:
        """The personal fields given, each as text (dates ISO, choices their code)."""
        given: dict[str, Any] = self.model_dump(
            mode="json", exclude={"cmd", "child", "on"}, exclude_none=True
        )
        return {name: str(value) for name, value in given.items()}

    @property
    def episode(self) -> None:
        """(No episode: the record is the child's, whatever episodes they have.)"""
        return None

    def apply(
        self,
        app: EhqaApplication,
        *,
        by: str | None = None,
        tracking: Tracking | None = None,
        rehearsal: Rehearsal | None = None,
    ) -> Child:
        return record_details(
            app, self.child, self.fields(), self.on, by=by, tracking=tracking, rehearsal=rehearsal
        )
