"""Delivery of raised alerts from the outbox to sinks: at least once, de-duplicated by id.

Each sink's progress is kept per alert in `ehqa_deliveries`; an alert is marked delivered only
after its sink accepted it, so a crash in between sends it again, and the sinks drop repeats by
the alert's id (the file sink by the ids already in its file, a webhook receiver by the
`Idempotency-Key` header).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from projections.db import ViewDatabase


class Sink(Protocol):
    name: str

    def send(self, alert: dict[str, Any]) -> None: ...


class JsonLinesSink:
    """Appends each alert as one JSON line to a file, skipping ids already written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    def _written(self) -> set[str]:
        if not self.path.exists():
            return set()
        with self.path.open(encoding="utf-8") as lines:
            return {json.loads(line)["alert_id"] for line in lines if line.strip()}

    def send(self, alert: dict[str, Any]) -> None:
        if alert["alert_id"] in self._written():
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(alert) + "\n")


class WebhookSink:
    """POSTs each alert as JSON, with retries and backoff; the id travels as Idempotency-Key."""

    def __init__(
        self, url: str, retries: int = 3, backoff: float = 0.5, timeout: float = 5
    ) -> None:
        self.url, self.retries, self.backoff, self.timeout = url, retries, backoff, timeout
        self.name = f"webhook:{url}"

    def send(self, alert: dict[str, Any]) -> None:
        import urllib.error  # (here: a command that sends nothing does not load the HTTP client)
        import urllib.request

        body = json.dumps(alert).encode()
        last: Exception | None = None
        for attempt in range(self.retries):
            request = urllib.request.Request(
                self.url, data=body, method="POST",
                headers={"Content-Type": "application/json", "Idempotency-Key": alert["alert_id"]},
            )  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if 200 <= response.status < 300:
                        return
                    last = RuntimeError(f"HTTP {response.status}")
            except (urllib.error.URLError, OSError) as error:
                last = error
            time.sleep(self.backoff * 2**attempt)
        raise RuntimeError(f"{self.url} refused alert {alert['alert_id']}: {last}")


def deliver(db: ViewDatabase, sinks: Sequence[Sink], batch: int = 200) -> int:
    """Send every undelivered alert to every sink; return how many deliveries succeeded."""
    delivered = 0
    for sink in sinks:
        rows = db.query(
            "SELECT o.alert_id, o.body FROM ehqa_outbox o LEFT JOIN ehqa_deliveries d"
            " ON d.alert_id = o.alert_id AND d.sink = ? WHERE d.delivered_at IS NULL"
            " ORDER BY o.seq LIMIT ?",
            (sink.name, batch),
        )
        for ident, body in rows:
            delivered += send_once(db, sink, ident, json.loads(body))
    return delivered


def send_once(db: ViewDatabase, sink: Sink, ident: str, body: dict[str, Any]) -> bool:
    """One attempt to send `body` to `sink`, recorded in ehqa_deliveries under `ident` (a
    failure is recorded, and tried again next round); whether it was delivered."""
    error = None
    try:
        sink.send(body)
    except Exception as failure:
        error = str(failure)
    now = None if error else datetime.now(UTC).isoformat()
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO ehqa_deliveries (sink, alert_id, attempts, delivered_at, last_error)"
            " VALUES (?, ?, 1, ?, ?) ON CONFLICT (sink, alert_id) DO UPDATE SET"
            " attempts = ehqa_deliveries.attempts + 1, delivered_at = ?, last_error = ?",
            (sink.name, ident, now, error, now, error),
        )
    return error is None
