"""Diagnostics' records in the journal's SQLite database: technician PIN counts and lockouts
(RULES.md "Technician PIN": they survive a restart), the technicians' audit trail, and the
self-test results.

Tables of their own, with a version of their own (`diagnostics_schema`), so the issuance
journal's schema and migration stay untouched. Every stored value passes the journal's privacy
check (kiosk/journal_schema.checked: a narrow character set, nothing shaped like an ID number or
a phone number) and the schema repeats the character sets: a technician's card id, an action, a
fixed result code, never a resident's data. A connection per operation: nothing is held open
between a technician's taps, and a write is on disk when the call returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kiosk import sqlite_tx as side_tables
from kiosk.journal_schema import checked
from kiosk.technician_pin import PinRecord

STORE_VERSION = 1
CARD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,31}")
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:>=-]{0,63}")


class AuditAction(StrEnum):
    CARD_INSERTED = "card_inserted"
    CARD_REFUSED = "card_refused"
    PIN_RIGHT = "pin_right"
    PIN_WRONG = "pin_wrong"
    LOCKED = "locked"
    PIN_WHILE_LOCKED = "pin_while_locked"
    ENTERED = "entered"
    LEFT = "left"
    SELFTEST = "selftest"
    REFILL = "refill"
    BIN_EMPTIED = "bin_emptied"
    COUNTERS_RESET = "counters_reset"
    OUT_OF_SERVICE = "out_of_service"
    BACK_IN_SERVICE = "back_in_service"
    RETRACT = "retract"
    EXPORT = "export"
    CARD_RETURNED = "card_returned"
    CARD_RETAINED = "card_retained"  # nobody took it from the slot: in the reject bin


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"


def _text(column: str, longest: int) -> str:
    return f"length({column}) BETWEEN 1 AND {longest} AND {column} NOT GLOB '*[^A-Za-z0-9._:>=-]*'"


_ACTIONS = ", ".join(f"'{a}'" for a in AuditAction)
SCHEMA = f"""
CREATE TABLE diagnostics_schema (version INTEGER NOT NULL);
CREATE TABLE technician_pin (
    card_id TEXT PRIMARY KEY CHECK ({_text("card_id", 32)}),
    wrong_in_row INTEGER NOT NULL CHECK (wrong_in_row >= 0),
    locked_until TEXT,
    updated TEXT NOT NULL
);
CREATE TABLE technician_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id TEXT NOT NULL CHECK ({_text("card_id", 32)}),
    action TEXT NOT NULL CHECK (action IN ({_ACTIONS})),
    result TEXT NOT NULL CHECK ({_text("result", 64)}),
    at TEXT NOT NULL
);
CREATE TABLE selftest_result (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL CHECK ({_text("device", 32)}),
    test TEXT NOT NULL CHECK ({_text("test", 32)}),
    outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail')),
    message TEXT NOT NULL CHECK ({_text("message", 64)}),
    at TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class AuditRow:
    id: int
    card_id: str
    action: AuditAction
    result: str
    at: str


@dataclass(frozen=True)
class SelfTestRow:
    id: int
    device: str
    test: str
    outcome: Outcome
    message: str
    at: str


class DiagnosticsStore(side_tables.SideStore):
    STORE, VERSION, SCHEMA = "diagnostics", STORE_VERSION, SCHEMA

    def _at(self) -> str:
        return self._now().isoformat(timespec="seconds")

    # --- PIN counts and lockouts --------------------------------------------------------------

    def pin_record(self, card_id: str) -> PinRecord:
        checked("card_id", card_id, CARD_ID)
        with self._transaction() as db:
            row = db.execute("SELECT wrong_in_row, locked_until FROM technician_pin WHERE card_id = ?",
                             (card_id,)).fetchone()
        if row is None:
            return PinRecord()
        return PinRecord(int(row[0]), datetime.fromisoformat(row[1]) if row[1] else None)

    def save_pin_record(self, card_id: str, record: PinRecord) -> None:
        checked("card_id", card_id, CARD_ID)
        until = record.locked_until.isoformat(timespec="seconds") if record.locked_until else None
        with self._transaction() as db:
            db.execute("INSERT INTO technician_pin (card_id, wrong_in_row, locked_until, updated) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (card_id) DO UPDATE SET wrong_in_row = excluded.wrong_in_row, "
                       "locked_until = excluded.locked_until, updated = excluded.updated",
                       (card_id, record.wrong_in_row, until, self._at()))

    # --- the audit trail ----------------------------------------------------------------------

    def audit(self, card_id: str, action: AuditAction, result: str = "ok") -> None:
        checked("card_id", card_id, CARD_ID)
        checked("result", result, CODE)
        with self._transaction() as db:
            db.execute("INSERT INTO technician_audit (card_id, action, result, at) VALUES (?, ?, ?, ?)",
                       (card_id, AuditAction(action).value, result, self._at()))

    def audit_rows(self, since: str | None = None, until: str | None = None) -> list[AuditRow]:
        with self._transaction() as db:
            rows = db.execute("SELECT id, card_id, action, result, at FROM technician_audit "
                              "WHERE (? IS NULL OR at >= ?) AND (? IS NULL OR at <= ?) ORDER BY id",
                              (since, since, until, until)).fetchall()
        return [AuditRow(int(r[0]), r[1], AuditAction(r[2]), r[3], r[4]) for r in rows]

    def last_audit(self, action: AuditAction) -> AuditRow | None:
        with self._transaction() as db:
            r = db.execute("SELECT id, card_id, action, result, at FROM technician_audit WHERE action = ? "
                           "ORDER BY id DESC LIMIT 1", (action.value,)).fetchone()
        return AuditRow(int(r[0]), r[1], AuditAction(r[2]), r[3], r[4]) if r else None

    # --- self-test results --------------------------------------------------------------------

    def record_selftest(self, device: str, test: str, outcome: Outcome, message: str) -> int:
        for name, value in (("device", device), ("test", test), ("message", message)):
            checked(name, value, CODE)
        with self._transaction() as db:
            cur = db.execute("INSERT INTO selftest_result (device, test, outcome, message, at) VALUES (?, ?, ?, ?, ?)",
                             (device, test, Outcome(outcome).value, message, self._at()))
            return int(cur.lastrowid or 0)

    def latest_selftests(self) -> dict[tuple[str, str], SelfTestRow]:
        """The latest result of each (device, test), by row order: a clock set back changes nothing."""
        with self._transaction() as db:
            rows = db.execute("SELECT id, device, test, outcome, message, at FROM selftest_result "
                              "WHERE id IN (SELECT max(id) FROM selftest_result GROUP BY device, test) "
                              "ORDER BY id").fetchall()
        return {(r[1], r[2]): SelfTestRow(int(r[0]), r[1], r[2], Outcome(r[3]), r[4], r[5]) for r in rows}

    def selftest_rows(self, since: str | None = None, until: str | None = None) -> list[SelfTestRow]:
        with self._transaction() as db:
            rows = db.execute("SELECT id, device, test, outcome, message, at FROM selftest_result "
                              "WHERE (? IS NULL OR at >= ?) AND (? IS NULL OR at <= ?) ORDER BY id",
                              (since, since, until, until)).fetchall()
        return [SelfTestRow(int(r[0]), r[1], r[2], Outcome(r[3]), r[4], r[5]) for r in rows]

