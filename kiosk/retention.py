"""Retention records: a card the kiosk kept (an untaken card retracted, a resident's own permit
kept after a failed rewrite, a card a device fault left inside) gets a record in the journal's
database, and its number goes on the resident's screen as a QR code and in digits, so nothing
is lost silently (issue 13; docs/journal.md, "Retention records").

A record holds the terminal, the time, a reason code (kiosk/reasons.py) and the card's chip
serial when known: nothing personal. Its table has a version of its own (`retention_schema`),
as diagnostics' tables do, so the issuance journal's schema stays untouched. Every value passes
the journal's privacy check. A connection per write: the record is on disk when the call returns.

The QR payloads a resident can take away (docs/protocols/resident-qr.md):
- a kept card:            `JZZ1|K|<number>|<reason>|<date>|<terminal>`
- a refusal or a fault:   `JZZ1|R|<reason>|<date>|<back on or ->|<terminal>`
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any

from kiosk import sqlite_tx as side_tables
from kiosk.journal_model import JournalError
from kiosk.journal_schema import CARD_SERIAL, checked
from kiosk.logevents import LogEvent
from kiosk.reasons import Reason

STORE_VERSION = 1
TERMINAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
PREFIX = "JZZ1"
NUMBER_DIGITS = 8


def _text(column: str, longest: int) -> str:
    return f"length({column}) BETWEEN 1 AND {longest} AND {column} NOT GLOB '*[^A-Za-z0-9._:-]*'"


_REASONS = ", ".join(f"'{r}'" for r in Reason)
SCHEMA = f"""
CREATE TABLE retention_schema (version INTEGER NOT NULL);
CREATE TABLE card_retention (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    terminal TEXT NOT NULL CHECK ({_text("terminal", 32)}),
    at TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ({_REASONS})),
    card_serial TEXT CHECK (card_serial IS NULL OR ({_text("card_serial", 64)}))
)
"""


def create_or_migrate(db: sqlite3.Connection) -> int | None:
    """Bring the retention table to STORE_VERSION inside the caller's transaction (kiosk/sqlite_tx.py)."""
    return side_tables.create_or_migrate(db, "retention", STORE_VERSION, SCHEMA)


@dataclass(frozen=True)
class Retention:
    id: int
    terminal: str
    at: str  # ISO time on the kiosk clock, seconds
    reason: Reason
    card_serial: str | None

    @property
    def number(self) -> str:
        """The number the resident brings to the service centre: digits only, to read out on the phone."""
        return f"{self.id:0{NUMBER_DIGITS}d}"

    def payload(self) -> str:
        return f"{PREFIX}|K|{self.number}|{self.reason}|{self.at[:10]}|{self.terminal}"


def referral_payload(reason: Reason | str, on: date, back_on: date | None, terminal: str) -> str:
    """The QR code a refusal or fault screen offers: the reason code and the date to come back."""
    return f"{PREFIX}|R|{reason}|{on.isoformat()}|{back_on.isoformat() if back_on else '-'}|{terminal}"


class RetentionStore(side_tables.SideStore):
    STORE, VERSION, SCHEMA = "retention", STORE_VERSION, SCHEMA

    def record(self, terminal: str, reason: Reason, card_serial: str | None) -> Retention:
        checked("terminal", terminal, TERMINAL)
        if card_serial is not None:
            checked("card_serial", card_serial, CARD_SERIAL)
        at = self._now().isoformat(timespec="seconds")
        with self._transaction() as db:
            cur = db.execute("INSERT INTO card_retention (terminal, at, reason, card_serial) VALUES (?, ?, ?, ?)",
                             (terminal, at, str(reason), card_serial))
            row_id = int(cur.lastrowid or 0)
        return Retention(row_id, terminal, at, reason, card_serial)

    def get(self, number: str) -> Retention | None:
        with self._transaction() as db:
            row = db.execute("SELECT id, terminal, at, reason, card_serial FROM card_retention WHERE id = ?",
                             (int(number),)).fetchone()
        return None if row is None else Retention(int(row[0]), row[1], row[2], Reason(row[3]), row[4])

    def rows(self) -> list[Retention]:
        with self._transaction() as db:
            found = db.execute("SELECT id, terminal, at, reason, card_serial FROM card_retention "
                               "ORDER BY id").fetchall()
        return [Retention(int(r[0]), r[1], r[2], Reason(r[3]), r[4]) for r in found]


def keep(core: Any, session: Any, reason: Reason, card_serial: str | None) -> Retention | None:
    """A card is kept in this session: its record written once, its number on the session for the
    screens. A storage refusal is logged and the screen says what to bring without a number."""
    if session.retention is not None:
        return session.retention  # one card, one record, whichever step saw it kept first
    try:
        store = RetentionStore(core.config.journal.file, now=core.clock.now)
        found = store.record(core.config.terminal.id, reason, card_serial)
    except (JournalError, sqlite3.Error, OSError) as exc:
        core.log.emit(LogEvent.JOURNAL_REFUSED, write="retention", row=None, value=str(reason),
                      problem=getattr(exc, "problem", "storage"), detail=type(exc).__name__)
        return None
    session.retention = found
    core.log.emit(LogEvent.CARD_RETENTION, session=session.id, number=found.number, reason=reason)
    return found
