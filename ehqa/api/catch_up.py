"""A write's views caught up once for every write waiting at the same moment.

A write answers only once the views its command changes hold its events (the caller's next
read sees the write). It asks for that after its events are committed and outside the
worker's write lock, so the next write records meanwhile. A write hands in its access-log
rows with its request; the catch-up commits them in its own transaction (before any of those
writes is answered), so a write's entry costs no commit of its own. One catch-up runs at a time; a
write that finds one running waits for it to end, and then either finds itself covered by a
catch-up that began after its events were committed, or runs the next one, for itself and
every write that asked meanwhile. The catch-up moves each view's position by compare-and-set
(projections.runner), so it never applies an event twice beside the follower or another
worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

Rows = list[tuple[Any, ...]]


class CatchUpGroup:
    def __init__(self, catch_up: Callable[[Rows], object]) -> None:
        self._catch_up = catch_up
        self._guard = threading.Lock()  # (held only to count)
        self._running = threading.Lock()  # (held while a catch-up runs)
        self._asked = 0  # writes that asked, in order
        self._covered = 0  # every write up to this one is in the views
        self._rows: Rows = []  # the access-log rows of the writes not yet covered

    def after_write(self, rows: Sequence[tuple[Any, ...]] = ()) -> None:
        """Return once a catch-up that began after this call has ended (and committed `rows`)."""
        with self._guard:
            self._asked += 1
            ticket = self._asked
            self._rows.extend(rows)
        with self._running:
            if self._covered >= ticket:
                return  # (a catch-up that began after this write was asked for has ended)
            with self._guard:
                covers = self._asked  # (each of these was committed before it asked)
                rows, self._rows = self._rows, []
            try:
                self._catch_up(rows)
            except BaseException:
                with self._guard:  # (kept for the next catch-up, ahead of those handed in since)
                    self._rows[:0] = rows
                raise
            self._covered = covers
