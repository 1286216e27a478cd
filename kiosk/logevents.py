"""The one catalog of log events: code, level, fixed message, typed fields.

Only fields declared for an event reach the log, and none of them can hold a name,
an ID number (masked at most), an address, a phone number or a photo (SH-PRIV-1).
Long actions log a start and an end with a disposition.

This is the kiosk's one log channel, and the only module of kiosk/ and devices/ that
imports the standard `logging` package: for its level numbers, and as one optional sink
(`logger_sink`). Everything else logs through an `EventLog`; device adapters post
`DeviceLogged` notes, which the core logs through `log_device_note`.

An `EventLog` drops events below its level (the `logging.level` setting), writes the rest
as JSON lines to its file, keeps the latest for the scenario report, and hands each record
to its sinks: `stdout_sink` (JSON lines on stdout, for journald: `logging.stdout = true`)
and `logger_sink` (a stdlib logger, for a host program that collects stdlib logging).
Its file may rotate by size (`logging.rotate_bytes`, `logging.rotate_files`): kiosk.jsonl,
then kiosk.jsonl.1 (the newest old one) ... kiosk.jsonl.N, the oldest dropped, so the log
on disk never exceeds about (N + 1) × rotate_bytes.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from devices.events import DeviceLogged


@dataclass(frozen=True)
class EventSpec:
    code: str
    level: int
    message: str
    fields: tuple[str, ...] = ()


_DEVICE_NOTE_FIELDS = ("device", "note", "detail")


class LogEvent(Enum):
    KIOSK_STARTED = EventSpec("K001", logging.INFO, "kiosk started", ("terminal", "mode", "policy"))
    KIOSK_STOPPED = EventSpec("K002", logging.INFO, "kiosk stopped")
    STATE_ENTERED = EventSpec("K010", logging.DEBUG, "state entered", ("state",))
    SERVICES_CHANGED = EventSpec("K011", logging.INFO, "services offered changed", ("available", "unavailable"))
    # The translations laid out at boot (screens/warm.py); `error`: its file unreadable, the text left cold.
    TEXT_WARMED = EventSpec("K012", logging.INFO, "text laid out at boot",
                            ("wraps", "widths", "skipped", "ms", "error"))
    DEVICE_STATUS = EventSpec("D001", logging.INFO, "device status", ("device", "state", "media", "detail", "supplies"))
    # A device adapter's DeviceLogged, one event per severity of its note (devices/events.py, NOTE_SEVERITY).
    DEVICE_NOTE = EventSpec("D002", logging.INFO, "device note", _DEVICE_NOTE_FIELDS)
    DEVICE_NOTE_DEBUG = EventSpec("D003", logging.DEBUG, "device note", _DEVICE_NOTE_FIELDS)
    DEVICE_TROUBLE = EventSpec("D004", logging.WARNING, "device trouble", _DEVICE_NOTE_FIELDS)
    DEVICE_CRASH = EventSpec("D005", logging.ERROR, "device adapter fault", _DEVICE_NOTE_FIELDS)
    SESSION_STARTED = EventSpec("S001", logging.INFO, "session started", ("session", "service"))
    SESSION_ENDED = EventSpec("S002", logging.INFO, "session ended", ("session", "service", "outcome", "reason"))
    ID_CARD_READ = EventSpec("S010", logging.INFO, "ID card read", ("session", "card_type", "masked_id"))
    ID_READ_FAILED = EventSpec("S011", logging.WARNING, "ID card read failed", ("session", "error"))
    REFUSED = EventSpec("S020", logging.INFO, "service refused", ("session", "reason"))
    PHOTO_CHECKED = EventSpec("S030", logging.INFO, "photo checked", ("session", "attempt", "problem"))
    BACKEND_CALL_STARTED = EventSpec("B001", logging.DEBUG, "backend call started", ("session", "op"))
    BACKEND_CALL_ENDED = EventSpec("B002", logging.INFO, "backend call ended", ("session", "op", "disposition"))
    # The backend client's own exchanges (kiosk/backend_client.py): request ids, never request bodies.
    BACKEND_ANSWERED = EventSpec("B010", logging.DEBUG, "backend answered",
                                 ("op", "request_id", "attempts", "ms"))
    BACKEND_FAILED = EventSpec("B011", logging.WARNING, "backend exchange failed",
                               ("op", "request_id", "disposition", "status", "attempts", "ms"))
    BACKEND_BAD_REPLY = EventSpec("B012", logging.WARNING, "backend reply breaks the contract",
                                  ("op", "request_id", "field"))
    ISSUANCE_STARTED = EventSpec("I001", logging.INFO, "issuance started", ("session", "permit_number"))
    ISSUANCE_STEP = EventSpec("I002", logging.INFO, "issuance step", ("session", "step", "disposition"))
    ISSUANCE_ENDED = EventSpec("I003", logging.INFO, "issuance ended", ("session", "permit_number", "disposition"))
    # The journal (kiosk/journal.py): `write` is the Journal method, `value` its step or final.
    JOURNAL_REFUSED = EventSpec("J001", logging.ERROR, "journal refused a write",
                                ("row", "write", "value", "problem", "detail"))
    JOURNAL_MIGRATED = EventSpec("J002", logging.INFO, "journal schema migrated", ("from_version", "to_version"))
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
    # The ID card's photo decoder (kiosk/wlt.py): decoder class names and exception class names only.
    PHOTO_DECODER_FAILED = EventSpec("W001", logging.WARNING, "ID photo decoder failed", ("decoder", "error"))
    PHOTO_DECODER_BAD_PHOTO = EventSpec("W002", logging.WARNING, "ID photo decoder returned a photo of the wrong size",
                                        ("decoder",))
    PHOTO_LIBRARY_UNUSABLE = EventSpec("W003", logging.ERROR, "vendor WLT library not usable", ("error",))
    PHOTO_LIBRARY_LOADED = EventSpec("W004", logging.INFO, "vendor WLT library loaded", ("function",))
    PHOTO_LIBRARY_REFUSED = EventSpec("W005", logging.WARNING, "vendor WLT library returned an error",
                                      ("function", "result"))
    # Technician diagnostics (kiosk/flows/diagnostics*.py): a technician card's id, never a PIN.
    TECHNICIAN_CARD = EventSpec("T001", logging.INFO, "technician card read", ("card", "result"))
    TECHNICIAN_PIN_WRONG = EventSpec("T002", logging.WARNING, "technician PIN wrong", ("card", "wrong", "lockout_s"))
    TECHNICIAN_ENTERED = EventSpec("T003", logging.INFO, "diagnostics entered", ("card",))
    TECHNICIAN_LEFT = EventSpec("T004", logging.INFO, "diagnostics left", ("card", "why"))
    SELFTEST_RESULT = EventSpec("T010", logging.INFO, "self-test result", ("device", "test", "outcome", "message"))
    SUPPLY_ALERT = EventSpec("T011", logging.WARNING, "supply needs a technician", ("supply", "level"))
    TECHNICIAN_ACTION = EventSpec("T012", logging.INFO, "technician action", ("card", "action", "result"))
    # Residence registration (kiosk/flows/registration.py): how the proof came, never its number.
    PROOF_VERIFIED = EventSpec("G001", logging.INFO, "residence proof verified", ("session", "presented", "reason"))
    PROOF_PAYLOAD_REJECTED = EventSpec("G002", logging.INFO, "scanned code is not a proof's", ("session", "problem"))
    REGISTRATION_DECLARED = EventSpec("G003", logging.INFO, "residence registration declared", ("session", "kind"))
    # Fleet telemetry (fleet/, kiosk/remote.py): each remote command, accepted or refused; the broker link.
    FLEET_COMMAND = EventSpec("M001", logging.WARNING, "remote command", ("command", "id", "result", "why"))
    FLEET_LINK = EventSpec("M002", logging.INFO, "fleet broker link", ("state", "queued", "detail"))
    FLEET_DROPPED = EventSpec("M003", logging.WARNING, "fleet outbox full: oldest messages dropped", ("dropped",))
    # The resident's help (issue 13): a staff call is an alert for the people on the floor; no personal data.
    STAFF_CALLED = EventSpec("H001", logging.WARNING, "resident called staff", ("session", "state"))
    HELP_OPENED = EventSpec("H002", logging.INFO, "resident opened help", ("session", "state"))
    # The ends of a session (issue 13, kiosk/flows/ending.py, kiosk/retention.py): codes and numbers only.
    MORE_TIME = EventSpec("E001", logging.INFO, "resident asked for more time", ("session", "state", "times"))
    RETRACT_WARNING = EventSpec("E002", logging.WARNING, "card at the slot: last warning before the retract",
                                ("session", "state"))
    CARD_RETENTION = EventSpec("E003", logging.WARNING, "card retained: retention record written",
                               ("session", "number", "reason"))
    # Storage and TLS faults (issue 15): the journal's disk, the backend's certificates.
    JOURNAL_STORAGE_FAULT = EventSpec("J003", logging.ERROR, "journal storage cannot take writes: journaling "
                                      "services out of service", ("problem", "free_bytes"))
    JOURNAL_STORAGE_OK = EventSpec("J004", logging.INFO, "journal storage writable again", ("free_bytes",))
    BACKEND_TLS_FAILED = EventSpec("B020", logging.ERROR, "backend TLS handshake failed", ("op", "cause"))


LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def level_number(level: int | str) -> int:
    """A level as `logging.level` spells it ("debug", "info", "warning", "error") or as a number."""
    if isinstance(level, int):
        return level
    try:
        return LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}") from None


Record = dict[str, Any]
Sink = Callable[[Record], None]


# sd-daemon(3)'s priority prefixes: journald strips "<N>" from a line and keeps N as its priority.
_JOURNAL_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


def stdout_sink(stream: TextIO | None = None, *, priority: bool = False) -> Sink:
    """Each record as one JSON line on `stream` (default: the process's stdout, read by journald).

    `priority`: each line starts with "<N>", the event's syslog priority, which journald takes
    off the line and keeps (so `journalctl -p warning` filters); the line left is the JSON."""

    def write(record: Record) -> None:
        out = stream if stream is not None else sys.stdout
        prefix = f"<{_JOURNAL_PRIORITY[LogEvent[record['event']].value.level]}>" if priority else ""
        out.write(prefix + json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()

    return write


def logger_sink(logger: logging.Logger | str = "kiosk") -> Sink:
    """Each record to a stdlib logger, at the event's level, as its JSON text."""
    target = logging.getLogger(logger) if isinstance(logger, str) else logger

    def forward(record: Record) -> None:
        spec = LogEvent[record["event"]].value
        target.log(spec.level, "%s", json.dumps(record, ensure_ascii=False))

    return forward


class EventLog:
    """Writes catalog events as JSON lines; also keeps them for the scenario report.

    `level`: events below it are dropped (a number or a `logging.level` name). `sinks`: each
    emitted record is handed to these as well; a failing sink is counted in `sink_failures`
    and never stops the kiosk. `stdout`: shorthand for adding `stdout_sink()`.
    """

    def __init__(self, path: Path | None = None, level: int | str = logging.INFO, clock_now: Any = None, *,
                 stdout: bool = False, sinks: Iterable[Sink] = (), rotate_bytes: int = 0,
                 rotate_files: int = 0, journal_priority: bool = False,
                 taps: Iterable[Callable[[LogEvent, dict[str, Any]], None]] = ()) -> None:
        """`rotate_bytes` > 0: the file is rotated once it reaches this size, keeping `rotate_files` old ones.
        `taps`: told of every event, before the level filter (kiosk/metrics.py's counters)."""
        self._taps = list(taps)
        self._path = path
        self._rotate_bytes = rotate_bytes
        self._rotate_files = rotate_files
        self._level = level_number(level)
        self._now = clock_now
        self._lock = threading.Lock()
        self._fh: TextIO | None = None
        self._sinks: list[Sink] = list(sinks)
        if stdout:
            self._sinks.append(stdout_sink(priority=journal_priority))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a", encoding="utf-8")
        self._size = path.stat().st_size if path is not None else 0
        self.recent: list[Record] = []
        self.sink_failures = 0
        self.rotate_failures = 0  # a rotation the disk refused: the file grows on, the kiosk serves on

    @property
    def level(self) -> int:
        return self._level

    def add_sink(self, sink: Sink) -> None:
        """A sink added after the log was made (the fleet link, fleet/link.py); it must not block."""
        with self._lock:
            self._sinks.append(sink)

    def enabled(self, event: LogEvent) -> bool:
        return event.value.level >= self._level

    def emit(self, event: LogEvent, **values: Any) -> None:
        spec = event.value
        unknown = set(values) - set(spec.fields)
        if unknown:  # checked before the level, so a filtered event with a wrong field still fails tests
            raise ValueError(f"log event {event.name}: undeclared field {sorted(unknown)[0]}")
        for tap in self._taps:
            try:
                tap(event, values)
            except Exception:  # counters must never stop the kiosk
                self.sink_failures += 1
        if spec.level < self._level:
            return
        record: Record = {"code": spec.code, "event": event.name, "msg": spec.message}
        if self._now is not None:
            record["t"] = self._now().isoformat(timespec="seconds")
        for key, value in values.items():
            record[key] = value if isinstance(value, int | float | bool) or value is None else str(value)
        with self._lock:
            self.recent.append(record)
            if len(self.recent) > 1000:
                del self.recent[:500]
            if self._fh is not None:
                line = json.dumps(record, ensure_ascii=False) + "\n"
                self._fh.write(line)
                self._fh.flush()
                self._size += len(line.encode("utf-8"))
                if self._rotate_bytes and self._size >= self._rotate_bytes:
                    try:
                        self._rotate()
                    except OSError:
                        self.rotate_failures += 1
                        self._fh = self._path.open("a", encoding="utf-8") if self._path is not None else None
            for sink in self._sinks:
                try:
                    sink(record)
                except Exception:  # a closed stdout or a broken handler must not stop the kiosk
                    self.sink_failures += 1

    def _rotate(self) -> None:
        """kiosk.jsonl → .1 → .2 … → .N; the oldest goes. Under the lock, between two whole lines."""
        assert self._path is not None and self._fh is not None
        self._fh.close()
        path = self._path
        oldest = path.with_name(f"{path.name}.{self._rotate_files}")
        if self._rotate_files == 0:
            path.unlink(missing_ok=True)
        else:
            oldest.unlink(missing_ok=True)
            for n in range(self._rotate_files - 1, 0, -1):
                older = path.with_name(f"{path.name}.{n}")
                if older.exists():
                    older.rename(path.with_name(f"{path.name}.{n + 1}"))
            path.rename(path.with_name(f"{path.name}.1"))
        self._fh = path.open("a", encoding="utf-8")
        self._size = 0

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


# --- device adapters' notes -----------------------------------------------------------------

_DEVICE_EVENTS: dict[str, LogEvent] = {
    "debug": LogEvent.DEVICE_NOTE_DEBUG,
    "info": LogEvent.DEVICE_NOTE,
    "warning": LogEvent.DEVICE_TROUBLE,
    "error": LogEvent.DEVICE_CRASH,
}


def device_note_event(severity: str) -> LogEvent:
    """The catalog event for a DeviceLogged of this severity ("debug", "info", "warning", "error")."""
    return _DEVICE_EVENTS.get(str(severity), LogEvent.DEVICE_NOTE)


def log_device_note(log: EventLog, logged: DeviceLogged) -> None:
    """What the core does with each DeviceLogged an adapter posts."""
    log.emit(device_note_event(logged.severity), device=logged.device, note=logged.note, detail=logged.detail)
