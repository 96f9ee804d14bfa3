"""Idempotency keys: a command sent again with the same key (by the same caller) is recorded once.

A key belongs to the caller's stable subject, never to a display name, so a namesake can neither
replay nor block another person's key. Claiming a key is one atomic insert (racing duplicates
find it taken and wait for the first answer, never a unique-key error). A claim is a lease: if
the worker that held it died before it answered, a retry after the lease takes the key over and
runs the request. Whether the first attempt had already recorded its events is decided by the
store itself: the events of a keyed command are saved with a tracking record named after the
subject and key (`tracking`), in the same transaction, so a second attempt finds it and never
records them twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import Tracking

from projections.db import ViewDatabase

# The table (ehqa_idempotency) is made and changed by ehqa/migrations.
LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


class KeyReused(Exception):
    """The key was used for a different request."""


class StillRunning(Exception):
    """Another attempt with this key holds its lease."""


def fingerprint(request: str) -> str:
    return hashlib.sha256(request.encode()).hexdigest()


def tracking(subject: str, key: str) -> Tracking:
    """The tracking record saved with a keyed command's events: one per (subject, key), so the
    store itself refuses to record the command a second time."""
    digest = hashlib.sha256(f"{subject}\0{key}".encode()).hexdigest()
    return Tracking(application_name="idempotency:" + digest, notification_id=1)


class IdempotencyKeys:
    def __init__(self, db: ViewDatabase, lease: timedelta = LEASE) -> None:
        self.db = db
        self.lease = lease

    def claim(self, subject: str, key: str, request: str) -> Answer | str:
        """A string (the claim's own stamp): the caller holds the key now and must run the
        request, then `answer` with that stamp. An Answer: the first attempt's, to send again.
        Raises KeyReused or StillRunning."""
        digest, now = fingerprint(request), datetime.now(UTC).isoformat()
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO ehqa_idempotency (principal, key, request, started_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (principal, key) DO NOTHING",
                (subject, key, digest, now),
            )
            if cur.rowcount == 1:
                return now
            cur.execute(
                "SELECT request, status, body, started_at FROM ehqa_idempotency"
                " WHERE principal = ? AND key = ?",
                (subject, key),
            )
            row = cur.fetchone()
        if row is None:  # released by a failed attempt a moment ago
            raise StillRunning(key)
        request_digest, status, body, started_at = row
        if request_digest != digest:
            raise KeyReused(key)
        if status is not None:
            return Answer(status, json.loads(body))
        lease_ends = datetime.fromisoformat(started_at) + self.lease if started_at else None
        if lease_ends is not None and lease_ends > datetime.now(UTC):
            raise StillRunning(key)
        with self.db.transaction() as cur:  # the attempt that held it died: take it over
            cur.execute(
                "UPDATE ehqa_idempotency SET started_at = ? WHERE principal = ? AND key = ?"
                " AND status IS NULL AND (started_at = ? OR started_at IS NULL)",
                (now, subject, key, started_at),
            )
            if cur.rowcount != 1:  # another retry took it over first
                raise StillRunning(key)
        return now

    def answer(self, subject: str, key: str, stamp: str, status: int, body: Any) -> None:
        """Keep the answer, if this attempt still holds the key (one that lost its lease to a
        retry leaves the retry's answer alone)."""
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE ehqa_idempotency SET status = ?, body = ?"
                " WHERE principal = ? AND key = ? AND started_at = ? AND status IS NULL",
                (status, json.dumps(body, default=str), subject, key, stamp),
            )

    def release(self, subject: str, key: str, stamp: str) -> None:
        """The attempt failed without an answer worth keeping (a server error): a retry may
        run at once."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM ehqa_idempotency WHERE principal = ? AND key = ? AND started_at = ?"
                " AND status IS NULL",
                (subject, key, stamp),
            )
