"""A query's freshness check (projections.freshness) asked of the log's table through the views'
own connection answers exactly as the recorder does, so that a query on an SQLite file need not
open the event store; and a view that is behind is still caught up."""

from __future__ import annotations

from datetime import date

from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import simulate
from ehqa.store import SQLITE_EVENTS
from projections.freshness import all_current, in_recorder
from projections.histories import EventLog
from projections.topics import VIEW_TOPICS

TODAY = date(2026, 11, 20)


def test_the_tables_answer_is_the_recorders(sqlite_url: str) -> None:
    services = Services(sqlite_url, clock=fixed(TODAY))
    assert services._newer is None  # (a new file: its events table made by the log, at once)
    simulate(services.app, 12, 3, date(2026, 1, 5), TODAY)
    services.close()
    again = Services(sqlite_url, clock=fixed(TODAY))
    assert again._newer is not None and again._log is None  # (the store's code not loaded)
    table = EventLog(again.views, f'"{SQLITE_EVENTS}"', "rowid", as_text=True).newer
    recorder = in_recorder(again.log.recorder)
    last = again.log.recorder.max_notification_id() or 0
    assert last > 20
    for topics in [*VIEW_TOPICS.values(), ["no.such:Topic"]]:
        for after in (0, 1, last // 3, last // 2, last - 1, last, last + 5):
            assert table(topics, after) == recorder(topics, after), (topics, after)
    again.close()


def test_a_view_behind_the_log_is_caught_up(sqlite_url: str) -> None:
    writer = Services(sqlite_url, clock=fixed(TODAY))
    simulate(writer.app, 4, 5, date(2026, 6, 1), TODAY)
    reader = Services(sqlite_url, clock=fixed(TODAY))
    newer = reader._newer
    assert newer is not None
    assert not all_current(reader.views, VIEW_TOPICS, newer)
    assert reader.catch_up() > 0
    assert all_current(reader.views, VIEW_TOPICS, newer)
    assert reader.catch_up() == 0
    simulate(writer.app, 2, 6, date(2026, 9, 1), TODAY)  # (more, written by another)
    assert not all_current(reader.views, VIEW_TOPICS, newer)
    assert reader.catch_up() > 0
    writer.close()
    reader.close()


def test_postgresql_and_memory_stores_ask_the_recorder(store_url: str) -> None:
    services = Services(store_url if store_url.startswith("postgres") else "memory:")
    assert services._newer is None and services._log is not None
    services.close()
