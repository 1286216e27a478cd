"""What the scenario player waits for before it lets kiosk time pass, and what it says of a
session that never ended (sim/runner.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.status import DeviceKind
from kiosk.diagnostics_counters import log_records
from kiosk.view import View
from sim.scenario import Step

# How long a card pushed into the slot may take to show in the kiosk's printer status before kiosk
# time passes anyway (a printer that does not answer never shows it): the status is polled every
# 0.2 s, so only a machine stalled for seconds comes near it.
SLOT_EFFECT_CAP_S = 20.0
LOG_TAIL = 14  # log events quoted in a stuck session's failure
LOG_KEYS = ("device", "state", "media", "action", "result", "note", "detail", "op")


class Effect:
    """A device action's consequence on its way: wall time for it to show (the reader polls, the
    printer senses), and optionally a sign that it has, waited for up to a cap."""

    def __init__(self) -> None:
        self.deadline = 0.0
        self._seen: Callable[[], bool] | None = None
        self._cap = 0.0

    def expect(self, seconds: float = 3.0, seen: Callable[[], bool] | None = None) -> None:
        now = time.monotonic()
        self.deadline = now + seconds
        self._seen, self._cap = seen, now + SLOT_EFFECT_CAP_S

    def over(self) -> bool:
        now = time.monotonic()
        if self._seen is not None and (now >= self._cap or self._seen()):
            self._seen = None
        return now >= self.deadline and self._seen is None


def printer_changed(kiosk: Any) -> Callable[[], bool]:
    """Taken before a card is pushed into the printer's slot: true once the kiosk's printer status
    differs from now. Until then no kiosk time passes (its poll may come late on a loaded machine,
    and a board's idle timer must not run out meanwhile)."""
    before = kiosk.availability.status.get(DeviceKind.PRINTER)
    return lambda: kiosk.availability.status.get(DeviceKind.PRINTER) != before


def where(view: View, steps: list[Step], step_i: int, log_file: str | Path) -> str:
    """Where a session that did not end was stuck: its screen, the step it waited to take, and the
    kiosk log's last events (masked by the log itself), so that a failure in CI says how it came there."""
    if step_i >= len(steps):
        at = f"stuck on {view.screen_id}, every step taken"
    else:
        step = steps[step_i]
        what = step.target or step.screen or step.resident or ""
        at = f"stuck on {view.screen_id}, waiting to {step.do} {what}".rstrip()
    runs: list[list[Any]] = []
    for r in log_records(log_file):
        line = " ".join([str(r.get("event", "?")), *(f"{k}={r[k]}" for k in LOG_KEYS if r.get(k))])
        if runs and runs[-1][0] == line:  # repeats (the backend's health checks): one entry, counted
            runs[-1][1] += 1
        else:
            runs.append([line, 1])
    events = "; ".join(line if n == 1 else f"{line} (x{n})" for line, n in runs[-LOG_TAIL:])
    return f"{at}; last log events: {events}"
