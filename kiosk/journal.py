"""The write-ahead issuance journal (DESIGN.md, Issuing a card without losing or doubling one).

Every physical step of issuing a permit card or rewriting a card face is journaled
*before* it starts (`started`) and marked `done` after, so that after a power cut the
recovery (kiosk/recovery.py) knows whether a step began and whether it finished. The
rules of which step may follow which are pure functions on `JournalRow` (`advance`,
`conclude`); `Journal` only persists what they allow, one SQLite transaction per change.

Privacy (SH-PRIV-1): the journal holds request ids, permit numbers, card serials, steps
and times, never a name, ID number, address, phone or photo. The API takes only these
typed fields; each is checked against a narrow character set (no spaces, no CJK: no name
or address fits) and refused when it is shaped like a citizen ID number or a phone
number; the schema's CHECK constraints repeat the character sets.

One connection, used from the thread that opened it (sqlite3 refuses any other thread).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from kiosk import idnumber

_log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


class Kind(StrEnum):
    NEW_PERMIT = "new_permit"
    REWRITE = "rewrite"


class Step(StrEnum):
    # new permit
    APPROVED = "approved"  # the backend approved; the row is created at this step, done
    PICKED = "picked"  # blank card fed from the hopper
    PRINTED = "printed"
    ENCODED = "encoded"
    VERIFIED = "verified"
    PRESENTED = "presented"  # card at the front slot, held for the resident
    TAKEN = "taken"  # the card left the slot: observed, never started
    # card-face rewrite
    TAKEN_IN = "taken_in"  # the resident's card is inside and its chip was read; the row is created here, done
    CHIP_UPDATED = "chip_updated"
    FACE_REWRITTEN = "face_rewritten"
    RETURNED = "returned"  # started: the rewritten card goes to the slot; done: the resident took it
    RETURNED_UNCHANGED = "returned_unchanged"  # the same, for a card whose chip was never touched
    # both
    RETRACTED = "retracted"  # card to the reject bin
    CONFIRMED = "confirmed"  # backend confirmation: started = request sent, done = answered
    VOIDED = "voided"  # backend void: started = request sent, done = answered


class StepStatus(StrEnum):
    STARTED = "started"
    DONE = "done"


class Final(StrEnum):
    ISSUED = "issued"  # new permit: the resident took the card and the backend confirmed it
    VOIDED = "voided"  # new permit: no card left the hopper; the approval is voided
    RETAINED = "retained"  # the card did not reach the resident: reject bin (or a technician's hands)
    RETURNED = "returned"  # rewrite: the resident has the card back, rewritten or unchanged


class Problem(StrEnum):
    OUT_OF_ORDER = "out_of_order"
    NOT_STARTED = "not_started"
    FINISHED = "finished"
    BAD_FINAL = "bad_final"
    CARD_IN_PLAY = "card_in_play"  # another row's card is still unaccounted for
    DUPLICATE = "duplicate"
    UNKNOWN_ROW = "unknown_row"
    BAD_VALUE = "bad_value"
    SCHEMA = "schema"


class JournalError(Exception):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


# The main sequence of each kind; the first step is recorded done when the row begins.
SEQUENCE: dict[Kind, tuple[Step, ...]] = {
    Kind.NEW_PERMIT: (Step.APPROVED, Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED,
                      Step.PRESENTED, Step.TAKEN, Step.CONFIRMED),
    Kind.REWRITE: (Step.TAKEN_IN, Step.CHIP_UPDATED, Step.FACE_REWRITTEN, Step.RETURNED, Step.CONFIRMED),
}
# Steps off the main sequence: the ways an issuance or rewrite is abandoned.
SIDE: dict[Kind, tuple[Step, ...]] = {
    Kind.NEW_PERMIT: (Step.RETRACTED, Step.VOIDED),
    Kind.REWRITE: (Step.RETURNED_UNCHANGED, Step.RETRACTED, Step.VOIDED),
}
# Steps the kiosk observes rather than commands: recorded done, never started.
OBSERVED: frozenset[Step] = frozenset({Step.TAKEN})
# The step by which the card leaves the machine towards the resident, per kind.
LEAVING: dict[Kind, frozenset[Step]] = {
    Kind.NEW_PERMIT: frozenset({Step.TAKEN}),
    Kind.REWRITE: frozenset({Step.RETURNED, Step.RETURNED_UNCHANGED}),
}


@dataclass(frozen=True)
class Mark:
    step: Step
    status: StepStatus
    at: datetime


@dataclass(frozen=True)
class JournalRow:
    id: int
    kind: Kind
    request_id: str
    permit_number: str
    card_serial: str | None
    step: Step  # the latest mark
    step_status: StepStatus
    created: datetime
    updated: datetime
    final: Final | None
    attempts: int  # how many times the latest step was started (retries after a failure or a reboot)
    marks: tuple[Mark, ...]  # the whole history, oldest first
    valid_from: date | None = None  # a rewrite's new validity
    valid_until: date | None = None

    def began(self, step: Step) -> bool:
        return any(m.step is step for m in self.marks)

    def completed(self, step: Step) -> bool:
        return any(m.step is step and m.status is StepStatus.DONE for m in self.marks)

    def open(self, step: Step) -> bool:
        """Began and never finished: the step was cut short (failure, power cut) or is under way."""
        return self.began(step) and not self.completed(step)

    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def card_in_play(self) -> bool:
        """A card of this row may be in the machine: it has neither reached the resident nor the bin."""
        if self.final is not None:
            return False
        if self.completed(Step.RETRACTED) or any(self.completed(s) for s in LEAVING[self.kind]):
            return False
        # A rewrite's card is inside from the row's first step; a new permit's from the pick.
        return self.kind is Kind.REWRITE or self.began(Step.PICKED)


# --- the rules: pure, shared by Journal and the tests -----------------------------------


def _refuse(problem: Problem, row: JournalRow, what: str) -> JournalError:
    return JournalError(problem, f"row {row.id} ({row.kind}, at {row.step} {row.step_status}): {what}")


def _main_start_allowed(row: JournalRow, step: Step) -> bool:
    seq = SEQUENCE[row.kind]
    i = seq.index(step)
    if any(row.began(s) for s in seq[i + 1:]):
        return False
    if not row.completed(seq[i - 1]):
        return False
    if step is Step.CONFIRMED:
        # A card taken during a retract (the resident was faster) is still confirmed; a void
        # already sent is never followed by a confirmation.
        return not row.began(Step.VOIDED)
    # Once the abort path began, the main sequence is closed.
    return not any(row.began(s) for s in SIDE[row.kind])


def _side_start_allowed(row: JournalRow, step: Step) -> bool:
    # The step that hands the resident a new or rewritten card, and the one that puts it at the slot.
    handed, at_slot = ((Step.TAKEN, Step.PRESENTED) if row.kind is Kind.NEW_PERMIT
                       else (Step.RETURNED, Step.RETURNED))
    if step is Step.VOIDED:
        # Never once that card reached the resident or a confirmation went out, and never
        # while it sits at the slot within the resident's reach: retract it first.
        if row.completed(handed) or row.began(Step.CONFIRMED):
            return False
        return not (row.began(at_slot) and not row.began(Step.RETRACTED))
    if any(row.completed(s) for s in LEAVING[row.kind]):
        return False  # the card is gone: nothing left to retract or return
    if step is Step.RETRACTED:
        return row.kind is Kind.REWRITE or row.began(Step.PICKED)
    # RETURNED_UNCHANGED: only a card whose chip was never touched goes back unchanged.
    return not row.began(Step.CHIP_UPDATED) and not row.began(Step.RETRACTED)


def _check_start(row: JournalRow, step: Step) -> None:
    if step in OBSERVED or step is SEQUENCE[row.kind][0]:
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} is recorded, never started")
    if row.completed(step):
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} is already done")
    allowed = _main_start_allowed(row, step) if step in SEQUENCE[row.kind] else _side_start_allowed(row, step)
    if not allowed:
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} cannot start now")


def _check_done(row: JournalRow, step: Step) -> None:
    if row.completed(step):
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} is already done")
    if step is Step.TAKEN:
        if not row.began(Step.PRESENTED) or row.began(Step.VOIDED) or row.completed(Step.RETRACTED):
            raise _refuse(Problem.OUT_OF_ORDER, row, "taken needs a presented card and no void")
        return
    if not row.began(step):
        raise _refuse(Problem.NOT_STARTED, row, f"{step} was never started")
    last_start = max(i for i, m in enumerate(row.marks) if m.step is step)
    later = {m.step for m in row.marks[last_start + 1:]}
    # A card taken from the slot while its retract was starting: the resident won the race.
    # A void sent meanwhile is harmless only for a card going back unchanged.
    may_overlap = {Step.RETRACTED, Step.VOIDED} if step is Step.RETURNED_UNCHANGED else {Step.RETRACTED}
    race = step in LEAVING[row.kind] and later <= may_overlap
    if later and not race:
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} cannot finish after {sorted(later)} began")


def advance(row: JournalRow, step: Step, status: StepStatus, at: datetime) -> JournalRow:
    """The row after one more mark, or JournalError when the mark is impossible."""
    if not isinstance(step, Step) or not isinstance(status, StepStatus):
        raise JournalError(Problem.BAD_VALUE, "step and status must be Step and StepStatus")
    if row.final is not None:
        raise _refuse(Problem.FINISHED, row, f"finished as {row.final}")
    if step not in SEQUENCE[row.kind] and step not in SIDE[row.kind]:
        raise _refuse(Problem.OUT_OF_ORDER, row, f"{step} is no step of a {row.kind}")
    if status is StepStatus.STARTED:
        _check_start(row, step)
    else:
        _check_done(row, step)
    marks = (*row.marks, Mark(step, status, at))
    attempts = max(1, sum(1 for m in marks if m.step is step and m.status is StepStatus.STARTED))
    return replace(row, step=step, step_status=status, updated=at, attempts=attempts, marks=marks)


def record(row: JournalRow, step: Step, at: datetime) -> JournalRow:
    """A step established without doing it now (the card is gone; the backend already answered)."""
    if step in OBSERVED:
        return advance(row, step, StepStatus.DONE, at)
    if row.open(step):
        try:
            return advance(row, step, StepStatus.DONE, at)
        except JournalError:
            pass  # other steps began since: journal it again, started then done
    return advance(advance(row, step, StepStatus.STARTED, at), step, StepStatus.DONE, at)


def conclude(row: JournalRow, final: Final, at: datetime) -> JournalRow:
    """The row resolved as `final`, or JournalError when its steps do not support that end."""
    if not isinstance(final, Final):
        raise JournalError(Problem.BAD_VALUE, "final must be a Final")
    if row.final is not None:
        raise _refuse(Problem.FINISHED, row, f"already finished as {row.final}")
    c = row.completed
    if row.kind is Kind.NEW_PERMIT:
        ok = {
            Final.ISSUED: c(Step.CONFIRMED),
            # Only when no card certainly left the hopper; a card that did ends retained.
            Final.VOIDED: c(Step.VOIDED) and not c(Step.PICKED) and not row.began(Step.RETRACTED),
            Final.RETAINED: c(Step.VOIDED) and not c(Step.TAKEN) and (c(Step.PICKED) or row.began(Step.RETRACTED)),
            Final.RETURNED: False,
        }[final]
    else:
        ok = {
            Final.RETURNED: (c(Step.RETURNED) and c(Step.CONFIRMED)) or (c(Step.RETURNED_UNCHANGED) and c(Step.VOIDED)),
            Final.RETAINED: c(Step.VOIDED) and not c(Step.RETURNED) and not c(Step.RETURNED_UNCHANGED),
            Final.ISSUED: False,
            Final.VOIDED: False,  # a rewrite always had the resident's card: it ends returned or retained
        }[final]
    if not ok:
        raise _refuse(Problem.BAD_FINAL, row, f"cannot end {final}")
    return replace(row, final=final, updated=at)


# --- values ------------------------------------------------------------------------------

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_PERMIT_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
_CARD_SERIAL = re.compile(r"[A-Za-z0-9:-]{1,64}")
_PHONE = re.compile(r"1[3-9]\d{9}")
_ID_LIKE = re.compile(r"(?=(\d{17}[\dXx]))")


def _looks_personal(value: str) -> bool:
    # A valid GB 11643 number anywhere in the value (checksum and birth date make a false
    # positive negligible), or a value that is exactly a mobile number.
    if _PHONE.fullmatch(value):
        return True
    return any(idnumber.is_valid(m.group(1).upper()) for m in _ID_LIKE.finditer(value))


def _checked(name: str, value: object, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise JournalError(Problem.BAD_VALUE, f"{name} must match {pattern.pattern}")
    if _looks_personal(value):
        raise JournalError(Problem.BAD_VALUE, f"{name} looks like personal data")
    return value


# --- persistence ---------------------------------------------------------------------------

def _one_of(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _text(column: str, longest: int) -> str:
    # The same narrow character set as the API: no space, no CJK, so no name or address fits.
    return f"length({column}) BETWEEN 1 AND {longest} AND {column} NOT GLOB '*[^A-Za-z0-9._:-]*'"


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
    valid_until TEXT CHECK (valid_until IS NULL OR valid_until GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]')
);
-- One approval, one card: a permit number begins at most one new-permit row.
CREATE UNIQUE INDEX journal_row_one_issuance ON journal_row (permit_number) WHERE kind = 'new_permit';
CREATE INDEX journal_row_unfinished ON journal_row (id) WHERE final IS NULL;
CREATE TABLE journal_mark (
    row_id INTEGER NOT NULL REFERENCES journal_row (id),
    seq INTEGER NOT NULL,
    step TEXT NOT NULL CHECK (step IN ({_one_of(Step)})),
    step_status TEXT NOT NULL CHECK (step_status IN ('started', 'done')),
    at TEXT NOT NULL,
    PRIMARY KEY (row_id, seq)
);
"""


@dataclass(frozen=True)
class JournalSettings:
    """Read back from the connection, for the tests and the diagnostics screen."""

    journal_mode: str
    synchronous: int  # 2 = FULL
    schema_version: int


class Journal:
    def __init__(self, path: str | Path, *, now: Callable[[], datetime] = datetime.now) -> None:
        self._now = now
        self._db = sqlite3.connect(str(path), isolation_level=None)  # transactions are explicit
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk when it returns, so an intent journaled before a
            # step starts survives a power cut during the step.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction():
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    # Statement by statement: executescript would commit the transaction first.
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                elif version == 1:
                    # 2 adds the validity a rewrite writes, so recovery can confirm it after a power cut.
                    self._db.execute("ALTER TABLE journal_row ADD COLUMN valid_from TEXT")
                    self._db.execute("ALTER TABLE journal_row ADD COLUMN valid_until TEXT")
                    self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                elif version != SCHEMA_VERSION:
                    raise JournalError(Problem.SCHEMA, f"journal schema {version}, expected {SCHEMA_VERSION}")
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def settings(self) -> JournalSettings:
        return JournalSettings(
            journal_mode=self._db.execute("PRAGMA journal_mode").fetchone()[0],
            synchronous=self._db.execute("PRAGMA synchronous").fetchone()[0],
            schema_version=self._db.execute("PRAGMA user_version").fetchone()[0],
        )

    # --- writing --------------------------------------------------------------------------

    def begin_issuance(self, request_id: str, permit_number: str) -> int:
        """A new permit was approved: the row begins at `approved`, done."""
        return self._begin(Kind.NEW_PERMIT, request_id, permit_number, None)

    def begin_rewrite(self, request_id: str, permit_number: str, card_serial: str,
                      valid_from: date | None = None, valid_until: date | None = None) -> int:
        """The resident's card is inside and its chip was read: the row begins at `taken_in`, done.

        `valid_from`/`valid_until`: the validity the rewrite writes (dates, nothing personal), which
        the backend's rewrite confirmation needs if it must be sent again after a power cut."""
        row_id = self._begin(Kind.REWRITE, request_id, permit_number,
                             _checked("card_serial", card_serial, _CARD_SERIAL))
        if valid_from is not None and valid_until is not None:
            self._db.execute("UPDATE journal_row SET valid_from = ?, valid_until = ? WHERE id = ?",
                             (valid_from.isoformat(), valid_until.isoformat(), row_id))
        return row_id

    def step_started(self, row_id: int, step: Step) -> None:
        self._change(row_id, lambda row, at: advance(row, step, StepStatus.STARTED, at),
                     needs_free_machine=step is Step.PICKED)

    def step_done(self, row_id: int, step: Step, card_serial: str | None = None) -> None:
        serial = None if card_serial is None else _checked("card_serial", card_serial, _CARD_SERIAL)

        def change(row: JournalRow, at: datetime) -> JournalRow:
            new = advance(row, step, StepStatus.DONE, at)
            if serial is None:
                return new
            if row.card_serial is not None and row.card_serial != serial:
                raise _refuse(Problem.BAD_VALUE, row, "a card's serial does not change")
            return replace(new, card_serial=serial)

        self._change(row_id, change)

    def record(self, row_id: int, step: Step) -> None:
        """Journal `step` done without doing it now: recovery found it already happened."""
        self._change(row_id, lambda row, at: record(row, step, at))

    def finish(self, row_id: int, final: Final) -> None:
        self._change(row_id, lambda row, at: conclude(row, final, at))

    # --- reading --------------------------------------------------------------------------

    def get(self, row_id: int) -> JournalRow:
        return self._read(row_id)

    def unfinished(self) -> list[JournalRow]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM journal_row WHERE final IS NULL ORDER BY id")]
        return [self._read(i) for i in ids]

    def rows(self) -> list[JournalRow]:
        """Every row, finished or not (diagnostics, the power-cut harness)."""
        return [self._read(r[0]) for r in self._db.execute("SELECT id FROM journal_row ORDER BY id")]

    def counters(self) -> dict[str, int]:
        """Lifetime counts for diagnostics, derived from the rows so they cannot drift from them."""

        def count(where: str) -> int:
            return int(self._db.execute(f"SELECT COUNT(*) FROM journal_row r WHERE {where}").fetchone()[0])

        def done(step: Step) -> str:
            return ("EXISTS (SELECT 1 FROM journal_mark m WHERE m.row_id = r.id "
                    f"AND m.step = '{step}' AND m.step_status = 'done')")

        new = "r.kind = 'new_permit'"
        return {
            # A retained new card left the hopper even when its pick never finished (a feed jam).
            "picked": count(f"{new} AND ({done(Step.PICKED)} OR r.final = 'retained')"),
            "handed_out": count(f"{new} AND {done(Step.TAKEN)}"),
            "returned": count(f"r.kind = 'rewrite' AND ({done(Step.RETURNED)} OR {done(Step.RETURNED_UNCHANGED)})"),
            "retained": count("r.final = 'retained'"),
            "voided": count(done(Step.VOIDED)),
            "confirmed": count(done(Step.CONFIRMED)),
            "unfinished": count("r.final IS NULL"),
        }

    # --- internals ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _begin(self, kind: Kind, request_id: str, permit_number: str, card_serial: str | None) -> int:
        request_id = _checked("request_id", request_id, _REQUEST_ID)
        permit_number = _checked("permit_number", permit_number, _PERMIT_NUMBER)
        first = SEQUENCE[kind][0]
        at = self._now()
        with self._transaction():
            if kind is Kind.REWRITE:
                self._require_free_machine(None)
            try:
                cur = self._db.execute(
                    "INSERT INTO journal_row (kind, request_id, permit_number, card_serial, step, step_status,"
                    " created, updated) VALUES (?, ?, ?, ?, ?, 'done', ?, ?)",
                    (kind.value, request_id, permit_number, card_serial, first.value, _iso(at), _iso(at)),
                )
            except sqlite3.IntegrityError as e:
                raise JournalError(Problem.DUPLICATE, f"request id or permit number already journaled: {e}") from e
            row_id = int(cur.lastrowid or 0)
            self._db.execute("INSERT INTO journal_mark VALUES (?, 0, ?, 'done', ?)", (row_id, first.value, _iso(at)))
        return row_id

    def _change(self, row_id: int, change: Callable[[JournalRow, datetime], JournalRow], *,
                needs_free_machine: bool = False) -> None:
        at = self._now()
        with self._transaction():
            row = self._read(row_id)
            new = change(row, at)
            if needs_free_machine:
                self._require_free_machine(row_id)
            self._db.execute(
                "UPDATE journal_row SET card_serial = ?, step = ?, step_status = ?, updated = ?, final = ?,"
                " attempts = ? WHERE id = ?",
                (new.card_serial, new.step.value, new.step_status.value, _iso(new.updated),
                 None if new.final is None else new.final.value, new.attempts, row_id),
            )
            self._db.executemany(
                "INSERT INTO journal_mark VALUES (?, ?, ?, ?, ?)",
                [(row_id, seq, m.step.value, m.status.value, _iso(m.at))
                 for seq, m in enumerate(new.marks) if seq >= len(row.marks)],
            )

    def _require_free_machine(self, except_id: int | None) -> None:
        # One card in the machine at a time: a new card may enter only when every other
        # row's card is accounted for, so recovery can tie what the sensors see to one row.
        for other in self.unfinished():
            if other.id != except_id and other.card_in_play:
                raise JournalError(Problem.CARD_IN_PLAY, f"row {other.id}'s card is not accounted for")

    def _read(self, row_id: int) -> JournalRow:
        if not isinstance(row_id, int):
            raise JournalError(Problem.BAD_VALUE, "row id must be an int")
        r = self._db.execute(
            "SELECT id, kind, request_id, permit_number, card_serial, step, step_status, created, updated,"
            " final, attempts, valid_from, valid_until FROM journal_row WHERE id = ?", (row_id,),
        ).fetchone()
        if r is None:
            raise JournalError(Problem.UNKNOWN_ROW, f"no row {row_id}")
        marks = tuple(
            Mark(Step(s), StepStatus(st), datetime.fromisoformat(at))
            for s, st, at in self._db.execute(
                "SELECT step, step_status, at FROM journal_mark WHERE row_id = ? ORDER BY seq", (row_id,))
        )
        return JournalRow(
            id=r[0], kind=Kind(r[1]), request_id=r[2], permit_number=r[3], card_serial=r[4],
            step=Step(r[5]), step_status=StepStatus(r[6]), created=datetime.fromisoformat(r[7]),
            updated=datetime.fromisoformat(r[8]), final=None if r[9] is None else Final(r[9]), attempts=r[10],
            marks=marks, valid_from=None if r[11] is None else date.fromisoformat(r[11]),
            valid_until=None if r[12] is None else date.fromisoformat(r[12]),
        )


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def attempt(journal: Journal, row_id: int, what: str, *args: Any) -> bool:
    """A write the caller cannot stop for: a refusal is logged and the row left as it was, for
    recovery at the next start to resolve from the card's whereabouts."""
    try:
        getattr(journal, what)(row_id, *args)
    except JournalError as exc:
        _log.error("journal refused %s %s: %s", what, args[0] if args else "", exc.problem)
        return False
    return True
