"""The request bodies and the answers of the HTTP API.

A command's body is made from its import-format model (ehqa.commands) without `cmd` and
`episode` (the route names both), so the import and the API check a command alike.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model

from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.episode import Origin
from aggregates.schemes import SchemeName
from ehqa import bounds
from ehqa import commands as cmd
from projections.queries import BoardRow

# ---- answers ------------------------------------------------------------------------------------


class LeadOut(BaseModel):
    name: str
    agency: str
    subject: str | None = None


class EpisodeOut(BaseModel):
    episode: str
    child: str
    state: str
    lead: LeadOut | None
    policy: str
    origin: str
    pre_birth: bool
    opened_on: date
    consent_agencies: list[str]
    closed_on: date | None
    closed_reason: str | None
    closure_summary: str | None
    version: int


class ClockOut(BaseModel):
    episode: str
    clock: str
    occurrence: int
    started_on: date
    due_on: date
    stopped_on: date | None
    status: str
    working_days_late: int
    exception: str | None
    lead: str | None = None
    agency: str | None = None
    policy: str | None = None


def clock_json(row: BoardRow, board: bool = False) -> dict[str, Any]:
    """A clock as a ClockOut (with its lead, agency and policy on the boards)."""
    e = row.entry
    found = {
        "episode": row.episode, "clock": e.clock.value, "occurrence": e.occurrence,
        "started_on": e.started_on, "due_on": e.due_on, "stopped_on": e.stopped_on,
        "status": e.status.value, "working_days_late": e.working_days_late, "exception": e.exception,
    }  # fmt: skip
    if board:
        found |= {"lead": row.lead_name, "agency": row.lead_agency, "policy": row.policy}
    return found


class TimelineItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    on: date
    event: str
    recorded_at: str | None = None
    label: str | None = None


class WorstClock(BaseModel):
    episode: str
    clock: str
    due_on: date
    working_days_late: int


class CaseloadOut(BaseModel):
    lead: str | None = None
    agency: str | None
    lead_professionals: int | None = None
    open_episodes: int
    overdue_clocks: int
    worst: WorstClock | None


class AlertOut(BaseModel):
    id: str
    episode: str
    clock: str
    occurrence: int
    rung: str
    fell_due_on: date
    raised_on: date
    recipients: list[str]
    acknowledged_by: str | None
    acknowledged_on: date | None
    cleared_on: date | None
    lead: str | None
    agency: str | None


class AccessOut(BaseModel):
    at: str
    subject: str | None
    who: str
    role: str
    agency: str | None
    action: str
    episode: str | None


class AuditOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    audit: str
    episode: str
    scheme: str
    auditor: str
    grade: str | None


class Health(BaseModel):
    status: str
    views: dict[str, int] = Field(default_factory=dict)


class Ready(Health):
    dead_letters: dict[str, int] = Field(default_factory=dict)  # events each view skipped


# ---- episodes and their commands --------------------------------------------------------------


class OpenBody(BaseModel):
    """Open an episode: the fields of the `open` import command."""

    model_config = ConfigDict(extra="forbid")
    episode: bounds.PathReference
    on: date
    child: bounds.Reference
    lead: cmd.Lead
    origin: Origin = Origin.REFERRAL
    pre_birth: bool = False
    recent_social_care_assessment: bool = False
    policy: bounds.Code | None = None


def _body_model(command: type[cmd._Command]) -> type[BaseModel]:
    """The request body of a command: its fields without `cmd` and `episode`."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in command.model_fields.items()
        if name not in ("cmd", "episode")
    }
    return create_model(f"{command.__name__}Body", __config__=ConfigDict(extra="forbid"), **fields)


COMMANDS: dict[str, type[cmd._Command]] = {
    model.model_fields["cmd"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        cmd.RecordConsent, cmd.WithholdConsent, cmd.WithdrawConsent, cmd.FinaliseAssessment,
        cmd.DecideFam, cmd.HoldFam, cmd.AgreeSingleAgencyPlan, cmd.CirculatePlan, cmd.HoldReview,
        cmd.SeeChild, cmd.ChangeLead, cmd.StartGcp2, cmd.CompleteGcp2, cmd.RecordException,
        cmd.StepUp, cmd.RecordMashOutcome, cmd.Close, cmd.RecordFeedback, cmd.RequestPanel,
        cmd.RecordPanelOutcome, cmd.RecordPanelReview, cmd.RecordNeeds, cmd.RecordOutcomes,
        cmd.RecordSustainedCheck,
    )
}  # fmt: skip
BODIES: dict[str, type[BaseModel]] = {name: _body_model(model) for name, model in COMMANDS.items()}


# ---- audits -------------------------------------------------------------------------------------


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: bounds.PathReference
    episode: bounds.Reference
    scheme: SchemeName
    auditor: bounds.Name | None = Field(default=None, description="Default: the caller.")
    auditor_subject: bounds.Subject | None = Field(
        default=None,
        description="The auditor's sign-in subject (default: the caller's, when `auditor` is"
        " not given). Only that subject may work on the audit as an auditor.",
    )
    reason: bounds.FreeText = ""
    kind: Literal["detailed", "brief", "one_to_one"] = "detailed"
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")
    value: int | Annotated[str, Field(min_length=1, max_length=40)]
    evidence: bounds.RequiredText
    override_reason: bounds.FreeText = ""
    action: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: Literal["Outstanding", "Good", "Requires Improvement", "Inadequate"] | None = None
    reason: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=r"^[0-9]{1,4}$")
    who: bounds.Name
    what: bounds.RequiredText
    due_on: date | None = Field(
        default=None, ge=FIRST_DAY, le=LAST_DAY, description="Default: 10 working days."
    )
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ConcernBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: bounds.RequiredText
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class FlagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["childs_voice_absent", "safeguarding_not_considered"]
    value: StrictBool = True
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class OnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class DiscussionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker: bounds.Name
    manager: bounds.Name
    notes: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)
