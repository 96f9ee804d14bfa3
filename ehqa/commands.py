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
from aggregates.policy import ClockName, describe
from ehqa.application import EhqaApplication, Rehearsal


class Lead(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    agency: str = Field(min_length=1)


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    episode: str = Field(min_length=1)
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
    child: str = Field(min_length=1)
    lead: Lead
    origin: Origin = Origin.REFERRAL
    pre_birth: bool = False
    recent_social_care_assessment: bool = False
    policy: str | None = None

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
    agencies: list[str] = Field(min_length=1)

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
        episode.change_lead(self.lead.name, self.lead.agency, self.on, today)


class RecordException(_Command):
    cmd: Literal["record_exception"]
    clock: ClockName
    reason: str = Field(min_length=1)

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
    summary: str = Field(min_length=1)

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
    | Close,
    Field(discriminator="cmd"),
]
COMMAND = TypeAdapter[Any](Command)
COMMAND_NAMES = sorted(COMMAND.json_schema()["discriminator"]["mapping"])


class LineError(ValueError):
    """A line of the import file that cannot be read as a command."""


def parse_line(text: str) -> _Command:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
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
    text = describe(error)
    # Drop the discriminator's own prefix ("open.lead.agency" reads better as "lead.agency").
    return "; ".join(
        "field '" + part.split(": ", 1)[0].removeprefix(f"{cmd}.") + "': " + part.split(": ", 1)[1]
        for part in text.split("; ")
    )
