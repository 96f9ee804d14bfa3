"""A view's rows read by key (`rows_with`) and their texts set (`update_texts`), on both stores:
what the children view does with the rows of children registered in an earlier batch."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from ehqa.services import Services
from projections.db import VALUES_A_STATEMENT, PostgresViews

COLUMNS = ("record_id", "child", "open_episode", "episodes")
# texts a row may hold: quotes, a backslash, JSON's own characters, letters beyond ASCII
ODD = ['EH-"1"', "EH\\2", '["x", {"y": null}]', "Siân-Zoë 🙂", ""]


def _rows(count: int) -> list[tuple[str, str, str | None, str]]:
    return [(f"{n:032x}", f"child-{n}", None if n % 3 else f"EH-{n}", "[]") for n in range(count)]


def test_rows_are_read_by_key_however_many_keys(services: Services) -> None:
    rows = _rows(2 * VALUES_A_STATEMENT + 5)
    with services.views.transaction() as cur:
        cur.insert_rows("ehqa_children", COLUMNS, rows)
    wanted = [row[0] for row in rows[::2]] + ["f" * 32]  # (and one no row has)
    with services.views.transaction() as cur:
        found = cur.rows_with("ehqa_children", "record_id", COLUMNS[1:], wanted)
        none = cur.rows_with("ehqa_children", "record_id", COLUMNS[1:], [])
    assert sorted(found) == rows[::2]
    assert none == []


def test_texts_are_set_as_given_and_other_rows_left_alone(services: Services) -> None:
    rows = _rows(len(ODD) + 3)
    with services.views.transaction() as cur:
        cur.insert_rows("ehqa_children", COLUMNS, rows)
    changes = [(rows[n][0], None if n == 1 else text, f'["{n}", {text!r}]')
               for n, text in enumerate(ODD)]  # fmt: skip
    with services.views.transaction() as cur:
        cur.update_texts("ehqa_children", "record_id", ("open_episode", "episodes"), changes)
        cur.update_texts("ehqa_children", "record_id", ("open_episode", "episodes"), [])
    after = services.views.query(f"SELECT {', '.join(COLUMNS)} FROM ehqa_children")
    expected = [(r, rows[n][1], opened, episodes) for n, (r, opened, episodes) in
                enumerate(changes)] + rows[len(ODD):]  # fmt: skip
    assert sorted(after) == sorted(expected)


@pytest.mark.postgres
def test_postgresql_tables_leave_room_for_updates_and_skip_shown_columns_statistics(
    postgres_url: str,
) -> None:
    services = Services(postgres_url)
    try:
        assert isinstance(services.views, PostgresViews)
        options = services.views.query(
            "SELECT reloptions FROM pg_class WHERE oid = 'ehqa_children'::regclass"
        )
        assert options == [(["fillfactor=70"],)]
        unplanned = services.views.query(
            "SELECT attrelid::regclass::text, attname FROM pg_attribute WHERE attnum > 0 AND attstattarget = 0"
            " AND attrelid::regclass::text LIKE 'ehqa_%' ORDER BY 1, 2"
        )
        assert unplanned == [("ehqa_clocks", "exceptions"), ("ehqa_outbox", "body"),
                             ("ehqa_timeline", "body"), ("ehqa_timeline", "label")]  # fmt: skip
        Services(postgres_url).close()  # (opened again: the option is kept, not set twice)
    finally:
        services.close()


def _second_episode(services: Services, child: str, first: str, second: str) -> None:
    """A child's second episode, opened after its first closed, caught up in a later batch than
    the child's registration (so its row is read and updated, not inserted)."""
    app = services.app
    app.open_episode(first, child=child, lead_name="Jo", lead_agency="school", on=date(2026, 1, 5))
    services.catch_up()
    app.change(first, lambda e, t: e.close("no_further_action", "done", date(2026, 1, 8), t))
    app.open_episode(second, child=child, lead_name="Jo", lead_agency="school",
                     on=date(2026, 1, 9))  # fmt: skip
    services.catch_up()


def _child_row(services: Services, child: str) -> tuple[Any, list[str]]:
    [(opened, episodes)] = services.views.query(
        "SELECT open_episode, episodes FROM ehqa_children WHERE child = ?", [child]
    )
    return opened, json.loads(episodes)


def test_a_later_episode_of_megabytes_is_updated_into_its_childs_row_and_no_view_stops(
    services: Services,
) -> None:
    huge = "EH-" + "x" * 1_048_576  # (recorded through the domain, past the edge's bounds)
    _second_episode(services, "C-BIG", "EH-BIG-1", huge)
    assert _child_row(services, "C-BIG") == (huge, ["EH-BIG-1", huge])
    dead = [(d.view, d.originator_version) for d in services.dead_letters()]
    if not services.database_url.startswith("postgres"):
        assert dead == []
        return
    # PostgreSQL cannot index a key that long: that episode's opening is dead-lettered for the
    # episodes view (the store itself did not fail), and every view carries on
    assert dead == [("episodes", 1)]
    assert "index row" in services.dead_letters("episodes")[0].reason


def test_a_later_episode_holding_nul_is_dead_lettered_on_postgresql_alone(
    services: Services,
) -> None:
    """NUL and control characters in a child's later episode, recorded through the domain (as a
    release without edge validation would have): SQLite holds them; PostgreSQL's text cannot
    hold NUL, so that one event is dead-lettered for the children view, its batch's others
    applied, and the view carries on."""
    odd = "EH-\u0000\u0001\u001b\u007f"
    _second_episode(services, "C-NUL", "EH-NUL-1", odd)
    _second_episode(services, "C-OK", "EH-OK-1", "EH-OK-2")  # (caught up after it)
    assert _child_row(services, "C-OK") == ("EH-OK-2", ["EH-OK-1", "EH-OK-2"])
    dead = services.dead_letters("children")
    if not services.database_url.startswith("postgres"):
        assert dead == []
        assert _child_row(services, "C-NUL") == (odd, ["EH-NUL-1", odd])
        return
    assert [(d.view, d.originator_version) for d in dead] == [("children", 4)]
    assert _child_row(services, "C-NUL") == (None, ["EH-NUL-1"])  # (its closure applied)


@pytest.mark.parametrize(
    "summary",
    ['Siân-Zoë 🙂 \u0000\u0001\u001b\u007f "q" \\u', "x" * 1_048_576],
    ids=["nul-control-non-ascii", "a-megabyte"],
)
def test_a_timeline_body_holds_any_text_as_recorded_live_and_rebuilt(
    services: Services, summary: str
) -> None:
    """A closure summary of NUL, control characters and letters beyond ASCII, or of a megabyte,
    recorded through the domain (past the edge's bounds): the timeline's body gives it back on
    both stores (its JSON escapes NUL, which PostgreSQL's text cannot hold), and a rebuild
    writes the live rows. (A lone surrogate cannot be stored at all; one escaped in stored JSON
    is test_described's.)"""
    app = services.app
    app.open_episode("EH-ODD-1", child="C-ODD", lead_name="Jo", lead_agency="school",
                     on=date(2026, 1, 5))  # fmt: skip
    app.change("EH-ODD-1", lambda e, t: e.close("no_further_action", summary, date(2026, 1, 8), t))
    services.catch_up()

    def rows() -> list[tuple[Any, ...]]:
        return services.views.query(
            "SELECT version, event, label, body FROM ehqa_timeline ORDER BY version"
        )

    live = rows()
    assert json.loads(live[-1][3])["summary"] == summary.strip()
    assert services.dead_letters("timeline") == []
    services.rebuild("timeline")
    assert rows() == live
