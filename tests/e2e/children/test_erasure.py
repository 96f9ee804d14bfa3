"""After erasure, no personal field of that child can be read back by any command, query or
direct read of the store's files; the rest of the record stays, and no stored event changes
(so the hash chain over the stored bytes still verifies). On both stores, through the command
line (separate processes) and real HTTP, with the store encrypted at rest."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg

from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.children.helpers import child_json, ehqa, http, ok, open_episode, serving
from tests.e2e.children.rawstore import raw_bytes

KEYS = "k1:" + base64.b64encode(bytes(range(32))).decode()
ENV = {"EHQA_CIPHER_KEYS": KEYS}
NAME, SURNAME, POSTCODE = "Zephyrine Quillfeather", "Quillfeather", "WA10 1AB"
OTHER = "Octavian Brightwater"


def stored(services: Services) -> list[tuple[int, str, bytes]]:
    """Every stored event as the store holds it: position, topic and the bytes of its state."""
    notes = services.app.recorder.select_notifications(start=1, limit=1_000_000)
    return [(n.id, n.topic, bytes(n.state)) for n in notes]


def personal(text: str | bytes) -> list[str]:
    """Which of the erased child's values `text` holds."""
    raw = text if isinstance(text, bytes) else text.encode()
    return [v for v in (NAME, SURNAME, POSTCODE, "WA101AB", "2019-05-04") if v.encode() in raw]


def test_an_erased_child_cannot_be_read_back_anywhere(store_url: str) -> None:
    for child, episode in (("C-1", "EH-1"), ("C-2", "EH-2"), ("C-3", "EH-3")):
        open_episode(store_url, episode, child, **ENV)
    ok(store_url, "record", "child-details", "C-1", "--on", "2025-09-01", "--name", NAME,
       "--date-of-birth", "2019-05-04", "--gender", "female", "--ethnicity", "WIRT",
       "--postcode", "WA9 9ZZ", **ENV)  # fmt: skip
    ok(store_url, "record", "child-details", "C-2", "--on", "2025-09-01", "--name", OTHER, **ENV)
    services = Services(store_url, clock=fixed(date(2026, 1, 15)), cipher_keys=KEYS)
    try:
        with serving(services) as (base, tokens):
            # a correction over HTTP; the answer names the fields, never their values
            status, answer = http(base, tokens["lead"], "POST", "/children/C-1/record_child_details",
                                  {"on": "2025-09-02", "postcode": POSTCODE.lower()})  # fmt: skip
            assert (status, answer) == (200, {"child": "C-1", "recorded": ["postcode"]})
            assert http(base, tokens["lead"], "GET", "/children/C-1")[1]["name"] == NAME
            assert http(base, tokens["other"], "GET", "/children/C-1")[0] == 404
            assert child_json(store_url, "C-1", **ENV)["postcode"] == POSTCODE
            before = stored(services)
            wrapped = services.views.query(
                "SELECT wrapped FROM ehqa_child_keys WHERE child = 'C-1'"
            )[0][0]
            data_key = services.app.child_keys.find("C-1")
            episode_before = ok(store_url, "episode", "EH-1", "--json", **ENV)
            secrets = [wrapped.encode(), data_key, base64.b64encode(data_key)]
            assert not personal(raw_bytes(store_url))  # (encrypted at rest)
            assert any(s in raw_bytes(store_url) for s in secrets[:1])  # (the key is there)

            annex = ok(store_url, "export", "annex-a", "--inspection-date", "2026-01-15", **ENV)
            assert "04/05/2019" in annex  # (before erasure the list shows the date of birth)
            # C-1 erased from the command line, C-3 over HTTP (by an admin only)
            ok(store_url, "erase", "C-1", "--reason", "retention: 25th birthday", **ENV)
            assert http(base, tokens["coordinator"], "POST", "/children/C-3/erase",
                        {"reason": "request"})[0] == 403  # fmt: skip
            status, erased = http(base, tokens["admin"], "POST", "/children/C-3/erase",
                                  {"reason": "the family's request"})  # fmt: skip
            assert status == 200 and erased["erased"] is True

            nothing = {"child": "C-1", "name": None, "date_of_birth": None, "gender": None,
                       "expected_date_of_birth": None, "ethnicity": None, "postcode": None,
                       "erased": True}  # fmt: skip
            assert child_json(store_url, "C-1", **ENV) == nothing
            assert http(base, tokens["lead"], "GET", "/children/C-1") == (200, nothing)
            details = services.child_details("C-1")
            assert details is not None and details.erased and details.name is None
            assert services.children_details(["C-1"])["C-1"] == details
            # another child's record is untouched
            assert child_json(store_url, "C-2", **ENV)["name"] == OTHER
            # nothing personal can be recorded for them again, by either way
            again = ehqa(store_url, "record", "child-details", "C-1", "--on", "2025-12-01",
                         "--name", NAME, **ENV)  # fmt: skip
            assert again.returncode == 1 and "was erased" in again.stderr
            assert http(base, tokens["coordinator"], "POST", "/children/C-1/record_child_details",
                        {"on": "2025-12-01", "name": NAME})[0] == 409  # fmt: skip

            # every other read: none holds a personal field of theirs
            for args in (
                ["episode", "EH-1", "--json"],
                ["timeline", "EH-1"],
                ["deadlines", "--episode", "EH-1"],
                ["access-log"],
                ["retention", "due", "--json"],
            ):
                assert not personal(ok(store_url, *args, **ENV)), args
            for path in (
                "/episodes/EH-1",
                "/episodes/EH-1/timeline",
                "/access-log",
                "/retention/due",
                "/children/C-1",
            ):
                assert not personal(json.dumps(http(base, tokens["admin"], "GET", path)[1])), path
            # the record of what happened stays, anonymous: the episode as it was
            assert ok(store_url, "episode", "EH-1", "--json", **ENV) == episode_before
            # the exports for inspection hold nothing personal of theirs either
            for args in (
                ["export", "annex-a", "--inspection-date", "2026-01-15"],
                ["export", "ssd-early-help"],
                ["export", "chronology", "EH-1"],
            ):
                shown = ok(store_url, *args, **ENV)
                assert not personal(shown) and "04/05/2019" not in shown, args
            # and the chain over the stored bytes still verifies: erasure rewrote no event
            assert ok(store_url, "verify", **ENV).startswith("verified "), "verify after erasure"

            # the store's files hold neither the values nor any copy of the key
            raw = raw_bytes(store_url)
            assert not personal(raw)
            assert [s for s in secrets if s in raw] == []
            # no stored event was changed or removed: only the erasures were added
            after = stored(services)
            assert after[: len(before)] == before
            added = [topic.rsplit(".", 1)[-1] for _, topic, _ in after[len(before) :]]
            assert added == ["Erased", "Registered", "Erased"]
    finally:
        services.close()


def _unwrapped_key(store_url: str) -> bytes:
    """C-1's data key, as it is stored without EHQA_CIPHER_KEYS (once C-1 has a field)."""
    open_episode(store_url, "EH-1", "C-1")
    ok(store_url, "record", "child-details", "C-1", "--on", "2025-09-01", "--name", NAME)
    services = Services(store_url, cipher_keys="")
    try:
        return base64.b64encode(services.app.child_keys.find("C-1"))
    finally:
        services.close()


def test_a_key_stored_unwrapped_is_gone_from_the_files_after_erasure(store_url: str) -> None:
    """Without EHQA_CIPHER_KEYS the data key is stored as it is: visible in the files before
    (so the search below can find it) and nowhere in them after."""
    key = _unwrapped_key(store_url)
    assert key in raw_bytes(store_url) and not personal(raw_bytes(store_url))
    ok(store_url, "erase", "C-1", "--reason", "retention")
    assert key not in raw_bytes(store_url)
    assert child_json(store_url, "C-1")["erased"] is True


def _reader(store_url: str) -> Any:
    """Another session of the store's database, its snapshot taken before the erasure and held
    open: a report or another council's request in the same database, say."""
    if not store_url.startswith("postgresql://"):
        conn = sqlite3.connect(store_url, isolation_level=None)
        conn.execute("BEGIN")
    else:
        schema = parse_qs(urlsplit(store_url).query)["schema"][0]
        conn = psycopg.connect(store_url.split("?", 1)[0], options=f"-c search_path={schema}")
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    catalog = "pg_class" if store_url.startswith("postgresql://") else "sqlite_master"
    conn.execute(f"SELECT count(*) FROM {catalog}").fetchone()  # (not the key table itself)
    return conn


def test_an_erasure_beside_an_older_snapshot_still_leaves_no_copy_of_the_key(
    store_url: str,
) -> None:
    """A session that took its snapshot before the key was deleted may still see the row, so
    the store keeps the row's bytes for it: erasure waits for that session to end before it
    rewrites (PostgreSQL) or truncates (SQLite) what held them."""
    key = _unwrapped_key(store_url)
    reader = _reader(store_url)
    erasing = threading.Thread(target=ok, args=(store_url, "erase", "C-1", "--reason", "x"))
    erasing.start()
    time.sleep(2.0)  # the erasure has deleted the key and waits for the reader
    assert erasing.is_alive()
    reader.rollback()
    reader.close()
    erasing.join(timeout=60)
    assert not erasing.is_alive()
    assert key not in raw_bytes(store_url)
    assert child_json(store_url, "C-1")["erased"] is True
