"""A small, realistic caseload dated relative to today, built through the real commands."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from aggregates.clocks import Status
from ehqa.application import EhqaApplication, EpisodeNotFoundError
from ehqa.commands import parse_line
from projections.queries import ReadModels

# (reference, [(days before today, command fields)]); dates are relative so clocks are live.
EPISODES: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = [
    (
        "DEMO-0001",
        [  # a Family Action Meeting on time, plan changed at the first review
            (
                120,
                {
                    "cmd": "open",
                    "child": "DEMO-C1",
                    "lead": {"name": "Jo Bright", "agency": "primary_school"},
                },
            ),
            (118, {"cmd": "record_consent", "agencies": ["primary_school", "health_visiting"]}),
            (110, {"cmd": "see_child"}),
            (95, {"cmd": "finalise_assessment"}),
            (92, {"cmd": "decide_fam"}),
            (75, {"cmd": "hold_fam"}),
            (70, {"cmd": "circulate_plan"}),
            (50, {"cmd": "hold_review", "plan_changed": True}),
            (45, {"cmd": "circulate_plan"}),
            (20, {"cmd": "see_child"}),
        ],
    ),
    (
        "DEMO-0002",
        [  # the assessment is drifting past its 20 working days
            (
                60,
                {
                    "cmd": "open",
                    "child": "DEMO-C2",
                    "lead": {"name": "Sam Patel", "agency": "secondary_school"},
                },
            ),
            (55, {"cmd": "record_consent", "agencies": ["secondary_school"]}),
            (40, {"cmd": "see_child"}),
        ],
    ),
    (
        "DEMO-0003",
        [  # a late meeting, with the reason recorded
            (
                90,
                {
                    "cmd": "open",
                    "child": "DEMO-C3",
                    "lead": {"name": "Ann Cole", "agency": "early_help_team"},
                },
            ),
            (89, {"cmd": "record_consent", "agencies": ["early_help_team", "camhs"]}),
            (70, {"cmd": "finalise_assessment"}),
            (68, {"cmd": "decide_fam"}),
            (
                35,
                {
                    "cmd": "record_exception",
                    "clock": "fam",
                    "reason": "Family unavailable over half term",
                },
            ),
            (30, {"cmd": "hold_fam"}),
            (25, {"cmd": "see_child"}),
        ],
    ),
    (
        "DEMO-0004",
        [  # a step-down from social care with a single-agency plan
            (
                40,
                {
                    "cmd": "open",
                    "child": "DEMO-C4",
                    "origin": "step_down",
                    "recent_social_care_assessment": True,
                    "lead": {"name": "Ravi Kumar", "agency": "early_help_team"},
                },
            ),
            (39, {"cmd": "record_consent", "agencies": ["early_help_team"]}),
            (35, {"cmd": "agree_single_agency_plan"}),
            (10, {"cmd": "see_child"}),
        ],
    ),
    (
        "DEMO-0005",
        [  # a pre-birth episode stepped up to child protection
            (
                30,
                {
                    "cmd": "open",
                    "child": "DEMO-C5",
                    "pre_birth": True,
                    "lead": {"name": "Mia Grant", "agency": "midwifery"},
                },
            ),
            (29, {"cmd": "record_consent", "agencies": ["midwifery"]}),
            (12, {"cmd": "step_up", "level": 4}),
            (10, {"cmd": "record_mash_outcome", "level": 4}),
        ],
    ),
    (
        "DEMO-0006",
        [  # closed with outcomes achieved
            (
                200,
                {
                    "cmd": "open",
                    "child": "DEMO-C6",
                    "lead": {"name": "Jo Bright", "agency": "primary_school"},
                },
            ),
            (199, {"cmd": "record_consent", "agencies": ["primary_school"]}),
            (185, {"cmd": "finalise_assessment"}),
            (184, {"cmd": "agree_single_agency_plan"}),
            (150, {"cmd": "hold_review"}),
            (
                60,
                {
                    "cmd": "close",
                    "reason": "outcomes_achieved",
                    "summary": "Attendance back above 95%; family linked to universal services.",
                },
            ),
        ],
    ),
    (
        "DEMO-0007",
        [  # a new referral waiting for the family's consent
            (
                3,
                {
                    "cmd": "open",
                    "child": "DEMO-C7",
                    "lead": {"name": "Sam Patel", "agency": "secondary_school"},
                },
            ),
        ],
    ),
]

COLUMNS = ("episode", "state", "lead", "overdue", "next_due", "summary")
HEADINGS = ("episode", "state", "lead", "overdue", "next due", "what it shows")
SUMMARIES = {
    "DEMO-0001": "FAM on time; plan changed at review",
    "DEMO-0002": "assessment drifting",
    "DEMO-0003": "late FAM with a recorded reason",
    "DEMO-0004": "step-down, single-agency plan",
    "DEMO-0005": "pre-birth, stepped up to level 4",
    "DEMO-0006": "closed: outcomes achieved",
    "DEMO-0007": "new referral, awaiting consent",
}


def build(app: EhqaApplication, by: str | None = None) -> bool:
    """Record the demo caseload unless it is already there; True when it was recorded now."""
    try:
        app.get_episode(EPISODES[0][0])
        return False
    except EpisodeNotFoundError:
        pass
    today = app.clock()
    for reference, steps in EPISODES:
        for days_ago, fields in steps:
            on = (today - timedelta(days=days_ago)).isoformat()
            parse_line(_json({"episode": reference, "on": on, **fields})).apply(app, by=by)
    return True


def _json(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


def standing(read: ReadModels, as_at: date) -> list[dict[str, Any]]:
    rows = []
    for reference, _ in EPISODES:
        episode = read.episode(reference) or {}
        clocks = [row.entry for row in read.deadlines(reference, as_at)]
        overdue = [e for e in clocks if e.status is Status.OVERDUE]
        running = sorted((e for e in clocks if e.status is Status.PENDING), key=lambda e: e.due_on)
        rows.append(
            {
                "episode": reference,
                "state": episode.get("state"),
                "lead": (episode.get("lead") or {}).get("name", ""),
                "overdue": ", ".join(e.clock.value for e in overdue) or "-",
                "next_due": f"{running[0].clock.value} {running[0].due_on}" if running else "-",
                "summary": SUMMARIES[reference],
            }
        )
    return rows
