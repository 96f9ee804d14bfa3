"""The shape every import command shares: the episode it is about and its business date."""

from __future__ import annotations

from datetime import date

from eventsourcing.persistence import Tracking
from pydantic import BaseModel, ConfigDict, Field

from aggregates.episode import Episode
from ehqa.application import EhqaApplication, Rehearsal
from ehqa.bounds import Name, Reference, Subject


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
