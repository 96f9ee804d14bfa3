"""The child's record: personal fields sealed with the child's own key, read back, and erased.

`record_details` seals each field given with the child's data key (ehqa.keys) and records the
sealed values on the child's `Child` aggregate; `details` and `many` open them again (a field
whose key was destroyed reads as None); `erase` destroys the key, then records the erasure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, Tracking

from aggregates.child import Child, ChildErasedError, Ethnicity, Gender, child_id
from aggregates.episode import child_record_id
from aggregates.errors import InvalidCommandError
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.errors import ConflictError
from ehqa.keys import ChildKeys, KeyDestroyedError, seal, unseal
from projections.db import ViewDatabase

ERASE_ATTEMPTS = 5  # an erasure meeting concurrent recordings of the child: read again, at most


class ChildConflictError(ConflictError):
    def __init__(self, child: str) -> None:
        super().__init__(child)
        self.args = (
            f"child {child}'s record was changed by someone else at the same time; nothing was"
            " recorded: read it again and retry",
        )


@dataclass(frozen=True)
class ChildDetails:
    """A child's personal fields as recorded (None where unknown, or erased)."""

    child_id: str
    name: str | None = None
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None
    gender: Gender | None = None
    ethnicity: Ethnicity | None = None
    postcode: str | None = None
    erased: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "child": self.child_id,
            "name": self.name,
            "date_of_birth": self.date_of_birth and self.date_of_birth.isoformat(),
            "expected_date_of_birth": self.expected_date_of_birth
            and self.expected_date_of_birth.isoformat(),
            "gender": self.gender and self.gender.value,
            "ethnicity": self.ethnicity and self.ethnicity.value,
            "postcode": self.postcode,
            "erased": self.erased,
        }


def keys_of(app: EhqaApplication) -> ChildKeys:
    keys: ChildKeys | None = app.child_keys
    if keys is None:
        raise RuntimeError("the application has no child keys (open it through Services)")
    return keys


def _load(app: EhqaApplication, child: str, rehearsal: Rehearsal | None = None) -> Child | None:
    try:
        found: Child = app._load(child_id(child), rehearsal)
    except AggregateNotFoundError:
        return None
    return found


def _commit(app: EhqaApplication, child: Child, tracking: Tracking | None,
            rehearsal: Rehearsal | None) -> None:  # fmt: skip
    if rehearsal is not None:
        child.collect_events()
        rehearsal.aggregates[child.id] = child
        return
    try:
        app.save(child, tracking=tracking)
    except IntegrityError:
        raise ChildConflictError(child.child) from None


def record_details(
    app: EhqaApplication,
    child: str,
    fields: dict[str, str],
    on: date,
    *,
    by: str | None = None,
    tracking: Tracking | None = None,
    rehearsal: Rehearsal | None = None,
) -> Child:
    """Record (or correct) the fields given (name -> text); a date of birth replaces an
    expected one and the other way round. Rehearsing, no key is made and nothing is saved."""
    record = _load(app, child, rehearsal) or Child(child, author=by)
    record.recorded_by(by)
    if record.erased_on is not None:  # (refused before a key is made for them again)
        raise ChildErasedError(child, record.erased_on)
    try:
        key = os.urandom(32) if rehearsal is not None else keys_of(app).key(child)
    except KeyDestroyedError:  # erased by another process since the record was read
        raise ChildConflictError(child) from None
    sealed = {name: seal(key, child, name, value) for name, value in fields.items()}
    pairs = [
        ("date_of_birth", "expected_date_of_birth"),
        ("expected_date_of_birth", "date_of_birth"),
    ]
    cleared = [other for given, other in pairs if given in fields]
    record.record_details(sealed, cleared, on, app.clock())
    _commit(app, record, tracking, rehearsal)
    return record


def _opened(record: Child, key: bytes | None) -> ChildDetails:
    if record.erased or key is None:
        return ChildDetails(record.child, erased=record.erased)
    values = {
        name: unseal(key, record.child, name, sealed) for name, sealed in record.sealed.items()
    }

    def day(name: str) -> date | None:
        value = values.get(name)
        return date.fromisoformat(value) if value else None

    gender, ethnicity = values.get("gender"), values.get("ethnicity")
    return ChildDetails(
        record.child,
        name=values.get("name"),
        date_of_birth=day("date_of_birth"),
        expected_date_of_birth=day("expected_date_of_birth"),
        gender=Gender(gender) if gender else None,
        ethnicity=Ethnicity(ethnicity) if ethnicity else None,
        postcode=values.get("postcode"),
    )


def details(app: EhqaApplication, child: str) -> ChildDetails | None:
    """The child's personal fields; None if none was ever recorded or erased."""
    record = _load(app, child)
    if record is None:
        return None
    return _opened(record, None if record.erased else keys_of(app).find(child))


def many(app: EhqaApplication, children: Iterable[str]) -> dict[str, ChildDetails | None]:
    """`details` of each child, by child identifier (the keys read in one pass)."""
    wanted = list(dict.fromkeys(children))
    records = {child: _load(app, child) for child in wanted}
    keys = keys_of(app).found(child for child, record in records.items() if record is not None)
    return {
        child: None if record is None else _opened(record, keys.get(child))
        for child, record in records.items()
    }


def erase(app: EhqaApplication, child: str, reason: str, on: date, *, by: str | None) -> Child:
    """Destroy the child's data key, then record the erasure (by whom, why, on what date). The
    child's episodes and their clocks stay, keyed by the identifier alone."""
    for attempt in range(ERASE_ATTEMPTS):
        record = _load(app, child)
        if record is None:
            if not app._exists(child_record_id(child)):
                raise InvalidCommandError(f"no child {child}: nothing is recorded about them")
            record = Child(child, author=by)
        record.recorded_by(by)
        record.erase(reason, on, app.clock())  # (refused here, before the key is touched)
        keys_of(app).destroy(child)
        try:
            _commit(app, record, None, None)
        except ChildConflictError:
            # A field recorded by another process since the record was read (sealed with the
            # key now destroyed, so unreadable): the key stays destroyed, and the erasure is
            # recorded after it, read again.
            if attempt == ERASE_ATTEMPTS - 1:
                raise
            continue
        return record
    raise AssertionError("unreachable")


def episodes_of(views: ViewDatabase, child: str) -> list[str]:
    """Every episode the child has had (from the children view, caught up by the caller)."""
    rows = views.query(
        "SELECT episodes FROM ehqa_children WHERE record_id = ?", (child_record_id(child).hex,)
    )
    return list(json.loads(rows[0][0])) if rows else []
