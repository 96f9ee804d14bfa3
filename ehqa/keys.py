"""Each child's data key: made when their first personal field is recorded, kept wrapped by the
application's keys (ehqa.keyring) in `ehqa_child_keys`, and destroyed to erase them.

Destroying is thorough where the store allows it: on SQLite the row is deleted with
`secure_delete` on (its bytes overwritten with zeros) and the write-ahead log checkpointed and
truncated; on PostgreSQL the key table is rewritten (`VACUUM FULL`), so its old file, which held
the deleted row, is gone. In the deleted row's place a marker (`erased:`, no key) is left, so
that no process can make the child a new key afterwards (one that loaded the child's record just
before the erasure and records a field after it: `key` refuses, KeyDestroyedError).

Without EHQA_CIPHER_KEYS the data keys are stored unwrapped: erasure still works (the key is
gone), but the store itself is not encrypted.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ehqa.keyring import Keyring
from ehqa.store import postgres_conninfo
from projections.db import ViewDatabase

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12
PLAIN = "plain:"  # a data key stored unwrapped (no application key was set)
WRAPPED = "wrapped:"
DESTROYED = "erased:"  # the child's key was destroyed: no key may be made for them again


class KeyDestroyedError(Exception):
    """The child's data key was destroyed (they were erased): no new one is made."""


class ChildKeys:
    """The per-child data keys of one store (the table is made by ehqa/migrations)."""

    def __init__(self, views: ViewDatabase, env: dict[str, str], keyring: Keyring | None) -> None:
        self.views = views
        self.env = env
        self.keyring = keyring

    def _wrap(self, child: str, key: bytes) -> str:
        if self.keyring is None:
            return PLAIN + base64.b64encode(key).decode()
        return WRAPPED + base64.b64encode(self.keyring.seal(key, child.encode())).decode()

    def _unwrap(self, child: str, stored: str) -> bytes:
        if stored.startswith(PLAIN):
            return base64.b64decode(stored.removeprefix(PLAIN))
        if self.keyring is None:
            raise ValueError(
                f"child {child}'s data key is wrapped: set EHQA_CIPHER_KEYS to read it"
            )
        return self.keyring.open(base64.b64decode(stored.removeprefix(WRAPPED)), child.encode())

    def key(self, child: str) -> bytes:
        """The child's data key, made (and stored) if they have none yet; KeyDestroyedError if
        theirs was destroyed."""
        if self.destroyed(child):
            raise KeyDestroyedError(child)
        found = self.find(child)
        if found is not None:
            return found
        now = datetime.now(UTC).isoformat()
        with self.views.transaction() as cur:
            cur.execute(
                "INSERT INTO ehqa_child_keys (child, wrapped, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (child) DO NOTHING",
                (child, self._wrap(child, _aead().generate_key(256)), now),
            )
        made = self.find(child)
        if made is None:  # (destroyed in between)
            raise KeyDestroyedError(child)
        return made

    def find(self, child: str) -> bytes | None:
        """The child's data key; None if they have none (never had, or it was destroyed)."""
        rows = self.views.query("SELECT wrapped FROM ehqa_child_keys WHERE child = ?", (child,))
        if not rows or rows[0][0] == DESTROYED:
            return None
        return self._unwrap(child, rows[0][0])

    def destroyed(self, child: str) -> bool:
        rows = self.views.query("SELECT wrapped FROM ehqa_child_keys WHERE child = ?", (child,))
        return bool(rows) and rows[0][0] == DESTROYED

    def found(self, children: Iterable[str]) -> dict[str, bytes]:
        """The data keys of those of `children` who have one."""
        wanted, keys = sorted(set(children)), {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for child, stored in self.views.query(
                f"SELECT child, wrapped FROM ehqa_child_keys WHERE child IN ({marks})", chunk
            ):
                if stored != DESTROYED:
                    keys[child] = self._unwrap(child, stored)
        return keys

    def destroy(self, child: str) -> bool:
        """Delete the child's data key so that no copy is left in the store's files, leaving
        the marker that no key may be made for them again; True if there was a key."""
        module = self.env["PERSISTENCE_MODULE"]
        if module == "eventsourcing.sqlite":
            return _destroy_sqlite(self.views, child)
        if module == "eventsourcing.postgres":
            return _destroy_postgres(postgres_conninfo(self.env), self.env, child)
        with self.views.transaction() as cur:
            return _replace_by_marker(cur, child, "?")


def _replace_by_marker(cur: Any, child: str, mark: str) -> bool:
    """The key's row deleted and the marker inserted in its place, in the caller's transaction
    (`mark`: the driver's parameter mark); True if the row held a key."""
    cur.execute(f"DELETE FROM ehqa_child_keys WHERE child = {mark} AND wrapped <> {mark}",
                (child, DESTROYED))  # fmt: skip
    deleted = bool(cur.rowcount)
    cur.execute(
        f"INSERT INTO ehqa_child_keys (child, wrapped, created_at) VALUES ({mark}, {mark}, {mark})"
        " ON CONFLICT (child) DO NOTHING",
        (child, DESTROYED, datetime.now(UTC).isoformat()),
    )
    return deleted


def _destroy_sqlite(views: ViewDatabase, child: str) -> bool:
    """On the views' own connection (a second connection of this process to the same file
    could not truncate the log under the first): deleted with `secure_delete` on for that
    statement only, then the log checkpointed into the file and truncated."""
    views.query("PRAGMA secure_delete=ON")
    try:
        with views.transaction() as cur:
            deleted = _replace_by_marker(cur, child, "?")
    finally:
        views.query("PRAGMA secure_delete=OFF")
    views.query("PRAGMA wal_checkpoint(TRUNCATE)")
    return bool(deleted)


def _destroy_postgres(conninfo: str, env: dict[str, str], child: str) -> bool:
    schema = env.get("POSTGRES_SCHEMA")
    options = f"-c search_path={schema}" if schema else ""
    import psycopg  # (here: an SQLite store never loads the PostgreSQL driver)

    with psycopg.connect(conninfo, autocommit=True, options=options) as conn:
        with conn.transaction(), conn.cursor() as cur:
            deleted = _replace_by_marker(cur, child, "%s")
            row = cur.execute("SELECT txid_current() % 4294967296").fetchone()
        _await_horizon(conn, str(row[0]) if row else "0")
        conn.execute("VACUUM FULL ehqa_child_keys")
    return deleted


HORIZON_WAIT = 30.0  # seconds


def _await_horizon(conn: Any, xid: str) -> None:
    """Wait (at most HORIZON_WAIT) until no other session of this database holds a snapshot
    taken before the deletion (`xid`) committed. VACUUM FULL copies every row version that such
    a snapshot may still see, so the deleted key would be copied into the new file with them."""
    import time

    older = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL"
        " AND age(backend_xmin) >= age(%s::xid)"
    )
    deadline = time.monotonic() + HORIZON_WAIT
    while conn.execute(older, (xid,)).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)


def seal(key: bytes, child: str, field: str, value: str) -> str:
    """One personal field, encrypted with the child's data key (bound to the child and field)."""
    nonce = os.urandom(NONCE)
    sealed = _aead()(key).encrypt(nonce, value.encode(), f"{child}\0{field}".encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, child: str, field: str, sealed: str) -> str | None:
    """The field's value, or None if it cannot be opened with this key."""
    from cryptography.exceptions import InvalidTag

    raw = base64.b64decode(sealed)
    try:
        value = _aead()(key).decrypt(raw[:NONCE], raw[NONCE:], f"{child}\0{field}".encode())
    except InvalidTag:
        return None
    return value.decode()


def _aead() -> type[AESGCM]:
    """AES-GCM (cryptography is loaded when a child's field is sealed or opened, not by every
    command that opens the store)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM
