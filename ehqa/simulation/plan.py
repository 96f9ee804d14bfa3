"""One episode's plan: its dated steps, drawn from its own generator."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from aggregates.episode import Episode

Step = tuple[date, Callable[[Episode, date], None]]


class Plan:
    """The dated steps of one episode, drawn from its own generator."""

    def __init__(self, rng: random.Random, start: date, end: date, lead: tuple[str, str],
                 scenario: str, others: list[tuple[str, str]]) -> None:  # fmt: skip
        self.rng, self.end, self.lead, self.scenario, self.others = rng, end, lead, scenario, others
        self.steps: list[Step] = []
        self.opened_on = start
        self.closed = False
        self.recent_assessment = scenario == "step_down" and rng.random() < 0.6
        self.policy = ""  # set once the episode is opened
        self.after_closure: list[Step] = []  # steps that may follow the closing (feedback)
        self.sf = random.Random(0)  # Supporting Families draws (set per episode by the runner)
        self.needs: list[str] = []  # the needs planned to be recorded

    def at(self, day: date, step: Callable[[Episode, date], None]) -> bool:
        if self.closed or day > self.end:
            return False
        self.steps.append((day, step))
        return True

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def working(self, day: date, low: int, high: int) -> date:
        n, out = self.rng.randint(low, high), day
        while n:
            out += timedelta(days=1)
            if out.weekday() < 5:
                n -= 1
        return out
