"""Several views caught up in one pass (a write's own views) end as catching each up alone
would leave them, and give way, with nothing written, wherever the runner must decide."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ehqa.auth import ACCESS_INSERT
from ehqa.services import Services
from ehqa.simulate import references, simulate
from projections import runner, tracking
from projections.db import Cursor
from projections.together import catch_up_together

from ..conftest import SIM_TODAY, dump_views

VIEWS = ("episodes", "timeline", "children")


def _positions(services: Services) -> dict[str, int]:
    return {name: tracking.position(services.views, name) for name in VIEWS}


def _log(action: str) -> Callable[[Cursor], None]:
    """What a server's write hands in: its access-log row."""
    row = ("2026-11-20T10:00:00+00:00", "Ann", "admin", None, action, None, "ann")
    return lambda cur: cur.executemany(ACCESS_INSERT, [row])


def _logged(services: Services) -> list[str]:
    return [r[0] for r in services.views.query("SELECT action FROM ehqa_access_log")]


def _recorded(services: Services, episodes: int, seed: int) -> list[str]:
    report = simulate(services.app, episodes, seed, date(2025, 6, 2), SIM_TODAY)
    assert report.refused == []
    return list(references(seed, episodes))


def _tables(services: Services) -> dict[str, list[tuple[object, ...]]]:
    tables = {t for name in VIEWS for t in services.projection(name).tables}
    return {t: rows for t, rows in dump_views(services).items() if t in tables}


def test_views_caught_up_together_match_views_rebuilt(services: Services) -> None:
    _recorded(services, 30, seed=3)
    services.catch_up()  # (every view current and none empty)
    refs = _recorded(services, 20, seed=4)  # (then a few events behind)
    chosen = [services.projection(name) for name in VIEWS]
    assert catch_up_together(services.app, services.views, chosen, _log("written")) is not None
    assert _logged(services) == ["written"]
    head = services.app.recorder.max_notification_id()
    assert _positions(services) == dict.fromkeys(VIEWS, head)
    assert catch_up_together(services.app, services.views, chosen) == 0  # (nothing left)
    view = services.read.episode(refs[0])
    assert view is not None
    assert view["version"] == services.app.get_episode(refs[0]).version
    caught = _tables(services)
    for name in VIEWS:
        services.rebuild(name)
    assert _tables(services) == caught


def test_an_empty_view_or_a_replay_under_way_is_left_to_the_runner(services: Services) -> None:
    _recorded(services, 5, seed=5)
    chosen = [services.projection(name) for name in VIEWS]
    assert catch_up_together(services.app, services.views, chosen) is None  # (empty views)
    assert _positions(services) == dict.fromkeys(VIEWS, 0)
    services.catch_up()
    _recorded(services, 3, seed=6)
    before = _positions(services)
    with services.views.transaction() as cur:
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, ?)",
            (tracking.REPLAYING.format("timeline"), 1),
        )
    assert catch_up_together(services.app, services.views, chosen) is None
    assert _positions(services) == before


def test_a_view_moved_by_another_process_meanwhile_moves_none_of_them(services: Services) -> None:
    _recorded(services, 5, seed=7)
    services.catch_up()
    _recorded(services, 3, seed=8)
    before = _positions(services)
    projection = services.projection("timeline")
    original = projection.prepare

    def moved_meanwhile(batch: object) -> object:
        prepared = original(batch)  # type: ignore[arg-type]
        del projection.prepare  # (the other process's catch-up prepares as usual)
        runner.catch_up(services.app, services.views, services.projection("timeline"))
        return prepared

    projection.prepare = moved_meanwhile  # type: ignore[method-assign]
    try:
        chosen = [services.projection(name) for name in VIEWS]
        assert catch_up_together(services.app, services.views, chosen, _log("lost")) is None
    finally:
        vars(projection).pop("prepare", None)
    assert _logged(services) == []  # (rolled back with the views)
    after = _positions(services)
    assert after["episodes"] == before["episodes"]  # (rolled back with the others)
    assert after["timeline"] > before["timeline"]  # (the runner moved it meanwhile)
    services.catch_up_views(VIEWS)
    assert set(_positions(services).values()) == {services.app.recorder.max_notification_id()}
