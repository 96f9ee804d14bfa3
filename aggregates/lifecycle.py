"""The episode lifecycle as one table, held by a transitions Machine used only as a decision table.

The Machine never owns an episode's state and never runs callbacks: the aggregate asks it which
moves a trigger allows from a state, then records an event whose mutator assigns the new state.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from transitions import Machine

from aggregates.errors import EpisodeClosedError, LifecycleError


class State(StrEnum):
    REFERRED = "referred"
    ASSESSING = "assessing"
    ASSESSED = "assessed"
    CONVENING = "convening"
    PLAN_ACTIVE = "plan_active"
    AWAITING_MASH = "awaiting_mash"
    CLOSED = "closed"


OPEN_STATES: list[State] = [state for state in State if state is not State.CLOSED]
WORKING_STATES: list[State] = [state for state in OPEN_STATES if state is not State.AWAITING_MASH]

# trigger: (what a practitioner would call the step, what it needs, [(sources, dest)]).
# dest None keeps the state (a step recorded without moving the episode on).
TABLE: dict[str, tuple[str, str, list[tuple[list[State], State | None]]]] = {
    "record_consent": (
        "record consent",
        "an open episode",
        [
            ([State.REFERRED], State.ASSESSING),
            ([s for s in OPEN_STATES if s is not State.REFERRED], None),
        ],
    ),
    "withhold_consent": (
        "record consent withheld",
        "an episode still waiting for consent",
        [([State.REFERRED, State.ASSESSED], State.CLOSED)],
    ),
    "withhold_consent_with_safeguarding_concern": (
        "record consent withheld with a safeguarding concern",
        "an episode still waiting for consent",
        [([State.REFERRED, State.ASSESSED], State.AWAITING_MASH)],
    ),
    "withdraw_consent": (
        "record consent withdrawn",
        "an open episode",
        [(OPEN_STATES, State.CLOSED)],
    ),
    "finalise_assessment": (
        "finalise the assessment",
        "consent and an assessment under way (state `assessing`)",
        [([State.ASSESSING], State.ASSESSED)],
    ),
    "decide_fam": (
        "decide to convene a Family Action Meeting",
        "a finalised assessment (state `assessed`)",
        [([State.ASSESSED], State.CONVENING)],
    ),
    "hold_fam": (
        "hold the Family Action Meeting",
        "a decision to convene it first (state `convening`)",
        [([State.CONVENING], State.PLAN_ACTIVE)],
    ),
    "agree_single_agency_plan": (
        "agree a single-agency plan",
        "a finalised assessment (state `assessed`)",
        [([State.ASSESSED], State.PLAN_ACTIVE)],
    ),
    "circulate_plan": (
        "circulate the plan",
        "a plan agreed at a Family Action Meeting (state `plan_active`)",
        [([State.PLAN_ACTIVE], None)],
    ),
    "hold_review": (
        "hold a review",
        "a Family Action Meeting or a single-agency plan first (state `plan_active`)",
        [([State.PLAN_ACTIVE], None)],
    ),
    "see_child": ("record the child seen", "an open episode", [(OPEN_STATES, None)]),
    "change_lead": ("change the lead professional", "an open episode", [(OPEN_STATES, None)]),
    "start_gcp2": ("start a GCP2", "an open episode", [(OPEN_STATES, None)]),
    "complete_gcp2": ("complete the GCP2", "an open episode", [(OPEN_STATES, None)]),
    "record_exception": ("record an exception", "an open episode", [(OPEN_STATES, None)]),
    "step_up": (
        "step up to MASH",
        "an open episode not already awaiting MASH",
        [(WORKING_STATES, State.AWAITING_MASH)],
    ),
    "mash_keeps_at_level_2": (
        "record a MASH outcome",
        "a step-up to MASH first (state `awaiting_mash`)",
        [([State.AWAITING_MASH], state) for state in WORKING_STATES],
    ),
    "mash_accepts": (
        "record a MASH outcome",
        "a step-up to MASH first (state `awaiting_mash`)",
        [([State.AWAITING_MASH], State.CLOSED)],
    ),
    "close": ("close the episode", "an open episode", [(OPEN_STATES, State.CLOSED)]),
    # family feedback: at closure it may come after the episode is closed
    "record_feedback": ("record family feedback", "an episode", [(list(State), None)]),
    "request_panel": ("ask the Level 2 Panel", "an open episode", [(OPEN_STATES, None)]),
    "record_panel_outcome": (
        "record the Level 2 Panel's outcome",
        "an open episode",
        [(OPEN_STATES, None)],
    ),
    "record_panel_review": (
        "record the Level 2 Panel's review",
        "an open episode",
        [(OPEN_STATES, None)],
    ),
    # Supporting Families: needs at assessment; outcomes confirmed at closing, checked later
    "record_needs": ("record the family's needs", "an open episode", [(OPEN_STATES, None)]),
    "record_outcomes": (
        "record the outcomes",
        "a closed episode (outcomes are confirmed at closing)",
        [([State.CLOSED], None)],
    ),
    "record_sustained_check": (
        "record the sustained check",
        "a closed episode",
        [([State.CLOSED], None)],
    ),
}


def _machine_transitions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for trigger, (_, _, moves) in TABLE.items():
        for sources, dest in moves:
            rows.append(
                {
                    "trigger": trigger,
                    "source": [s.value for s in sources],
                    "dest": dest and dest.value,
                }
            )
    return rows


MACHINE = Machine(
    model=None,
    states=[state.value for state in State],
    transitions=_machine_transitions(),
    initial=State.REFERRED.value,
    auto_transitions=False,
)


def next_state(trigger: str, source: State, wanted: State | None = None) -> State | None:
    """The state `trigger` moves an episode in `source` to (None: it stays), or raise.

    `wanted` picks among several allowed destinations (a MASH outcome returns an episode to
    where it was before the step-up).
    """
    for move in MACHINE.get_transitions(trigger=trigger, source=source.value):
        dest = None if move.dest is None else State(move.dest)
        if wanted is None or dest == wanted:
            return dest
    step, needs, _ = TABLE[trigger]
    if source is State.CLOSED:
        raise EpisodeClosedError(f"cannot {step}: the episode is closed and records nothing more")
    raise LifecycleError(f"cannot {step}: this needs {needs}; the episode is `{source.value}`")


def may(trigger: str, source: State) -> bool:
    return bool(MACHINE.get_transitions(trigger=trigger, source=source.value))


def mermaid() -> str:
    """The lifecycle drawn as a Mermaid state diagram, from the same table."""
    lines = ["stateDiagram-v2", f"    [*] --> {State.REFERRED.value}"]
    seen: set[tuple[str, str, str]] = set()
    for trigger, (_, _, moves) in TABLE.items():
        for sources, dest in moves:
            for source in sources:
                edge = (source.value, (dest or source).value, trigger)
                if edge not in seen:
                    seen.add(edge)
                    lines.append(f"    {edge[0]} --> {edge[1]}: {trigger}")
    lines.append(f"    {State.CLOSED.value} --> [*]")
    return "\n".join(lines)
