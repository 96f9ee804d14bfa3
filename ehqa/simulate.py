"""A realistic caseload, written through the domain's own commands.

Each episode follows a scenario (on time, late assessment, drifting, missed reviews, stepped up,
stepped down, pre-birth, consent withheld or withdrawn) with dates drawn from a generator seeded
by the run's seed and the episode's number: the same seed gives the same data. Dates cross bank
holidays as real ones do. Episodes are saved in batches (each with its child's record), so a
large caseload is written quickly; every command still passes the lifecycle's guards.

A live service's log interleaves everyone's episodes, each event recorded about when it
happened. `interleaved=True` writes the log that way: every history is run first (so all are
held in memory), then their events are saved in business-date order across episodes.

What each scenario plans, and in what proportions, is in the `ehqa.simulation` package.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aggregates.episode import ChildRecord, Episode, Origin
from aggregates.errors import DomainError
from ehqa.application import EhqaApplication
from ehqa.simulation.plan import Plan
from ehqa.simulation.scenarios import AGENCIES, SCENARIOS, plan_episode

FIRST = ["Jo", "Sam", "Ravi", "Ann", "Mia", "Tom", "Priya", "Lee", "Kate", "Omar", "Beth", "Dan"]
LAST = ["Bright", "Patel", "Kumar", "Cole", "Grant", "Hughes", "Shah", "Walsh", "Evans", "Ali"]


@dataclass
class Report:
    episodes: int = 0
    events: int = 0
    refused: list[str] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=dict)


def leads(rng: random.Random) -> list[tuple[str, str]]:
    people = sorted({f"{f} {s}" for f in FIRST for s in LAST})
    rng.shuffle(people)
    return [(name, AGENCIES[n % len(AGENCIES)]) for n, name in enumerate(people[:40])]


AUTHOR = "system:simulate"  # the author recorded on simulated facts


def simulate(
    app: EhqaApplication,
    episodes: int,
    seed: int,
    start: date,
    end: date,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
    interleaved: bool = False,
) -> Report:
    """Write `episodes` simulated histories opened between `start` and `end`."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    today = min(end, app.clock())
    people = leads(random.Random(seed))
    report = Report()
    pending: list[Any] = []
    dated: list[list[tuple[date, Any]]] = []
    for number in range(episodes):
        rng = random.Random(f"{seed}:{number}")
        episode, record, refused, scenario = _history(app, rng, number, seed, start, today, people)
        report.refused.extend(refused)
        report.episodes += 1
        report.events += episode.version
        report.scenarios[scenario] = report.scenarios.get(scenario, 0) + 1
        if interleaved:  # (progress counts histories run; the saving follows at the end)
            dated += _dated_events(episode, record)
            if progress and (number + 1) % batch_size == 0:
                progress(batch_size)
            continue
        pending += [episode, record]
        if len(pending) >= 2 * batch_size:
            app.save(*pending)
            pending = []
            if progress:
                progress(batch_size)
    if pending:
        app.save(*pending)
        if progress:
            progress(len(pending) // 2)
    if dated:
        in_order = [event for _, event in heapq.merge(*dated, key=lambda item: item[0])]
        for chunk in range(0, len(in_order), 10 * batch_size):
            app.save(*in_order[chunk : chunk + 10 * batch_size])
        if progress:
            progress(episodes % batch_size)
    return report


def _dated_events(episode: Episode, record: ChildRecord) -> list[list[tuple[date, Any]]]:
    """Each aggregate's pending events keyed by when they would have been recorded: on their
    business date, never before an earlier event of the same aggregate (the keys never fall)."""
    keyed, latest = [], date.min
    for event in episode.collect_events():
        latest = max(latest, event.on)  # type: ignore[attr-defined]
        keyed.append((latest, event))
    opened_on = keyed[0][0]
    child = record.collect_events()  # registered and opened with the episode, closed with it
    return [keyed, [(opened_on if n < 2 else latest, event) for n, event in enumerate(child)]]


def _history(app: EhqaApplication, rng: random.Random, number: int, seed: int, start: date,
             today: date, people: list[tuple[str, str]]) -> tuple[Episode, ChildRecord, list[str], str]:  # fmt: skip
    scenario = rng.choices(list(SCENARIOS), weights=list(SCENARIOS.values()))[0]
    span = max((today - start).days, 0)
    opened_on = start + timedelta(days=rng.randint(0, span))
    lead = rng.choice(people)
    if scenario == "pre_birth":
        lead = (lead[0], "midwifery")
    reference, child = f"SIM-{seed}-{number:06d}", f"SIM-C-{seed}-{number:06d}"
    step_down = scenario == "step_down"
    plan = Plan(rng, opened_on, today, lead, scenario, people)
    episode = Episode.open(
        reference=reference, child=child, lead_name=lead[0], lead_agency=lead[1], on=opened_on,
        today=today, policy=rng.choice([app.default_policy] * 8 + ["bnes", "darlington"]),
        origin=Origin.STEP_DOWN if step_down else Origin.REFERRAL,
        pre_birth=scenario == "pre_birth",
        recent_social_care_assessment=plan.recent_assessment, author=AUTHOR,
    )  # fmt: skip
    episode.recorded_by(AUTHOR)
    record = ChildRecord(child, author=AUTHOR)
    record.recorded_by(AUTHOR)
    record.episode_opened(reference)
    plan.policy = episode.policy
    plan.sf = random.Random(f"{seed}:{number}:supporting-families")
    plan_episode(plan)
    refused = []
    after = {id(step) for _, step in plan.after_closure}
    for day, step in sorted(plan.steps + plan.after_closure, key=lambda s: s[0]):
        if not episode.is_open and id(step) not in after:
            continue
        try:
            step(episode, today)
        except DomainError as error:
            refused.append(f"{reference} {day}: {error}")
    if not episode.is_open:
        record.episode_closed(reference)
    return episode, record, refused, scenario


def references(seed: int, episodes: int) -> Iterator[str]:
    return (f"SIM-{seed}-{number:06d}" for number in range(episodes))
