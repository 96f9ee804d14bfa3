"""A catch-up takes an episode this process has just saved as it was saved, without reading its
history back, and leaves the views exactly as a rebuild would; where the batch ends short of
the save, or the saver changed its own copy afterwards, the views still show what is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ehqa.services import Services
from ehqa.simulate import references, simulate
from projections.views import EpisodesProjection

from ..conftest import SIM_TODAY, dump_views

EPISODE_TABLES = ("ehqa_episodes", "ehqa_clocks", "ehqa_alerts")


def _recorded(services: Services, episodes: int, seed: int) -> list[str]:
    report = simulate(services.app, episodes, seed, date(2025, 6, 2), SIM_TODAY)
    assert report.refused == []
    return list(references(seed, episodes))


def _open_after_catch_up(services: Services, episodes: int, seed: int) -> list[str]:
    """Episodes simulated and the views caught up with them: those still open."""
    refs = _recorded(services, episodes, seed)
    services.catch_up()
    return [r for r in refs if services.app.get_episode(r).is_open]


def _episodes_view(services: Services) -> EpisodesProjection:
    projection = services.projection("episodes")
    assert isinstance(projection, EpisodesProjection)
    return projection


def _counting_loads(projection: EpisodesProjection) -> list[tuple[UUID, int]]:
    """Every episode the view reads back from the store from now on."""
    loads: list[tuple[UUID, int]] = []
    original: Callable[[UUID, int], Any] = projection._load

    def load(episode_id: UUID, version: int) -> Any:
        loads.append((episode_id, version))
        return original(episode_id, version)

    projection._load = load
    return loads


def _as_rebuilt(services: Services) -> None:
    """The episodes view's tables as they are, beside the same tables rebuilt from the log."""
    caught = {t: rows for t, rows in dump_views(services).items() if t in EPISODE_TABLES}
    services.rebuild("episodes")
    assert caught == {t: rows for t, rows in dump_views(services).items() if t in EPISODE_TABLES}


def _see_child(services: Services, reference: str, day: date) -> Any:
    return services.app.change(reference, lambda e, today: e.see_child(day, today), by="ann")


def test_episodes_saved_here_are_caught_up_without_reading_them_back(services: Services) -> None:
    changed = _open_after_catch_up(services, 6, seed=21)[:3]  # (the views made, and current)
    _episodes_view(services)._cache.clear()  # (as in a process that did not meet them)
    loads = _counting_loads(_episodes_view(services))
    assert changed
    for reference in changed:
        _see_child(services, reference, SIM_TODAY)
    _recorded(services, 4, seed=22)  # (new episodes, each saved event by event)
    services.catch_up()
    assert loads == []
    _as_rebuilt(services)


def test_an_episode_saved_here_then_changed_elsewhere_is_read_back_only_if_it_must_be(
    store_url: str,
) -> None:
    """Saved here, then caught up and changed by another process: a catch-up here meeting the
    next version first starts from the copy (one version behind); meeting a later one first
    (the copy stale), it reads the episode back."""
    here, elsewhere = Services(store_url), Services(store_url)
    try:
        behind, stale = _open_after_catch_up(here, 16, seed=26)[:2]
        _episodes_view(here)._cache.clear()
        loads = _counting_loads(_episodes_view(here))
        for reference in (behind, stale):
            _see_child(here, reference, SIM_TODAY)  # (a copy of each kept here)
        elsewhere.catch_up()  # (the views past both saves)
        _see_child(elsewhere, stale, SIM_TODAY)
        elsewhere.catch_up()  # (and past that one)
        _see_child(elsewhere, behind, SIM_TODAY)  # (the copy's next version)
        _see_child(elsewhere, stale, SIM_TODAY)  # (two past the copy)
        here.catch_up_one("episodes")
        stale_episode = here.app.get_episode(stale)
        assert loads == [(stale_episode.id, stale_episode.version - 1)]
        _as_rebuilt(here)
    finally:
        here.close()
        elsewhere.close()


def test_a_save_whose_copy_cannot_be_handed_on_is_still_saved_and_shown(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _open_after_catch_up(services, 16, seed=27)[0]

    def broken(self: EpisodesProjection, aggregates: object) -> None:
        raise RuntimeError("cannot copy")

    monkeypatch.setattr(EpisodesProjection, "saved", broken)
    episode = _see_child(services, reference, SIM_TODAY)  # (no error: the events are committed)
    services.catch_up()
    view = services.read.episode(reference)
    assert view is not None and view["version"] == episode.version
    _as_rebuilt(services)


def test_a_batch_ending_short_of_a_save_shows_the_episode_as_at_the_batch_end(
    services: Services,
) -> None:
    reference = _open_after_catch_up(services, 2, seed=23)[0]
    before = services.app.get_episode(reference).version
    _see_child(services, reference, SIM_TODAY)
    _see_child(services, reference, SIM_TODAY)  # (two saves: the second, two events ahead)
    loads = _counting_loads(_episodes_view(services))
    services.catch_up_one("episodes", batch_size=1)  # (one event a batch)
    version = services.read.episode(reference)
    assert version is not None and version["version"] == before + 2
    assert len(loads) == 1 and loads[0][1] == before + 1  # (read back at the first batch's end)
    _as_rebuilt(services)


def test_a_change_the_saver_makes_to_its_copy_after_saving_is_not_in_the_views(
    services: Services,
) -> None:
    reference = _open_after_catch_up(services, 2, seed=24)[0]
    episode = _see_child(services, reference, SIM_TODAY)
    saved = episode.version
    episode.see_child(SIM_TODAY, SIM_TODAY)  # (changed after the save, and never saved)
    services.catch_up()
    view = services.read.episode(reference)
    assert view is not None and view["version"] == saved
    _as_rebuilt(services)


@pytest.mark.parametrize("kept", [1, 3])
def test_at_most_so_many_saved_episodes_are_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    from projections import episodes_view

    monkeypatch.setattr(episodes_view, "SAVED_KEPT", kept)
    open_refs = _open_after_catch_up(services, 16, seed=25)[:4]
    assert len(open_refs) == 4
    _episodes_view(services)._cache.clear()  # (what it met before: read back unless kept)
    for reference in open_refs:
        _see_child(services, reference, SIM_TODAY)
    loads = _counting_loads(_episodes_view(services))
    services.catch_up()
    assert len(loads) == 4 - kept  # (the earliest saved were let go, and read back)
    _as_rebuilt(services)
