"""The kiosk's runtime: one event queue, named timers on the kiosk clock, work in flight, and the
executor that runs backend calls and CPU work off the main thread.

It knows nothing of states or services: the controller hands it a dispatcher for events
and one for timers that ran out. Nothing here blocks the main thread longer than the
`max_wait` it is given.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kiosk import backend as bk
from kiosk.clock import Clock
from kiosk.events import BackendReply, WorkFailed
from kiosk.logevents import EventLog, LogEvent

# pcscd polls a reader about every 0.4 s: a card that arrived is seen well within this.
CHIP_WAIT_WALL_S = 3.0


class Runtime:
    def __init__(self, clock: Clock, log: EventLog, events: queue.Queue[Any] | None = None) -> None:
        self.clock = clock
        self.log = log
        # Adapters are built before the kiosk with this queue's put as their sink.
        self.events: queue.Queue[Any] = events if events is not None else queue.Queue()
        self.timers: dict[str, float] = {}
        self.pending: set[str] = set()
        # Device time with a bound in real seconds (pcscd seeing a card arrive): it keeps the kiosk
        # from counting as idle, so a virtual clock does not jump past it, but only for so long:
        # a chip that never arrives must let the operation timer run out.
        self._holds: dict[str, float] = {}
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-work")

    # --- events -------------------------------------------------------------------------

    def post(self, event: Any) -> None:
        """The one sink every adapter and worker posts to; safe from any thread."""
        self.events.put(event)

    def pump(self, max_wait: float, dispatch: Callable[[Any], None], on_timer: Callable[[str], None]) -> int:
        """Wait up to `max_wait` real seconds for an event, then handle every queued event and due timer."""
        handled = 0
        wait = max_wait
        deadline = self.next_deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - self.clock.monotonic()))
        try:
            event = self.events.get(timeout=wait) if wait > 0 else self.events.get_nowait()
        except queue.Empty:
            event = None
        while event is not None:
            dispatch(event)
            handled += 1
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        return handled + self._fire_due(on_timer)

    def is_idle(self) -> bool:
        """Nothing in flight that a device or the backend will answer."""
        now = time.monotonic()
        return not self.pending and self.events.empty() and all(t <= now for t in self._holds.values())

    def hold(self, name: str, wall_seconds: float) -> None:
        """Not idle while `name` lasts, for at most `wall_seconds` of real time from its first hold."""
        self._holds.setdefault(name, time.monotonic() + wall_seconds)

    def release(self, name: str) -> None:
        self._holds.pop(name, None)

    # --- timers -------------------------------------------------------------------------

    def set_timer(self, name: str, seconds: float) -> None:
        self.timers[name] = self.clock.monotonic() + seconds

    def cancel(self, *names: str) -> None:
        for name in names:
            self.timers.pop(name, None)

    def armed(self, name: str) -> bool:
        return name in self.timers

    def seconds_left(self, names: tuple[str, ...]) -> int | None:
        """Whole seconds until the first of these timers runs out (a screen's countdown); None if none is armed."""
        due = [self.timers[n] for n in names if n in self.timers]
        return max(0, math.ceil(min(due) - self.clock.monotonic())) if due else None

    def next_deadline(self) -> float | None:
        return min(self.timers.values()) if self.timers else None

    def _fire_due(self, on_timer: Callable[[str], None]) -> int:
        fired = 0
        now = self.clock.monotonic()
        for name, due in sorted(self.timers.items(), key=lambda kv: kv[1]):
            if due <= now and self.timers.get(name) == due:
                del self.timers[name]
                on_timer(name)
                fired += 1
        return fired

    # --- work off the main thread -------------------------------------------------------

    def call(self, op: str, fn: Callable[[], Any], session: str,
             then: Callable[[Any], None] | None = None) -> None:
        """A backend call off the main thread; its result comes back as a BackendReply."""
        self.pending.add(f"backend.{op}")
        self.log.emit(LogEvent.BACKEND_CALL_STARTED, session=session, op=op)

        def run() -> None:
            try:
                result = fn()
            except Exception:  # the client never raises; a bug in it must not lose the reply
                result = bk.BackendFailure(bk.FailureKind.BAD_REPLY)
            self.post(BackendReply(session, op, result, then))

        self._executor.submit(run)

    def work(self, what: str, session: str, fn: Callable[[], Any]) -> None:
        """CPU work off the main thread (photo analysis, card-face rendering); its event comes back."""
        self.pending.add(f"work.{what}")

        def run() -> None:
            try:
                self.post(fn())
            except Exception:
                self.post(WorkFailed(session, what))

        self._executor.submit(run)

    def background(self, fn: Callable[[], Any], failed: Callable[[], None]) -> None:
        """CPU work nobody waits for (the live preview's guidance): off the main thread like
        `work`, but not counted as in flight, so a virtual clock is never held up by it; its
        event comes back, or `failed` is called should it raise."""

        def run() -> None:
            try:
                self.post(fn())
            except Exception:
                failed()

        self._executor.submit(run)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
