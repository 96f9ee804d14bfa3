"""Group commit for what a read writes: its access-log entry, and a token's time of last use.

A read does not write: it hands its rows here and answers, so it never takes SQLite's write
lock and never waits for a writer. A thread of this worker commits everything handed in, in one
transaction, within `EVERY` seconds of the first row waiting (sooner than a second, unless the
store's write lock is held longer than that), and at shutdown. On SQLite that thread takes its
turn with the worker's writes (`turn`), so that beside a sweep writing batch after batch it does
not wait on SQLite's own lock, backing off.

A write's own access-log entry is not deferred: it is committed before the write is answered
(in the transaction that catches its views up: ehqa.api.catch_up).
A flush that fails (the store unreachable) keeps its rows and is tried again.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from projections.db import ViewDatabase

log = logging.getLogger("ehqa.api")
EVERY = 0.2  # seconds a row may wait before its group is committed


class GroupCommit:
    def __init__(
        self,
        db: ViewDatabase,
        every: float = EVERY,
        turn: AbstractContextManager[Any] | None = None,
    ) -> None:
        self._db, self._every = db, every
        self._turn = turn or nullcontext()  # (SQLite: the worker's write turn, ehqa.api.core)
        self._waiting: dict[str, list[tuple[Any, ...]]] = {}
        self._guard = threading.Lock()  # (held only to hand rows in or take them out)
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Commit `rows` with `sql` (an INSERT or UPDATE) soon, with the others waiting."""
        with self._guard:
            self._waiting.setdefault(sql, []).extend(rows)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, daemon=True, name="ehqa-group-commit"
                )
                self._thread.start()
        self._wake.set()

    def flush(self) -> None:
        """Commit every row waiting now (before a read of the access log, and at shutdown)."""
        with self._flushing:
            with self._guard:
                waiting, self._waiting = self._waiting, {}
            if not waiting:
                return
            try:
                with self._turn, self._db.transaction() as cur:
                    for sql, rows in waiting.items():
                        cur.executemany(sql, rows)
            except BaseException:
                with self._guard:  # (kept, ahead of any handed in meanwhile)
                    for sql, rows in self._waiting.items():
                        waiting.setdefault(sql, []).extend(rows)
                    self._waiting = waiting
                raise

    def close(self) -> None:
        """Commit what waits and stop the thread."""
        with self._guard:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            self._stop.wait(self._every)  # (the group: what is handed in meanwhile joins it)
            try:
                self.flush()
            except Exception:
                log.exception("access log: a group of entries could not be committed; retrying")
                self._wake.set()
