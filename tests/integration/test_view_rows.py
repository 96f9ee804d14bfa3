"""A view's rows read by key (`rows_with`) and their texts set (`update_texts`), on both stores:
what the children view does with the rows of children registered in an earlier batch."""

from __future__ import annotations

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
