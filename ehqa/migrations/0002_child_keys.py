"""Each child's data key, wrapped by the application's keys (ehqa.keys): one row per child,
deleted (with its bytes overwritten where the store allows) when the child is erased.

Frozen: it imports nothing of ehqa's (the code it would import changes; this must not).
"""

from __future__ import annotations

from yoyo import step

__depends__ = {"0001_service_tables"}

steps = [
    step(
        """CREATE TABLE IF NOT EXISTS ehqa_child_keys (
            child TEXT PRIMARY KEY,
            wrapped TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "DROP TABLE ehqa_child_keys",
    )
]
