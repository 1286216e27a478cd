"""A device adapter's worker thread: commands return at once, results go to the event sink.

Every job runs on the worker; an exception inside a job is a bug in the adapter, so it is
caught here, turned into the adapter's typed failure by `on_error`, and never crosses
into the kiosk's main loop.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

Sink = Callable[[Any], None]

_log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, idle: Callable[[], float | None] | None = None) -> None:
        """`idle` runs whenever no job is queued (polling); it returns seconds until it wants to run again."""
        self._name = name
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._idle = idle
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _run(self) -> None:
        wait: float | None = 0.0
        while not self._stopping.is_set():
            try:
                job = self._jobs.get(timeout=wait) if wait is None or wait > 0 else self._jobs.get_nowait()
            except queue.Empty:
                job = None
                if self._idle is not None and not self._stopping.is_set():
                    wait = self._safe(self._idle)
                    continue
            if job is None:
                if self._stopping.is_set():
                    return
                continue
            self._safe(job)
            wait = 0.0 if self._idle is not None else None

    def _safe(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:
            _log.exception("device worker %s: job failed", self._name)
            return 0.5
