"""Family feedback sheets (B&NES toolkits 5 and 6), in ehqa's own words.

The child or young person and the parent or carer are each asked a short sheet of statements at
three points of an episode. Every statement has a fixed key; an answer is one of three ratings,
the sheets' smiling, middling and sad faces. A family may leave a statement unanswered.
"""

from __future__ import annotations

from enum import StrEnum


class Respondent(StrEnum):
    CHILD = "child"
    PARENT_CARER = "parent_carer"


class FeedbackPoint(StrEnum):
    DURING_ASSESSMENT = "during_assessment"
    THIRD_REVIEW = "third_review"
    CLOSURE = "closure"  # at closure or step-down


class Rating(StrEnum):
    AGREE = "agree"  # the smiling face
    PARTLY = "partly"  # the middling face
    DISAGREE = "disagree"  # the sad face


# statement key -> what the family is asked to rate (our own wording)
STATEMENTS: dict[Respondent, dict[str, str]] = {
    Respondent.CHILD: {
        "made_a_difference": "The Early Help assessment made a difference",
        "kept_informed": "My worker kept me up to date",
        "asked_my_views": "I was asked what I thought was wrong and what would help",
        "agreed_plan": "I agreed with the action plan",
        "agreed_sharing": "I agreed who my information is shared with",
    },
    Respondent.PARENT_CARER: {
        "worries_discussed": "The worker talked through their worries and asked my view",
        "whole_life_discussed": "We talked about what is going well as well as the problems",
        "agreed_plan": "We agreed a plan I thought would make things better",
        "agreed_sharing": "I agreed who the information is shared with",
        "got_help": "We got the help we needed",
        "made_a_difference": "The Early Help assessment made a difference",
    },
}

POINT_WORDS: dict[FeedbackPoint, str] = {
    FeedbackPoint.DURING_ASSESSMENT: "during the assessment",
    FeedbackPoint.THIRD_REVIEW: "at the third review",
    FeedbackPoint.CLOSURE: "at closure",
}
