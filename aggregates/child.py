"""The child's record: personal fields, kept sealed, and their erasure.

The personal fields (name, date of birth or expected date of birth, gender, ethnicity, postcode)
reach the domain already sealed, each one encrypted with a data key of that child's own by the
application; the domain holds which fields are recorded, never their values, so it can refuse a
change to an erased record without ever seeing a name. Erasing destroys that key (the
application's job) and records that it was done, by whom, why and on what date: the child's
episodes, clocks and audits stay, keyed by the child's identifier alone.

Gender and ethnicity are the children-in-need census codes.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from uuid import UUID, uuid5

from eventsourcing.domain import event

from aggregates.authored import Authored
from aggregates.errors import DateError, DomainError, InvalidCommandError
from aggregates.ids import NAMESPACE

FIELDS = ("name", "date_of_birth", "expected_date_of_birth", "gender", "ethnicity", "postcode")


class Gender(StrEnum):
    """The census's gender: 1 male, 2 female, 0 not known, 9 not specified (indeterminate)."""

    MALE = "male"
    FEMALE = "female"
    NOT_KNOWN = "not_known"
    NOT_SPECIFIED = "not_specified"

    @property
    def census_code(self) -> str:
        return {"male": "1", "female": "2", "not_known": "0", "not_specified": "9"}[self.value]


class Ethnicity(StrEnum):
    """The children-in-need census's ethnicity codes."""

    WBRI = "WBRI"  # White British
    WIRI = "WIRI"  # White Irish
    WIRT = "WIRT"  # Traveller of Irish heritage
    WOTH = "WOTH"  # Any other White background
    WROM = "WROM"  # Gypsy/Roma
    MWBC = "MWBC"  # White and Black Caribbean
    MWBA = "MWBA"  # White and Black African
    MWAS = "MWAS"  # White and Asian
    MOTH = "MOTH"  # Any other mixed background
    AIND = "AIND"  # Indian
    APKN = "APKN"  # Pakistani
    ABAN = "ABAN"  # Bangladeshi
    AOTH = "AOTH"  # Any other Asian background
    BCRB = "BCRB"  # Caribbean
    BAFR = "BAFR"  # African
    BOTH = "BOTH"  # Any other Black background
    CHNE = "CHNE"  # Chinese
    OOTH = "OOTH"  # Any other ethnic group
    REFU = "REFU"  # Refused
    NOBT = "NOBT"  # Information not yet obtained


class ChildErasedError(DomainError):
    """The child's personal fields were erased: nothing personal may be recorded again."""

    def __init__(self, child: str, on: date) -> None:
        super().__init__(
            f"child {child}'s personal record was erased on {on}: nothing personal can be"
            " recorded for them again (their episodes may still be recorded)"
        )


def child_id(child: str) -> UUID:
    return uuid5(NAMESPACE, f"child-details:{child}")


class Child(Authored):
    """One child's personal fields, sealed (field -> ciphertext), and whether they were erased."""

    @staticmethod
    def create_id(child: str) -> UUID:
        return child_id(child)

    @event("Registered")
    def __init__(self, child: str, author: str | None = None) -> None:
        self.child = child
        self.sealed: dict[str, str] = {}
        self.erased_on: date | None = None
        self.erasure_reason: str | None = None

    @property
    def erased(self) -> bool:
        return self.erased_on is not None

    def record_details(
        self, sealed: dict[str, str], cleared: list[str], on: date, today: date
    ) -> None:
        """Record (or correct) some personal fields; `cleared` are fields this one replaces
        (a date of birth replaces the expected one)."""
        if self.erased_on is not None:
            raise ChildErasedError(self.child, self.erased_on)
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        unknown = sorted(set(sealed) - set(FIELDS)) + sorted(set(cleared) - set(FIELDS))
        if unknown:
            raise InvalidCommandError(
                f"unknown personal field '{unknown[0]}' (fields: {', '.join(FIELDS)})"
            )
        if not sealed:
            raise InvalidCommandError(f"give at least one personal field ({', '.join(FIELDS)})")
        self._details_recorded(
            sealed=dict(sorted(sealed.items())), cleared=sorted(set(cleared) - set(sealed)), on=on
        )

    @event("DetailsRecorded")
    def _details_recorded(
        self, sealed: dict[str, str], cleared: list[str], on: date, author: str | None = None
    ) -> None:
        for name in cleared:
            self.sealed.pop(name, None)
        self.sealed.update(sealed)

    def erase(self, reason: str, on: date, today: date) -> None:
        """Record that the child's data key was destroyed (the application destroys it)."""
        if self.erased_on is not None:
            raise ChildErasedError(self.child, self.erased_on)
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        if not reason.strip():
            raise InvalidCommandError("an erasure needs its reason")
        self._erased(reason=reason, on=on)

    @event("Erased")
    def _erased(self, reason: str, on: date, author: str | None = None) -> None:
        self.erased_on = on
        self.erasure_reason = reason
        self.sealed = {}
