"""A write's views are caught up by a catch-up that began after the write asked; writes asking
while one runs share the next."""

from __future__ import annotations

import threading

import pytest

from ehqa.api.catch_up import CatchUpGroup


class Held:
    """A catch-up that records when it ran and holds its first run until released."""

    def __init__(self) -> None:
        self.runs = 0
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, rows: object = ()) -> None:
        self.runs += 1
        self.started.set()
        if self.runs == 1:
            assert self.release.wait(30)


def ask(group: CatchUpGroup, runs_seen: list[int], catch_up: Held) -> threading.Thread:
    thread = threading.Thread(target=lambda: (group.after_write(), runs_seen.append(catch_up.runs)))
    thread.start()
    return thread


def test_writes_asking_while_a_catch_up_runs_are_covered_by_one_more_run() -> None:
    catch_up = Held()
    group = CatchUpGroup(catch_up)
    first: list[int] = []
    running = ask(group, first, catch_up)
    assert catch_up.started.wait(30)
    later: list[int] = []
    waiting = [ask(group, later, catch_up) for _ in range(3)]
    for _ in range(3000):  # (until all three have asked)
        if group._asked == 4:
            break
        threading.Event().wait(0.01)
    catch_up.release.set()
    for thread in [running, *waiting]:
        thread.join(30)
    assert first == [1]  # (its own run)
    assert later == [2, 2, 2]  # (not the run under way when they asked: the next, one for all)
    assert catch_up.runs == 2


def test_a_write_asking_alone_runs_a_catch_up_of_its_own() -> None:
    runs: list[str] = []
    group = CatchUpGroup(lambda rows: runs.append("run"))
    group.after_write()
    group.after_write()
    assert runs == ["run", "run"]


def test_the_rows_of_the_writes_a_catch_up_covers_are_handed_to_it_and_kept_if_it_fails() -> None:
    handed: list[list[tuple[object, ...]]] = []
    failing = [True]

    def catch_up(rows: list[tuple[object, ...]]) -> None:
        if failing.pop() if failing else False:
            raise OSError("the store does not answer")
        handed.append(list(rows))

    group = CatchUpGroup(catch_up)
    with pytest.raises(OSError):
        group.after_write([("a",)])
    group.after_write([("b",), ("c",)])
    group.after_write()
    assert handed == [[("a",), ("b",), ("c",)], []]
