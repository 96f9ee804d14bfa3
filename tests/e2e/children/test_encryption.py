"""Encryption at rest with rotating keys, through the command line on both stores: events are
stored encrypted with the newest key, read with any listed key, never rewritten; an event whose
key is not listed stops the run with one line (and the views do not skip it)."""

from __future__ import annotations

import base64
import json

from ehqa.keyring import MAGIC
from ehqa.services import Services
from tests.e2e.children.helpers import child_json, ehqa, ok, open_episode
from tests.e2e.children.rawstore import raw_bytes

K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()


def stored(url: str, keys: str) -> list[tuple[int, bytes]]:
    services = Services(url, cipher_keys=keys)
    try:
        notes = services.app.recorder.select_notifications(start=1, limit=1_000_000)
        return [(n.id, bytes(n.state)) for n in notes]
    finally:
        services.close()


def test_a_new_key_encrypts_new_events_and_the_old_ones_stay_readable(store_url: str) -> None:
    open_episode(store_url, "EH-1", "C-1", EHQA_CIPHER_KEYS=K1)
    ok(store_url, "record", "child-details", "C-1", "--on", "2025-09-01", "--name",
       "Wilhelmina Featherstonehaugh", EHQA_CIPHER_KEYS=K1)  # fmt: skip
    first = stored(store_url, K1)
    assert {state[: len(MAGIC) + 3] for _, state in first} == {MAGIC + b"\x02k1"}
    assert b"Featherstonehaugh" not in raw_bytes(store_url)
    # rotation: the new key first, the old one kept
    both = f"{K2},{K1}"
    ok(store_url, "record", "consent", "EH-1", "--on", "2025-09-02", "--agencies",
       "primary_school", EHQA_CIPHER_KEYS=both)  # fmt: skip
    ok(store_url, "projections", "rebuild", "episodes", EHQA_CIPHER_KEYS=both)
    later = stored(store_url, both)
    assert later[: len(first)] == first  # (never rewritten)
    assert {state[: len(MAGIC) + 3] for _, state in later[len(first) :]} == {MAGIC + b"\x02k2"}
    assert (
        child_json(store_url, "C-1", EHQA_CIPHER_KEYS=both)["name"]
        == "Wilhelmina Featherstonehaugh"
    )
    shown = json.loads(ok(store_url, "episode", "EH-1", "--json", EHQA_CIPHER_KEYS=both))
    assert shown["consent_agencies"] == ["primary_school"]
    # the old key left out: one line naming the key, and nothing is skipped or changed
    for args in (["child", "C-1"], ["projections", "rebuild", "episodes"]):
        done = ehqa(store_url, *args, EHQA_CIPHER_KEYS=K2)
        assert done.returncode == 2, done.stdout
        assert "encrypted with key 'k1', which EHQA_CIPHER_KEYS does not list" in done.stderr
        assert "Traceback" not in done.stderr
    assert "no dead letters" in ok(store_url, "projections", "dead-letters", EHQA_CIPHER_KEYS=both)
    assert stored(store_url, both) == later


def test_a_malformed_key_setting_is_refused_without_showing_the_key(sqlite_url: str) -> None:
    secret = base64.b64encode(b"s" * 20).decode()
    done = ehqa(sqlite_url, "migrate", EHQA_CIPHER_KEYS=f"k1:{secret}")
    assert done.returncode == 2
    assert "EHQA_CIPHER_KEYS: key 1 (k1): 20 bytes (give 16, 24 or 32)" in done.stderr
    assert secret not in done.stderr
