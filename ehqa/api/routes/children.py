"""The child's record: record or correct their personal fields, read them, erase them.

Who may: a caller who may record on (read) any of the child's episodes may record (read) the
child's record; co-ordinators and admins may record for any child, and authority-wide roles
read any child's record (one with no episode yet included); only an admin erases. A caller who
may not read any of the child's episodes gets the same 404 as for an unknown child.
The answer to recording names the fields recorded, never their values (answers may be kept
for Idempotency-Key replays; personal values are kept only sealed).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from aggregates.access import AUTHORITY_WIDE, Principal, Role, may_read, may_record
from aggregates.calendar import FIRST_DAY, LAST_DAY
from ehqa import bounds
from ehqa.api.core import Api, check
from ehqa.api.deps import ApiDep, AsAt, Caller
from ehqa.api.errors import Refused, responses
from ehqa.children import episodes_of, erase
from ehqa.commands.child import RecordChildDetails
from ehqa.retention import due

router = APIRouter(tags=["children"])
Child = Annotated[str, bounds.Reference]

# The body: the import's model without `cmd` and `child` (the route names both).
DetailsBody: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "RecordChildDetailsBody",
    __config__=ConfigDict(extra="forbid"),
    __doc__=RecordChildDetails.__doc__,
    **{
        name: (field.annotation, field)
        for name, field in RecordChildDetails.model_fields.items()
        if name not in ("cmd", "child")
    },
)


class ChildOut(BaseModel):
    child: str
    name: str | None
    date_of_birth: date | None
    expected_date_of_birth: date | None
    gender: str | None
    ethnicity: str | None
    postcode: str | None
    erased: bool


class RecordedOut(BaseModel):
    child: str
    recorded: list[str] = Field(description="The fields recorded (their values are not echoed).")


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: bounds.RequiredText
    on: date | None = Field(default=None, ge=FIRST_DAY, le=LAST_DAY, description="Default today.")


def _allowed(api: Api, who: Principal, child: str, recording: bool) -> None:
    """Refuse a caller who may not read (record on) any of the child's episodes."""
    api.current()
    if recording and who.role in (Role.COORDINATOR, Role.ADMIN):
        return
    episodes = episodes_of(api.services.views, child)
    if not recording and who.role in AUTHORITY_WIDE:  # (they may read every child's record,
        if episodes or api.services.child_details(child) is not None:  # one recorded for a
            return  # child with no episode yet included)
        raise Refused(404, "Not Found", f"no child {child}")
    views = [api.services.read.episode(ref) for ref in episodes]
    decide = may_record if recording else may_read
    agencies = [((v["lead"] or {}).get("agency"), v["consent_agencies"]) for v in views if v]
    if not any(may_read(who, lead, consent).allowed for lead, consent in agencies):
        raise Refused(404, "Not Found", f"no child {child}")
    if not any(decide(who, lead, consent).allowed for lead, consent in agencies):
        check(decide(who, *agencies[0]))


@router.post("/children/{child}/record_child_details", response_model=RecordedOut,
             operation_id="record_child_details", responses=responses(400, 401, 403, 404, 409, 413, 422))  # fmt: skip
def record(child: Child, body: DetailsBody, who: Caller, api: ApiDep) -> Any:  # type: ignore[valid-type]
    """Record or correct the child's personal fields (see the import's
    `record_child_details`); each is kept encrypted with a key of the child's own."""
    data = body.model_dump(mode="json")  # type: ignore[attr-defined]
    try:  # (the model's own checks across fields: one date of birth, not in the future, ...)
        command = RecordChildDetails(cmd="record_child_details", child=child, **data)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None
    with api.lock:
        _allowed(api, who, child, recording=True)
        command.apply(api.services.app, by=who.subject)
        api.access.record(who, f"record record_child_details {child}")
    return {"child": child, "recorded": sorted(command.fields())}


@router.get("/children/{child}", response_model=ChildOut, operation_id="get_child",
            responses=responses(400, 401, 404, 422))  # fmt: skip
def read(child: Child, who: Caller, api: ApiDep) -> Any:
    """The child's personal fields as recorded (all null, and `erased`, once erased)."""
    api.current()
    _allowed(api, who, child, recording=False)
    found = api.services.child_details(child)
    api.logged(who, f"child {child}")
    if found is None:
        return {"child": child, "name": None, "date_of_birth": None, "erased": False,
                "expected_date_of_birth": None, "gender": None, "ethnicity": None,
                "postcode": None}  # fmt: skip
    return found.as_json()


@router.post("/children/{child}/erase", response_model=ChildOut, operation_id="erase_child",
             responses=responses(400, 401, 403, 404, 409, 422))  # fmt: skip
def erase_child(child: Child, who: Caller, api: ApiDep, body: Annotated[EraseBody, Body()]) -> Any:
    """Erase the child's personal fields (admins only): their key is destroyed, the erasure
    recorded; their episodes, clocks and audits stay, keyed by the identifier."""
    if who.role is not Role.ADMIN:
        raise Refused(403, "Forbidden", "only an admin erases a child's record")
    with api.lock:
        erase(api.services.app, child, body.reason, body.on or api.services.app.clock(),
              by=who.subject)  # fmt: skip
        api.access.record(who, f"erase {child}")
        found = api.services.child_details(child)
    assert found is not None
    return found.as_json()


class RetentionDueOut(BaseModel):
    child: str
    due_on: date
    rule: str
    policy: str
    last_closed: date


@router.get("/retention/due", response_model=list[RetentionDueOut], operation_id="retention_due",
            responses=responses(400, 401, 403, 422))  # fmt: skip
def retention_due(who: Caller, api: ApiDep, as_at: AsAt = None) -> Any:
    """The children due for erasure under their policy's retention rules (authority-wide
    roles), with the rule that makes each due."""
    with api.authority_read(who, "retention due"):
        return [row.as_json() for row in due(api.services, as_at or api.services.app.clock())]
