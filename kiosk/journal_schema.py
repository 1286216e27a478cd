"""The journal's storage: the SQLite schema with its CHECK constraints, its migration, and the
checks every stored value passes first (SH-PRIV-1).

Each value is checked against a narrow character set (no spaces, no CJK: no name or address
fits) and refused when it is shaped like a citizen ID number or a phone number; the schema's
CHECK constraints repeat the character sets, so even a write around the API is refused.
"""

from __future__ import annotations

import re
import sqlite3
from enum import StrEnum

from kiosk import idnumber
from kiosk.journal_model import ApplicationState, Final, IntakeState, JournalError, Kind, Problem, Step

SCHEMA_VERSION = 4

# --- values ------------------------------------------------------------------------------

REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
PERMIT_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
CARD_SERIAL = re.compile(r"[A-Za-z0-9:-]{1,64}")
_PHONE = re.compile(r"1[3-9]\d{9}")
_ID_LIKE = re.compile(r"(?=(\d{17}[\dXx]))")


def _looks_personal(value: str) -> bool:
    # A valid GB 11643 number anywhere in the value (checksum and birth date make a false
    # positive negligible), or a value that is exactly a mobile number.
    if _PHONE.fullmatch(value):
        return True
    return any(idnumber.is_valid(m.group(1).upper()) for m in _ID_LIKE.finditer(value))


def checked(name: str, value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise JournalError(Problem.BAD_VALUE, f"{name} must match {pattern.pattern}")
    if _looks_personal(value):
        raise JournalError(Problem.BAD_VALUE, f"{name} looks like personal data")
    return value


# --- the schema ----------------------------------------------------------------------------

def _one_of(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _text(column: str, longest: int) -> str:
    # The same narrow character set as the API: no space, no CJK, so no name or address fits.
    return f"length({column}) BETWEEN 1 AND {longest} AND {column} NOT GLOB '*[^A-Za-z0-9._:-]*'"


APPLICATION_TABLE = f"""
-- An application to the backend, journaled before it is sent: if its reply is lost (dropped,
-- malformed, too late, a power cut before the approval was journaled), the kiosk still knows
-- the request id and withdraws it by that id, so no approval is left that nobody accounts for.
CREATE TABLE journal_application (
    request_id TEXT PRIMARY KEY CHECK ({_text("request_id", 128)}),
    state TEXT NOT NULL CHECK (state IN ({_one_of(ApplicationState)})),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
)
"""

INTAKE_TABLE = f"""
-- A resident's card taken in for a rewrite before its row begins: the card is in the machine from
-- the take-in, and recovery must know it is there (a stray card retracted at boot was counted by
-- the printer and by no journal).
CREATE TABLE journal_intake (
    request_id TEXT PRIMARY KEY CHECK ({_text("request_id", 128)}),
    state TEXT NOT NULL CHECK (state IN ({_one_of(IntakeState)})),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    bin_before INTEGER CHECK (bin_before IS NULL OR bin_before >= 0)
)
"""

SCHEMA = f"""
CREATE TABLE journal_row (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ({_one_of(Kind)})),
    request_id TEXT NOT NULL UNIQUE CHECK ({_text("request_id", 128)}),
    permit_number TEXT NOT NULL CHECK ({_text("permit_number", 32)}),
    card_serial TEXT CHECK (card_serial IS NULL OR ({_text("card_serial", 64)})),
    step TEXT NOT NULL CHECK (step IN ({_one_of(Step)})),
    step_status TEXT NOT NULL CHECK (step_status IN ('started', 'done')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    final TEXT CHECK (final IS NULL OR final IN ({_one_of(Final)})),
    attempts INTEGER NOT NULL DEFAULT 1,
    valid_from TEXT CHECK (valid_from IS NULL OR valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    valid_until TEXT CHECK (valid_until IS NULL OR valid_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    bin_before INTEGER CHECK (bin_before IS NULL OR bin_before >= 0)
);
-- One approval, one card: a permit number begins at most one new-permit row.
CREATE UNIQUE INDEX journal_row_one_issuance ON journal_row (permit_number) WHERE kind = 'new_permit';
CREATE INDEX journal_row_unfinished ON journal_row (id) WHERE final IS NULL;
{APPLICATION_TABLE};
{INTAKE_TABLE};
CREATE TABLE journal_mark (
    row_id INTEGER NOT NULL REFERENCES journal_row (id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL CHECK (step IN ({_one_of(Step)})),
    step_status TEXT NOT NULL CHECK (step_status IN ('started', 'done')),
    at TEXT NOT NULL,
    PRIMARY KEY (row_id, seq)
);
"""


def create_or_migrate(db: sqlite3.Connection) -> int | None:
    """Bring the database to SCHEMA_VERSION inside the caller's transaction.

    Returns the version migrated from (0: created), or None when it was current already;
    JournalError(SCHEMA) for a version this code does not know."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == 0:
        # Statement by statement: executescript would commit the transaction first.
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
    elif version in (1, 2, 3):
        if version == 1:
            # 2 adds the validity a rewrite writes, so recovery can confirm it after a power cut.
            db.execute("ALTER TABLE journal_row ADD COLUMN valid_from TEXT")
            db.execute("ALTER TABLE journal_row ADD COLUMN valid_until TEXT")
        if version < 3:
            # 3 adds the applications journaled before they are sent.
            db.execute(APPLICATION_TABLE)
        # 4 adds the reject bin's count when a retract of a card at the slot began, so recovery can
        # tell a card that reached the bin from one a hand took while the printer did not answer.
        db.execute("ALTER TABLE journal_row ADD COLUMN bin_before INTEGER")
        db.execute(INTAKE_TABLE)  # and the rewrite's card intake before its row begins
    elif version == SCHEMA_VERSION:
        return None
    else:
        raise JournalError(Problem.SCHEMA, f"journal schema {version}, expected {SCHEMA_VERSION}")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return version
