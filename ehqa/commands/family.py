"""Family feedback, the Level 2 Panel and Supporting Families (needs, outcomes, the
sustained check)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aggregates.episode import Episode
from aggregates.feedback import FeedbackPoint, Rating, Respondent
from aggregates.outcomes import Outcome
from aggregates.panel import PanelAsk, PanelOutcome
from ehqa.bounds import Code, FreeText, Name, RequiredText
from ehqa.commands.base import _Command


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
