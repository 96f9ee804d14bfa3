"""Filter values that match nothing are refused, naming the values there are.

One check for the command line and the HTTP API: a filter naming an agency, a lead
professional, a policy, a clock, an alert rung or an alert recipient that does not exist would
otherwise answer "nothing overdue". The known values come from the data (the read models), the
policy book, or the domain's enums.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from aggregates.alerts import Rung
from aggregates.policy import ClockName
from ehqa.services import Services

CAP = 20  # at most this many known values are listed in a refusal


class UnknownValueError(Exception):
    """A filter value that matches nothing."""

    def __init__(self, parameter: str, value: str, known: list[str]) -> None:
        super().__init__(f"unknown {parameter} {value!r}")
        self.parameter, self.value, self.known = parameter, value, known

    def detail(self, name: str | None = None, cap: int = CAP) -> str:
        """`name: unknown value 'x' (did you mean 'y'?) (known: a, b, ... and N more)`."""
        close = difflib.get_close_matches(self.value, self.known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = ", ".join(self.known[:cap]) or "none recorded yet"
        more = f" and {len(self.known) - cap} more" if len(self.known) > cap else ""
        return (
            f"{name or self.parameter}: unknown value {self.value!r}{hint} (known: {shown}{more})"
        )


def known_values(services: Services, parameter: str) -> list[str]:
    """The values there are for one kind of filter."""
    sources: dict[str, Callable[[], list[str]]] = {
        "agency": services.read.agencies,
        "lead": services.read.lead_names,
        "policy": services.policies.names,
        "clock": lambda: [c.value for c in ClockName],
        "rung": lambda: [r.value for r in Rung],
        "for": services.read.alert_addressees,
    }
    return sources[parameter]()


def check_filters(services: Services, **values: str | None) -> None:
    """Refuse the first given value its filter does not know (the views are read as they are:
    catch them up first)."""
    for parameter, value in values.items():
        if value is None:
            continue
        known = known_values(services, parameter)
        if value not in known:
            raise UnknownValueError(parameter, value, known)
