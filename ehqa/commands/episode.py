"""The episode's lifecycle steps: opening, consent, assessment, the plan, reviews, leads,
exceptions, stepping up and closing."""

from __future__ import annotations

from datetime import date
from typing import Literal

from eventsourcing.persistence import Tracking
from pydantic import Field

from aggregates.episode import ClosureReason, Episode, Origin
from aggregates.policy import ClockName
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.bounds import Code, Name, Reference, RequiredText
from ehqa.commands.base import Lead, _Command


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
