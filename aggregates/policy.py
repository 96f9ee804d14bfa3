"""Per-council timescales as data: a policy names each clock's timescale.

A policy document may `extends` another and override only what differs; `resolve` merges the
chain and validates the result. Reading documents from files is the edge's job (ehqa.policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aggregates.calendar import WorkingCalendar, add_months
from aggregates.errors import PolicyError
from aggregates.retention import Retention


class ClockName(StrEnum):
    ASSESSMENT = "assessment"
    FAM = "fam"
    PLAN_CIRCULATION = "plan_circulation"
    FIRST_REVIEW = "first_review"
    NEXT_REVIEW = "next_review"
    MODIFIED_PLAN_CIRCULATION = "modified_plan_circulation"
    CHILD_SEEN = "child_seen"
    GCP2 = "gcp2"
    LONG_RUNNING = "long_running"
    AUDIT_ACTIONS = "audit_actions"
    # Clocks a council's policy may leave out (absent: never due). Family feedback (B&NES
    # toolkits 5 and 6), the Level 2 Panel's review of an allocation (St Helens 2022) and the
    # Supporting Families check that outcomes were sustained after closure.
    FEEDBACK_ASSESSMENT = "feedback_assessment"
    FEEDBACK_THIRD_REVIEW = "feedback_third_review"
    FEEDBACK_CLOSURE = "feedback_closure"
    PANEL_REVIEW = "panel_review"
    OUTCOMES_SUSTAINED = "outcomes_sustained"


OPTIONAL_CLOCKS: frozenset[ClockName] = frozenset(
    {
        ClockName.FEEDBACK_ASSESSMENT,
        ClockName.FEEDBACK_THIRD_REVIEW,
        ClockName.FEEDBACK_CLOSURE,
        ClockName.PANEL_REVIEW,
        ClockName.OUTCOMES_SUSTAINED,
    }
)


class Timescale(BaseModel):
    """Exactly one of working days, days, weeks or calendar months."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    working_days: int | None = Field(default=None, ge=0)
    days: int | None = Field(default=None, ge=0)
    weeks: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one_unit(self) -> Timescale:
        given = [name for name, value in self._units() if value is not None]
        if len(given) != 1:
            raise ValueError(
                "a timescale needs exactly one of working_days, days, weeks or months"
                f" (got {', '.join(given) or 'none'})"
            )
        return self

    def _units(self) -> list[tuple[str, int | None]]:
        return [
            ("working_days", self.working_days),
            ("days", self.days),
            ("weeks", self.weeks),
            ("months", self.months),
        ]

    def due_date(self, start: date, calendar: WorkingCalendar, roll_forward: bool) -> date:
        if self.working_days is not None:
            return calendar.add_working_days(start, self.working_days)
        if self.months is not None:
            due = add_months(start, self.months)
        else:
            due = start + timedelta(days=self.days or 7 * (self.weeks or 0))
        return calendar.on_or_after(due) if roll_forward else due

    def __str__(self) -> str:
        name, value = next((n, v) for n, v in self._units() if v is not None)
        return f"{value} {name.replace('_', ' ')}"


class ClockRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    due: Timescale
    pre_birth_due: Timescale | None = None
    applies_pre_birth: bool = True
    enabled: bool = True
    source: str = ""

    def timescale(self, pre_birth: bool) -> Timescale:
        return self.pre_birth_due if pre_birth and self.pre_birth_due else self.due


# What a policy that leaves out an optional clock holds for it: a rule that is never due.
ABSENT = ClockRule(
    label="not part of this policy", due=Timescale(days=0), enabled=False, source="absent"
)


class Escalation(BaseModel):
    """The alert ladder: due soon (to the lead professional), overdue the working day after
    the due date (to the lead professional and the co-ordinator), escalated some working days
    later (to the team manager or partnership co-ordinator as well)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    due_soon_working_days: int = Field(default=3, ge=0)
    escalate_after_working_days: int = Field(default=10, ge=1)
    coordinator: str = Field(default="Early Help co-ordinator", min_length=1)
    team_manager: str = Field(default="Early Help team manager", min_length=1)


class Policy(BaseModel):
    """The effective timescales of one council."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    extends: str | None = None
    roll_forward: bool = Field(
        default=True,
        description="Due dates counted in days or months that land on a non-working day "
        "move forward to the next working day.",
    )
    clocks: dict[ClockName, ClockRule]
    escalation: Escalation = Escalation()
    retention: Retention = Retention()

    @model_validator(mode="after")
    def _every_clock_defined(self) -> Policy:
        missing = [
            name.value
            for name in ClockName
            if name not in self.clocks and name not in OPTIONAL_CLOCKS
        ]
        if missing:
            raise ValueError(f"clocks missing from the policy: {', '.join(missing)}")
        return self

    def rule(self, clock: ClockName) -> ClockRule:
        """The clock's rule (an optional clock the policy leaves out is disabled)."""
        return self.clocks.get(clock, ABSENT)

    def due_date(
        self, clock: ClockName, start: date, pre_birth: bool, calendar: WorkingCalendar
    ) -> date:
        return self.rule(clock).timescale(pre_birth).due_date(start, calendar, self.roll_forward)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if (
            isinstance(value, Mapping)
            and isinstance(merged.get(key), Mapping)
            and key not in ("due", "pre_birth_due")
        ):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve(name: str, documents: Mapping[str, Mapping[str, Any]]) -> Policy:
    """The effective policy `name`, following `extends` through `documents` (name -> raw data)."""
    chain: list[Mapping[str, Any]] = []
    current: str | None = name
    while current is not None:
        if current not in documents:
            known = ", ".join(sorted(documents)) or "none"
            if current == name:
                raise PolicyError(f"unknown policy '{name}' (known: {known})")
            raise PolicyError(
                f"policy '{chain[-1].get('name')}' extends unknown policy '{current}'"
            )
        if any(doc.get("name", "") == current for doc in chain):
            raise PolicyError(f"policy '{name}' extends itself through '{current}'")
        document = documents[current]
        chain.append({"name": current, **document})
        extends = document.get("extends")
        current = extends if isinstance(extends, str) else None
    merged: dict[str, Any] = {}
    for document in reversed(chain):
        merged = _merge(merged, document)
    merged["name"] = name
    merged["extends"] = chain[0].get("extends")
    try:
        return Policy.model_validate(merged)
    except ValidationError as error:
        raise PolicyError(f"policy '{name}' is invalid: {describe(error)}") from error


def describe(error: ValidationError) -> str:
    """One line per problem, each naming its field."""
    parts = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(document)"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Difference:
    """One field in which two effective policies differ (None where a policy has no value)."""

    field: str
    a: Timescale | str | int | bool | None
    b: Timescale | str | int | bool | None

    @staticmethod
    def _shown(value: Timescale | str | int | bool | None) -> str:
        return (
            "none"
            if value is None
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )

    def __str__(self) -> str:
        return f"{self.field}: {self._shown(self.a)} -> {self._shown(self.b)}"

    def as_json(self) -> dict[str, Any]:
        def plain(value: Timescale | str | int | bool | None) -> Any:
            return value.model_dump(exclude_none=True) if isinstance(value, Timescale) else value

        return {"field": self.field, "a": plain(self.a), "b": plain(self.b)}


def _fields(policy: Policy) -> dict[str, Timescale | str | int | bool | None]:
    """Every value of the effective policy by its dotted name (its name and `extends` aside)."""
    found: dict[str, Timescale | str | int | bool | None] = {
        "title": policy.title,
        "roll_forward": policy.roll_forward,
    }
    for clock in ClockName:
        rule = policy.rule(clock)
        for name in ClockRule.model_fields:
            found[f"clocks.{clock.value}.{name}"] = getattr(rule, name)
    for name in Escalation.model_fields:
        found[f"escalation.{name}"] = getattr(policy.escalation, name)
    for name in Retention.model_fields:
        found[f"retention.{name}"] = getattr(policy.retention, name)
    return found


def differences(a: Policy, b: Policy) -> list[Difference]:
    """How policy `b` differs from policy `a`: one entry per field, in the policy's own order
    (title, roll_forward, each clock's fields, the escalation values, the retention rules)."""
    left, right = _fields(a), _fields(b)
    return [Difference(name, left[name], right[name]) for name in left if left[name] != right[name]]
