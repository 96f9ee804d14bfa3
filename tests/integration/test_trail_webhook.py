"""Digests posted to a webhook (a real HTTP server on 127.0.0.1) through the alerts' delivery
bookkeeping: a refused post is kept and tried again next round; an accepted one never again."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ehqa import demo
from ehqa.clock import fixed
from ehqa.digest_sinks import deliver_digests, webhook_sink
from ehqa.services import Services
from ehqa.store import store_env
from ehqa.trail import write_digest
from tests.e2e.api.test_trail_api import PORTS

DAY = date(2026, 11, 20)


class Receiver(HTTPServer):
    accepting = False
    received: list[tuple[str | None, dict[str, Any]]]


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received.append((self.headers.get("Idempotency-Key"), body))
        self.send_response(200 if self.server.accepting else 503)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    for port in PORTS:  # (the first free port of this feature's range)
        try:
            server = Receiver(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    else:
        pytest.fail(f"no free port in {PORTS}")
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_digest_is_posted_until_accepted_and_then_never_again(
    store_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    services = Services(store_url, clock=fixed(DAY))
    try:
        demo.build(services.app)
        path = tmp_path / "digests.jsonl"
        written = write_digest(store_env(store_url), path, DAY, datetime(2026, 11, 20, 23, 59))
        sink = webhook_sink(f"http://127.0.0.1:{receiver.server_port}/digests")
        sink.backoff = 0.01  # type: ignore[attr-defined]
        assert deliver_digests(services.views, path, sink) == 0
        receiver.accepting = True
        assert deliver_digests(services.views, path, sink) == 1
        assert deliver_digests(services.views, path, sink) == 0
        key, body = receiver.received[-1]
        assert key == f"digest:2026-11-20:{written.position}"
        assert body["root"] == written.root.hex() and body["kind"] == "chain_digest"
        attempts = services.views.query(
            "SELECT attempts, delivered_at IS NOT NULL FROM ehqa_deliveries WHERE alert_id = ?",
            (key,),
        )
        assert attempts == [(2, True)]
    finally:
        services.close()
