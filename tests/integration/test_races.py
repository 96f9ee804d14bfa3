"""Races between separate processes, each with its own connection to the same store."""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta
from typing import Any

from ehqa.application import ConflictError, EhqaApplication
from ehqa.clock import fixed
from ehqa.store import store_env

TODAY = date(2026, 1, 15)
CONTEXT = multiprocessing.get_context("spawn")


def _application(url: str) -> EhqaApplication:
    return EhqaApplication(store_env(url), clock=fixed(TODAY))


def _open_for_same_child(url: str, reference: str, barrier: Any, results: Any) -> None:
    app = _application(url)
    barrier.wait(timeout=30)
    try:
        app.open_episode(
            reference, child="C-RACE", lead_name="Jo", lead_agency="school", on=date(2024, 1, 2)
        )
        results.put((reference, "opened"))
    except Exception as error:  # the test asserts on the kind and message
        results.put((reference, f"{type(error).__name__}: {error}"))
    finally:
        app.close()


def _see_child_repeatedly(url: str, worker: int, barrier: Any, results: Any) -> None:
    app = _application(url)
    barrier.wait(timeout=30)
    for n in range(10):
        on = date(2024, 2, 1) + timedelta(days=worker * 10 + n)
        try:
            app.change("EH-1", lambda e, t, on=on: e.see_child(on, t))
            results.put(("ok", on.isoformat()))
        except ConflictError as error:
            results.put(("conflict", str(error)))
    app.close()


def _run(target: Any, args_for: list[tuple[Any, ...]], expected: int) -> list[tuple[str, str]]:
    barrier = CONTEXT.Barrier(len(args_for))
    results = CONTEXT.Queue()
    processes = [
        CONTEXT.Process(target=target, args=(*args, barrier, results)) for args in args_for
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in range(expected)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def test_racing_to_open_a_second_episode_for_a_child_exactly_one_succeeds(store_url: str) -> None:
    outcomes = dict(_run(_open_for_same_child, [(store_url, f"EH-{n}") for n in range(4)], 4))
    winners = [ref for ref, outcome in outcomes.items() if outcome == "opened"]
    assert len(outcomes) == 4
    assert len(winners) == 1, outcomes
    for ref, outcome in outcomes.items():
        if ref != winners[0]:
            assert outcome.startswith("ChildAlreadyOpenError"), outcome
            assert f"already has an open episode, {winners[0]}" in outcome
    app = _application(store_url)
    assert [ref for ref in outcomes if app.exists(ref)] == winners
    app.close()


def test_two_writers_on_one_episode_lose_nothing_and_duplicate_nothing(store_url: str) -> None:
    app = _application(store_url)
    app.open_episode("EH-1", child="C-1", lead_name="Jo", lead_agency="school", on=date(2024, 1, 2))
    outcomes = _run(_see_child_repeatedly, [(store_url, 0), (store_url, 1)], 20)
    accepted = sorted(on for kind, on in outcomes if kind == "ok")
    conflicts = [message for kind, message in outcomes if kind == "conflict"]
    assert len(outcomes) == 20
    assert all("EH-1 was changed by someone else" in message for message in conflicts)
    recorded = sorted(i["on"] for i in app.timeline("EH-1") if i["event"] == "ChildSeen")
    assert recorded == accepted
    assert app.get_episode("EH-1").version == 1 + len(accepted)
    app.close()
