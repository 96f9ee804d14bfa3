"""Before it listens, a server freezes what start-up made, so that no collection of the garbage
walks it again while requests wait (see ehqa.api.warm)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ehqa.api import create_app
from ehqa.api.warm import warm
from ehqa.services import Services


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # (the rest of the test run collects as before)


def test_a_warmed_server_has_frozen_what_start_up_made(sqlite_url: str, unfrozen: None) -> None:
    services = Services(sqlite_url)
    try:
        app = create_app(services, background=False)
        assert gc.get_freeze_count() == 0
        warm(app, services)
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # (the app's routes and models, the modules, the calendar)
        assert not any(o is app for o in gc.get_objects())  # (the app itself among them)
    finally:
        services.close()
