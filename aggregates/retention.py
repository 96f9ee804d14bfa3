"""How long a child's personal fields are kept: the retention rules of a policy, and when a
child falls due for erasure under them.

A child is due once none of their episodes is open and every rule the policy gives has run
out: `years_after_closure` years after their latest episode closed, and `until_birthday`, their
birthday of that age (the later of the two decides). A birthday rule needs the date of birth
(or, for a child still unborn when last recorded, the expected one); where neither is known it
cannot be applied, and the other rule decides alone (the rule given says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aggregates.calendar import add_months


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    years_after_closure: int | None = Field(
        default=6, ge=0, le=100, description="Kept this many years after the latest closure."
    )
    until_birthday: int | None = Field(
        default=25, ge=0, le=120, description="And until the child's birthday of this age."
    )

    @model_validator(mode="after")
    def _some_rule(self) -> Retention:
        if self.years_after_closure is None and self.until_birthday is None:
            raise ValueError("a retention needs years_after_closure, until_birthday or both")
        return self


@dataclass(frozen=True)
class Due:
    """When the child's record runs out (`due_on`), by which rule, and whether it is due as at
    the day asked (False: kept, for the reason `rule` gives)."""

    due_on: date | None
    rule: str
    due: bool


def due_for_erasure(
    retention: Retention, open_episode: str | None, last_closed: date | None,
    born: date | None, as_at: date,
) -> Due:  # fmt: skip
    """Whether a child is due for erasure as at `as_at` (see the module's rules)."""
    if open_episode is not None or last_closed is None:
        return Due(None, f"episode {open_episode} is open", False)
    found: list[tuple[date, str]] = []
    if retention.years_after_closure is not None:
        years = retention.years_after_closure
        found.append((add_months(last_closed, 12 * years),
                      f"{years} years after the latest closure ({last_closed})"))  # fmt: skip
    if retention.until_birthday is not None:
        age = retention.until_birthday
        if born is not None:
            found.append((add_months(born, 12 * age), f"{age}th birthday ({born} + {age} years)"))
        elif not found:
            return Due(None, f"{age}th birthday: the date of birth is not known", False)
        else:
            unknown = f"; the {age}th birthday not applied: the date of birth is not known"
            found = [(day, rule + unknown) for day, rule in found]
    due_on, rule = max(found)
    return Due(due_on, rule, due_on <= as_at)
