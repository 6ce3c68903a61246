"""The read models of projections/ (issue #3) as the service uses them.

One `Views` per app, created on first use. Every list or report request first catches the views
up with the event log (a no-op when they are current), so a client reads its own writes; a
background thread also follows the log so that a long backlog (after a demo load or a restart) is
not paid by one request. Views and their in-memory caches are not thread-safe: one lock serialises
catch-up and queries (reports are not the hot path; commands never wait for it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ledger.application import Ledger

log = logging.getLogger("timeledger.api.readmodels")
FOLLOW_SECONDS = 2.0  # how often the background thread catches the views up
CATCH_UP_PAGE_EVENTS = 2000


class ReadModels:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._views: Any = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def current(self) -> Iterator[Any]:
        """The views, caught up with every event stored so far, held for the caller's queries."""
        with self._lock:
            views = self._open()
            views.catch_up(page_events=CATCH_UP_PAGE_EVENTS)
            yield views

    def _open(self) -> Any:
        if self._views is None:
            from projections.projector import Views

            self._views = Views(self._ledger)
        return self._views

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name="timeledger-views", daemon=True)
            self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(FOLLOW_SECONDS):
            try:
                with self._lock:
                    self._open().catch_up(page_events=CATCH_UP_PAGE_EVENTS, events_max=20 * CATCH_UP_PAGE_EVENTS)
            except Exception:  # the next request's own catch-up raises it to the caller
                log.exception("background catch-up of the read models failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            if self._views is not None:
                self._views.close()
                self._views = None
