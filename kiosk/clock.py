"""The injectable clock: real, fixed date, or virtual.

The machine's timers read `monotonic()`; dates (eligibility, validity) read `today()`.
A virtual clock only moves when told to, so a scenario can jump to the next timer when
nothing is pending and whole sessions run as fast as the transports allow.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    def today(self) -> date: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now()

    def today(self) -> date:
        return date.today()


class FixedDateClock:
    """Real time of day and timers, but a fixed calendar date (demos on a given day)."""

    def __init__(self, today: date) -> None:
        self._today = today

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.combine(self._today, datetime.now().time())

    def today(self) -> date:
        return self._today


class VirtualClock:
    """Time that passes only through `advance`; starts at 09:00 on the given day."""

    def __init__(self, today: date, start_hour: int = 9) -> None:
        self._start = datetime.combine(today, datetime.min.time()) + timedelta(hours=start_hour)
        self._elapsed = 0.0
        self._wall_step = 0.0  # what step_wall moved the wall clock by, in all
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed + self._wall_step)

    def step_wall(self, seconds: float) -> None:
        """The wall clock is set, as NTP steps it: now() and today() jump, monotonic() does not
        (issue 15, time faults). Timers read monotonic(), so none fires early, late or twice."""
        with self._lock:
            self._wall_step += seconds

    def today(self) -> date:
        return self.now().date()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._elapsed += seconds

    def advance_to(self, t: float) -> None:
        with self._lock:
            self._elapsed = max(self._elapsed, t)
