"""Digests posted to a webhook, through the alerts' delivery bookkeeping (`ehqa_deliveries`).

The digest file (EHQA_DIGEST_FILE) is the outbox: every digest in it is posted to the webhook
(EHQA_DIGEST_WEBHOOK) until the webhook accepts it, at least once, with the digest's key
(`digest:DATE:POSITION`) as its Idempotency-Key, as alerts are (schedulers.delivery). Each
attempt is kept in `ehqa_deliveries` under the sink `digest-webhook:URL`.
"""

from __future__ import annotations

from pathlib import Path

from ehqa import digest as digests
from projections.db import ViewDatabase
from schedulers.delivery import Sink, WebhookSink, send_once


def webhook_sink(url: str) -> Sink:
    sink = WebhookSink(url)
    sink.name = f"digest-webhook:{url}"
    return sink


def deliver_digests(views: ViewDatabase, path: Path, sink: Sink) -> int:
    """Post each digest of the file the sink has not accepted yet; how many it accepted now."""
    if not path.exists():
        return 0
    delivered = 0
    for digest in digests.read(path):
        key = f"digest:{digest.date.isoformat()}:{digest.position}"
        done = views.query(
            "SELECT delivered_at FROM ehqa_deliveries WHERE sink = ? AND alert_id = ?",
            (sink.name, key),
        )
        if done and done[0][0]:
            continue
        body = {"alert_id": key, "kind": "chain_digest", "date": digest.date.isoformat(),
                "position": digest.position, "root": digest.root.hex()}  # fmt: skip
        delivered += send_once(views, sink, key, body)
    return delivered
