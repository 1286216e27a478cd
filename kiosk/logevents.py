"""The one catalog of log events: code, level, fixed message, typed fields.

Only fields declared for an event reach the log, and none of them can hold a name,
an ID number (masked at most), an address, a phone number or a photo (SH-PRIV-1).
Long actions log a start and an end with a disposition.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EventSpec:
    code: str
    level: int
    message: str
    fields: tuple[str, ...] = ()


class LogEvent(Enum):
    KIOSK_STARTED = EventSpec("K001", logging.INFO, "kiosk started", ("terminal", "mode", "policy"))
    KIOSK_STOPPED = EventSpec("K002", logging.INFO, "kiosk stopped")
    STATE_ENTERED = EventSpec("K010", logging.DEBUG, "state entered", ("state",))
    SERVICES_CHANGED = EventSpec("K011", logging.INFO, "services offered changed", ("available", "unavailable"))
    DEVICE_STATUS = EventSpec("D001", logging.INFO, "device status", ("device", "state", "media", "detail"))
    DEVICE_NOTE = EventSpec("D002", logging.INFO, "device note", ("device", "note", "detail"))
    SESSION_STARTED = EventSpec("S001", logging.INFO, "session started", ("session", "service"))
    SESSION_ENDED = EventSpec("S002", logging.INFO, "session ended", ("session", "service", "outcome", "reason"))
    ID_CARD_READ = EventSpec("S010", logging.INFO, "ID card read", ("session", "card_type", "masked_id"))
    ID_READ_FAILED = EventSpec("S011", logging.WARNING, "ID card read failed", ("session", "error"))
    REFUSED = EventSpec("S020", logging.INFO, "service refused", ("session", "reason"))
    PHOTO_CHECKED = EventSpec("S030", logging.INFO, "photo checked", ("session", "attempt", "problem"))
    BACKEND_CALL_STARTED = EventSpec("B001", logging.DEBUG, "backend call started", ("session", "op"))
    BACKEND_CALL_ENDED = EventSpec("B002", logging.INFO, "backend call ended", ("session", "op", "disposition"))
    ISSUANCE_STARTED = EventSpec("I001", logging.INFO, "issuance started", ("session", "permit_number"))
    ISSUANCE_STEP = EventSpec("I002", logging.INFO, "issuance step", ("session", "step", "disposition"))
    ISSUANCE_ENDED = EventSpec("I003", logging.INFO, "issuance ended", ("session", "permit_number", "disposition"))
    DEVICE_FAULT = EventSpec("F001", logging.ERROR, "device fault in session", ("session", "device", "error"))
    RECOVERY_STARTED = EventSpec("R001", logging.WARNING, "recovery of unfinished journal rows started",
                                 ("rows", "printer_card"))
    RECOVERY_ACTION = EventSpec("R002", logging.INFO, "recovery action", ("row", "rule", "action", "disposition"))
    RECOVERY_ENDED = EventSpec("R003", logging.INFO, "recovery ended", ("disposition",))
    # The core's own faults and disagreements
    CARD_STUCK = EventSpec("F002", logging.ERROR, "a card could not be retracted: technician needed",
                           ("device", "error"))
    DECISION_DISAGREED = EventSpec("F003", logging.ERROR,
                                   "the backend's decision disagrees with the kiosk's reading of RULES.md",
                                   ("session", "op", "backend", "kiosk"))
    TRIGGER_REFUSED = EventSpec("K900", logging.ERROR, "a trigger the current state does not take (a bug)",
                                ("state", "trigger"))


class EventLog:
    """Writes catalog events as JSON lines; also keeps them for the scenario report."""

    def __init__(self, path: Path | None = None, level: int = logging.INFO, clock_now: Any = None) -> None:
        self._path = path
        self._level = level
        self._now = clock_now
        self._lock = threading.Lock()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")
        self.recent: list[dict[str, Any]] = []

    def emit(self, event: LogEvent, **values: Any) -> None:
        spec = event.value
        unknown = set(values) - set(spec.fields)
        if unknown:
            raise ValueError(f"log event {event.name}: undeclared field {sorted(unknown)[0]}")
        if spec.level < self._level:
            return
        record: dict[str, Any] = {"code": spec.code, "event": event.name, "msg": spec.message}
        if self._now is not None:
            record["t"] = self._now().isoformat(timespec="seconds")
        for key, value in values.items():
            record[key] = value if isinstance(value, int | float | bool) or value is None else str(value)
        with self._lock:
            self.recent.append(record)
            if len(self.recent) > 1000:
                del self.recent[:500]
            if self._fh is not None:
                self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
