"""A device adapter's worker thread: commands return at once, results go to the event sink.

Every job runs on the worker; an exception inside a job is a bug in the adapter, so it is
caught here and never crosses into the kiosk's main loop. The worker tells `on_crash` the
exception's class name (never its message, which could carry anything); adapters pass a
callback that posts `DeviceLogged(device, JOB_CRASHED, detail)` to their sink (`crash_reporter`).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from devices.events import DeviceLogged, DeviceNote
from devices.status import DeviceKind

Sink = Callable[[Any], None]
CrashReport = Callable[[str], None]


def crash_reporter(sink: Sink, device: DeviceKind) -> CrashReport:
    """An `on_crash` that posts the crash as a DeviceLogged note to `sink`, never raising."""

    def report(detail: str) -> None:
        # The sink is the only place to report to: a broken one cannot be told.
        with contextlib.suppress(Exception):
            sink(DeviceLogged(device, DeviceNote.JOB_CRASHED, detail))

    return report


class Worker:
    def __init__(self, name: str, idle: Callable[[], float | None] | None = None, *,
                 on_crash: CrashReport | None = None) -> None:
        """`idle` runs whenever no job is queued (polling); it returns seconds until it wants to run again.
        `on_crash` is told the exception class of every job (or idle run) that raised."""
        self._name = name
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._idle = idle
        self._on_crash = on_crash
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.crashes = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def request_stop(self) -> None:
        """Ask the thread to end after what it is doing, without waiting (stop() waits)."""
        self._stopping.set()
        self._jobs.put(None)

    def stop(self, timeout: float = 2.0) -> None:
        self.request_stop()
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
        except Exception as exc:
            self.crashes += 1
            if self._on_crash is not None:
                with contextlib.suppress(Exception):  # reporting must not take the worker down either
                    self._on_crash(type(exc).__name__)
            return 0.5
