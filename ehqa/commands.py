"""The import format: one JSON command per line, parsed into typed commands and applied.

Each command model checks the shape of its line (names the field that is wrong); the rules of
the process are the domain's, reached through one application call per command.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from eventsourcing.persistence import Tracking
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from aggregates.episode import ClosureReason, Episode, Origin
from aggregates.feedback import FeedbackPoint, Rating, Respondent
from aggregates.outcomes import Outcome
from aggregates.panel import PanelAsk, PanelOutcome
from aggregates.policy import ClockName
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.bounds import Code, FreeText, Name, Reference, RequiredText, Subject


class Lead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    agency: Name
    subject: Subject | None = Field(
        default=None,
        description="The lead professional's stable identity (their sign-in subject), to"
        " which their alerts are addressed; a display name is never used for that.",
    )


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episode: Reference
    on: date

    def apply(
        self,
        app: EhqaApplication,
        *,
        by: str | None = None,
        tracking: Tracking | None = None,
        rehearsal: Rehearsal | None = None,
    ) -> Episode:
        """Apply the command, recording `by` as the author of its events (with `tracking`, saved
        in the same transaction as its events; with `rehearsal`, checked against the rehearsal's
        aggregates and not saved)."""
        return app.change(self.episode, self.run, by=by, tracking=tracking, rehearsal=rehearsal)

    def run(self, episode: Episode, today: date) -> None:
        raise NotImplementedError  # every concrete command overrides run or apply


class Open(_Command):
    cmd: Literal["open"]
    child: Reference
    lead: Lead
    origin: Origin = Origin.REFERRAL
    pre_birth: bool = False
    recent_social_care_assessment: bool = False
    policy: Code | None = None

    def apply(
        self,
        app: EhqaApplication,
        *,
        by: str | None = None,
        tracking: Tracking | None = None,
        rehearsal: Rehearsal | None = None,
    ) -> Episode:
        return app.open_episode(
            self.episode,
            child=self.child,
            lead_name=self.lead.name,
            lead_agency=self.lead.agency,
            lead_subject=self.lead.subject,
            on=self.on,
            origin=self.origin.value,
            pre_birth=self.pre_birth,
            recent_social_care_assessment=self.recent_social_care_assessment,
            policy=self.policy,
            by=by,
            tracking=tracking,
            rehearsal=rehearsal,
        )


class RecordConsent(_Command):
    cmd: Literal["record_consent"]
    agencies: list[Name] = Field(min_length=1, max_length=100)

    def run(self, episode: Episode, today: date) -> None:
        episode.record_consent(self.agencies, self.on, today)


class WithholdConsent(_Command):
    cmd: Literal["withhold_consent"]
    safeguarding: bool = False

    def run(self, episode: Episode, today: date) -> None:
        episode.withhold_consent(self.on, today, safeguarding=self.safeguarding)


class HoldReview(_Command):
    cmd: Literal["hold_review"]
    plan_changed: bool = False

    def run(self, episode: Episode, today: date) -> None:
        episode.hold_review(self.on, today, plan_changed=self.plan_changed)


class ChangeLead(_Command):
    cmd: Literal["change_lead"]
    lead: Lead

    def run(self, episode: Episode, today: date) -> None:
        episode.change_lead(
            self.lead.name, self.lead.agency, self.on, today, subject=self.lead.subject
        )


class RecordException(_Command):
    cmd: Literal["record_exception"]
    clock: ClockName
    reason: RequiredText

    def run(self, episode: Episode, today: date) -> None:
        episode.record_exception(self.clock.value, self.reason, self.on, today)


class StepUp(_Command):
    cmd: Literal["step_up"]
    level: Literal[3, 4]

    def run(self, episode: Episode, today: date) -> None:
        episode.step_up(self.level, self.on, today)


class RecordMashOutcome(_Command):
    cmd: Literal["record_mash_outcome"]
    level: Literal[2, 3, 4]

    def run(self, episode: Episode, today: date) -> None:
        episode.record_mash_outcome(self.level, self.on, today)


class Close(_Command):
    cmd: Literal["close"]
    reason: ClosureReason
    summary: RequiredText

    def run(self, episode: Episode, today: date) -> None:
        episode.close(self.reason.value, self.summary, self.on, today)


class WithdrawConsent(_Command):
    cmd: Literal["withdraw_consent"]

    def run(self, episode: Episode, today: date) -> None:
        episode.withdraw_consent(self.on, today)


class FinaliseAssessment(_Command):
    cmd: Literal["finalise_assessment"]

    def run(self, episode: Episode, today: date) -> None:
        episode.finalise_assessment(self.on, today)


class DecideFam(_Command):
    cmd: Literal["decide_fam"]

    def run(self, episode: Episode, today: date) -> None:
        episode.decide_fam(self.on, today)


class HoldFam(_Command):
    cmd: Literal["hold_fam"]

    def run(self, episode: Episode, today: date) -> None:
        episode.hold_fam(self.on, today)


class AgreeSingleAgencyPlan(_Command):
    cmd: Literal["agree_single_agency_plan"]

    def run(self, episode: Episode, today: date) -> None:
        episode.agree_single_agency_plan(self.on, today)


class CirculatePlan(_Command):
    cmd: Literal["circulate_plan"]

    def run(self, episode: Episode, today: date) -> None:
        episode.circulate_plan(self.on, today)


class SeeChild(_Command):
    cmd: Literal["see_child"]

    def run(self, episode: Episode, today: date) -> None:
        episode.see_child(self.on, today)


class StartGcp2(_Command):
    cmd: Literal["start_gcp2"]

    def run(self, episode: Episode, today: date) -> None:
        episode.start_gcp2(self.on, today)


class CompleteGcp2(_Command):
    cmd: Literal["complete_gcp2"]

    def run(self, episode: Episode, today: date) -> None:
        episode.complete_gcp2(self.on, today)


class RecordFeedback(_Command):
    """Family feedback (B&NES toolkits 5 and 6): one sheet from the child or young person or
    from the parent or carer, at one point of the episode."""

    # (`from` is a Python keyword: the field is `from_`, read and written as `from`)
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    cmd: Literal["record_feedback"]
    from_: Respondent = Field(alias="from")
    point: FeedbackPoint
    answers: dict[Code, Rating] = Field(
        default_factory=dict,
        max_length=20,
        description="Each statement of the sheet (its key) rated agree, partly or disagree; a"
        " statement the family left blank is left out. Child: made_a_difference, kept_informed,"
        " asked_my_views, agreed_plan, agreed_sharing. Parent or carer: worries_discussed,"
        " whole_life_discussed, agreed_plan, agreed_sharing, got_help, made_a_difference.",
    )
    comments: FreeText | None = None

    def run(self, episode: Episode, today: date) -> None:
        episode.record_feedback(
            self.from_.value,
            self.point.value,
            {key: rating.value for key, rating in self.answers.items()},
            self.on,
            today,
            comments=self.comments,
        )


class RequestPanel(_Command):
    """A request to the Level 2 Panel (St Helens), only once the family has consented."""

    cmd: Literal["request_panel"]
    asks: list[PanelAsk] = Field(min_length=1, max_length=3)
    summary: RequiredText

    def run(self, episode: Episode, today: date) -> None:
        episode.request_panel([ask.value for ask in self.asks], self.summary, self.on, today)


class AllocatedService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: Name
    provider: Name


class RecordPanelOutcome(_Command):
    """The Level 2 Panel's answer to the request awaiting it: advice, or services allocated
    (each with who provides it)."""

    cmd: Literal["record_panel_outcome"]
    outcome: PanelOutcome
    services: list[AllocatedService] = Field(default_factory=list, max_length=20)
    notes: FreeText | None = None

    def run(self, episode: Episode, today: date) -> None:
        episode.record_panel_outcome(
            self.outcome.value,
            [item.model_dump() for item in self.services],
            self.on,
            today,
            notes=self.notes,
        )


class RecordPanelReview(_Command):
    """The Level 2 Panel's review of the allocation awaiting it (due three months on)."""

    cmd: Literal["record_panel_review"]
    further_support: bool = False
    notes: FreeText | None = None

    def run(self, episode: Episode, today: date) -> None:
        episode.record_panel_review(self.further_support, self.on, today, notes=self.notes)


class RecordNeeds(_Command):
    """Supporting Families: the family's needs identified at assessment, against the ten
    headline outcomes (only once the family has consented)."""

    cmd: Literal["record_needs"]
    needs: list[Outcome] = Field(
        min_length=1,
        max_length=10,
        description="Headline outcome codes: education, early_years, health, substance_use,"
        " relationships, safe_from_abuse, crime, domestic_abuse, housing, finances.",
    )
    whole_family_assessment: bool = False

    def run(self, episode: Episode, today: date) -> None:
        episode.record_needs(
            [need.value for need in self.needs], self.whole_family_assessment, self.on, today
        )


class RecordOutcomes(_Command):
    """Supporting Families: for each identified need, met or not, confirmed at closing (on or
    after the closure)."""

    cmd: Literal["record_outcomes"]
    outcomes: dict[Outcome, bool] = Field(
        min_length=1, max_length=10, description="Each identified need: true if met."
    )

    def run(self, episode: Episode, today: date) -> None:
        episode.record_outcomes(
            {need.value: met for need, met in self.outcomes.items()}, self.on, today
        )


class RecordSustainedCheck(_Command):
    """Supporting Families: for each outcome met at closure, whether it was sustained six
    months after the closing."""

    cmd: Literal["record_sustained_check"]
    sustained: dict[Outcome, bool] = Field(
        min_length=1, max_length=10, description="Each met outcome: true if sustained."
    )

    def run(self, episode: Episode, today: date) -> None:
        episode.record_sustained_check(
            {need.value: kept for need, kept in self.sustained.items()}, self.on, today
        )


Command = Annotated[
    Open
    | RecordConsent
    | WithholdConsent
    | WithdrawConsent
    | FinaliseAssessment
    | DecideFam
    | HoldFam
    | AgreeSingleAgencyPlan
    | CirculatePlan
    | HoldReview
    | SeeChild
    | ChangeLead
    | StartGcp2
    | CompleteGcp2
    | RecordException
    | StepUp
    | RecordMashOutcome
    | Close
    | RecordFeedback
    | RequestPanel
    | RecordPanelOutcome
    | RecordPanelReview
    | RecordNeeds
    | RecordOutcomes
    | RecordSustainedCheck,
    Field(discriminator="cmd"),
]
COMMAND = TypeAdapter[Any](Command)
COMMAND_NAMES = sorted(COMMAND.json_schema()["discriminator"]["mapping"])


class LineError(ValueError):
    """A line of the import file that cannot be read as a command."""


def parse_line(text: str) -> _Command:
    # (the import file is decoded with errors="surrogateescape": a byte that is not UTF-8 arrives
    # as a surrogate U+DC80-U+DCFF, and JSON escapes can make surrogates too)
    raw = next((n for n, c in enumerate(text) if "\udc80" <= c <= "\udcff"), None)
    if raw is not None:
        byte = ord(text[raw]) - 0xDC00
        raise LineError(f"not valid UTF-8 (byte 0x{byte:02X} at column {raw + 1})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise LineError("not valid JSON (nested too deeply)") from None
    except ValueError as error:  # e.g. a number too long to read
        raise LineError(f"not valid JSON ({str(error)[:200]})") from None
    if not isinstance(data, dict):
        raise LineError("a command is a JSON object with cmd, episode and on")
    if "cmd" not in data:
        raise LineError("field 'cmd': missing (one of " + ", ".join(COMMAND_NAMES) + ")")
    if data["cmd"] not in COMMAND_NAMES:
        raise LineError(
            f"field 'cmd': unknown command {data['cmd']!r} (one of {', '.join(COMMAND_NAMES)})"
        )
    try:
        command: _Command = COMMAND.validate_python(data)
    except ValidationError as error:
        raise LineError(_fields(error, data["cmd"])) from None
    return command


def _fields(error: ValidationError, cmd: str) -> str:
    # Drop the discriminator's own prefix ("open.lead.agency" reads better as "lead.agency").
    # (each problem on its own: a message may itself hold "; ")
    return "; ".join(
        "field '"
        + (".".join(str(p) for p in problem["loc"]) or "(document)").removeprefix(f"{cmd}.")
        + "': "
        + problem["msg"]
        for problem in error.errors()
    )
