"""Each view's topics (the event classes it takes, as eventsourcing names them), as a table.

A query asks whether its views are current (projections.freshness) by these topics, without
importing the aggregates whose event classes they name, nor the views' code.
tests/unit/test_view_topics.py checks the table against the classes (`topics_of`) and the views,
so it cannot go stale.
"""

from __future__ import annotations

from typing import Final

EPISODE: Final = [
    "aggregates.episode:Episode.Opened",
    "aggregates.episode:Episode.ConsentRecorded",
    "aggregates.episode:Episode.ConsentWithheld",
    "aggregates.episode:Episode.ConsentWithdrawn",
    "aggregates.episode:Episode.AssessmentFinalised",
    "aggregates.episode:Episode.FamDecided",
    "aggregates.episode:Episode.FamHeld",
    "aggregates.episode:Episode.SingleAgencyPlanAgreed",
    "aggregates.episode:Episode.PlanCirculated",
    "aggregates.episode:Episode.ReviewHeld",
    "aggregates.episode:Episode.ChildSeen",
    "aggregates.episode:Episode.LeadChanged",
    "aggregates.episode:Episode.Gcp2Started",
    "aggregates.episode:Episode.Gcp2Completed",
    "aggregates.episode:Episode.ExceptionRecorded",
    "aggregates.episode:Episode.SteppedUp",
    "aggregates.episode:Episode.MashOutcomeRecorded",
    "aggregates.episode:Episode.Closed",
    "aggregates.episode:Episode.FeedbackRecorded",
    "aggregates.episode:Episode.PanelRequested",
    "aggregates.episode:Episode.PanelOutcomeRecorded",
    "aggregates.episode:Episode.PanelReviewed",
    "aggregates.episode:Episode.NeedsRecorded",
    "aggregates.episode:Episode.OutcomesRecorded",
    "aggregates.episode:Episode.SustainedCheckRecorded",
    "aggregates.episode:Episode.AlertRaised",
    "aggregates.episode:Episode.AlertAcknowledged",
    "aggregates.episode:Episode.AlertCleared",
    "aggregates.episode:Episode.Created",
]

CHILD_RECORD: Final = [
    "aggregates.episode:ChildRecord.Registered",
    "aggregates.episode:ChildRecord.EpisodeOpened",
    "aggregates.episode:ChildRecord.EpisodeClosed",
    "aggregates.episode:ChildRecord.Created",
]

AUDIT: Final = [
    "aggregates.audit:Audit.Assigned",
    "aggregates.audit:Audit.ItemScored",
    "aggregates.audit:Audit.Flagged",
    "aggregates.audit:Audit.SafeguardingConcernRaised",
    "aggregates.audit:Audit.Completed",
    "aggregates.audit:Audit.ActionIssued",
    "aggregates.audit:Audit.ActionCompleted",
    "aggregates.audit:Audit.DiscussionRecorded",
    "aggregates.audit:Audit.AlertRaised",
    "aggregates.audit:Audit.Created",
]

ALERTS: Final = [
    "aggregates.episode:Episode.AlertRaised",
    "aggregates.audit:Audit.SafeguardingConcernRaised",
    "aggregates.audit:Audit.AlertRaised",
]

# By view, in the order the service runs them (ehqa.services).
VIEW_TOPICS: Final[dict[str, list[str]]] = {
    "episodes": EPISODE,
    "timeline": EPISODE,
    "children": CHILD_RECORD,
    "outbox": ALERTS,
    "audits": AUDIT,
}
