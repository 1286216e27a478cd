"""The write-ahead issuance journal (DESIGN.md, Issuing a card without losing or doubling one).

Every physical step of issuing a permit card or rewriting a card face is journaled
*before* it starts (`started`) and marked `done` after, so that after a power cut the
recovery (kiosk/recovery.py) knows whether a step began and whether it finished. The
rules of which step may follow which are pure functions on `JournalRow` (`advance`,
`record`, `conclude`); `Journal` only persists what they allow, one SQLite transaction per change.

The journal is in four modules of one job each, re-exported here so that
`from kiosk.journal import ...` keeps working:

- kiosk/journal_model.py   kinds, steps, finals, sequences, JournalError, Mark, JournalRow
- kiosk/journal_rules.py   advance, record, conclude: the pure rules
- kiosk/journal_schema.py  the SQLite schema and its migration; the privacy checks of every value
- kiosk/journal.py         Journal (the writer and reader), `attempt`, `log_refusal`

Privacy (SH-PRIV-1): the journal holds request ids, permit numbers, card serials, steps
and times, never a name, ID number, address, phone or photo. The API takes only these
typed fields, each checked by kiosk/journal_schema.py.

One connection, used from the thread that opened it (sqlite3 refuses any other thread).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kiosk.journal_model import (
    INTAKE_OPEN,
    LEAVING,
    OBSERVED,
    SEQUENCE,
    SIDE,
    ApplicationState,
    Final,
    Intake,
    IntakeState,
    JournalError,
    JournalRow,
    Kind,
    Mark,
    Problem,
    Step,
    StepStatus,
)
from kiosk.journal_rules import advance, conclude, record, refuse
from kiosk.journal_schema import (
    CARD_SERIAL,
    PERMIT_NUMBER,
    REQUEST_ID,
    SCHEMA,
    SCHEMA_VERSION,
    checked,
    create_or_migrate,
)
from kiosk.journal_writes import Write, Writes, batched
from kiosk.logevents import EventLog, LogEvent

__all__ = [
    "LEAVING", "OBSERVED", "SCHEMA", "SCHEMA_VERSION", "SEQUENCE", "SIDE", "Final", "Intake", "IntakeState",
    "Journal", "JournalError", "JournalRow", "JournalSettings", "Kind", "Mark", "Problem", "Step",
    "StepStatus", "advance", "attempt", "batched", "conclude", "log_refusal", "record"
]


@dataclass(frozen=True)
class JournalSettings:
    """Read back from the connection, for the tests and the diagnostics screen."""

    journal_mode: str
    synchronous: int  # 2 = FULL
    schema_version: int


class Journal:
    def __init__(self, path: str | Path, *, now: Callable[[], datetime] = datetime.now,
                 log: EventLog | None = None) -> None:
        """`log`: where `attempt` reports refused writes and a migration is noted; None logs nothing."""
        self._now = now
        self.log = log
        self.path = Path(path)
        self._db = sqlite3.connect(str(path), isolation_level=None)  # transactions are explicit
        self._writes = Writes(self._db, self._report_lost)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk when it returns, so an intent journaled before a
            # step starts survives a power cut during the step.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._transaction(Write("migrate")):
                migrated_from = create_or_migrate(self._db)
        except BaseException:
            self._db.close()
            raise
        if migrated_from and log is not None:  # 0 is a new journal: nothing was migrated
            log.emit(LogEvent.JOURNAL_MIGRATED, from_version=migrated_from, to_version=SCHEMA_VERSION)

    def close(self) -> None:
        self._db.close()

    def batch(self) -> AbstractContextManager[None]:
        """The writes inside, committed together when the outermost batch ends (kiosk/journal_writes.py)."""
        return self._writes.batch()

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

    def begin_issuance(self, request_id: str, permit_number: str, application: str | None = None) -> int:
        """A new permit was approved: the row begins at `approved`, done; the journaled
        `application` that was approved is answered in the same transaction."""
        return self._begin(Kind.NEW_PERMIT, request_id, permit_number, None, application)

    # --- applications, journaled before they are sent -----------------------------------------

    def application_sent(self, request_id: str) -> None:
        """Before `apply` goes out; a retry of the same request id counts an attempt."""
        request_id = checked("request_id", request_id, REQUEST_ID)
        at = _iso(self._now())
        with self._transaction(Write("application_sent")):
            self._db.execute(
                "INSERT INTO journal_application (request_id, state, created, updated) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (request_id) DO UPDATE SET attempts = attempts + 1, updated = excluded.updated",
                (request_id, ApplicationState.SENT.value, at, at))

    def application_answered(self, request_id: str) -> None:
        """The backend refused it (an approval answers it through `begin_issuance`)."""
        self._set_application(request_id, ApplicationState.ANSWERED)

    def application_voided(self, request_id: str) -> None:
        self._set_application(request_id, ApplicationState.VOIDED)

    def open_applications(self) -> list[str]:
        """Request ids sent and never answered: each may hold an approval nobody accounts for."""
        return [r[0] for r in self._db.execute(
            "SELECT request_id FROM journal_application WHERE state = ? ORDER BY created, request_id",
            (ApplicationState.SENT.value,))]

    def _set_application(self, request_id: str, state: ApplicationState) -> None:
        with self._transaction(Write(f"application_{state.value}")):
            self._db.execute("UPDATE journal_application SET state = ?, updated = ? WHERE request_id = ?"
                             " AND state = ?", (state.value, _iso(self._now()), request_id,
                                                ApplicationState.SENT.value))

    # --- a rewrite's card intake, before its row begins ------------------------------------------

    def intake(self, request_id: str, step: IntakeState, bin_count: int | None = None) -> None:
        """The intake of `request_id` moves to `step` (TAKING_IN creates it; a final one is never left).

        `bin_count`: with RETRACTING, the reject bin's count before the retract."""
        request_id = checked("request_id", request_id, REQUEST_ID)
        if not isinstance(step, IntakeState) or (bin_count is not None and (
                step is not IntakeState.RETRACTING or not isinstance(bin_count, int) or bin_count < 0)):
            raise JournalError(Problem.BAD_VALUE, "an intake step, and a bin count only with a retract")
        at = _iso(self._now())
        with self._transaction(Write("intake", None, step)):
            if step is IntakeState.TAKING_IN:
                self._db.execute("INSERT INTO journal_intake (request_id, state, created, updated) VALUES"
                                 " (?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
                                 (request_id, step.value, at, at))
                return
            self._db.execute(
                f"UPDATE journal_intake SET state = ?, updated = ?, bin_before = COALESCE(?, bin_before)"
                f" WHERE request_id = ? AND state IN ({', '.join('?' * len(INTAKE_OPEN))})",
                (step.value, at, bin_count, request_id, *(s.value for s in INTAKE_OPEN)))

    def open_intakes(self) -> list[Intake]:
        """Cards taken in whose whereabouts no row accounts for yet."""
        return [Intake(r[0], IntakeState(r[1]), r[2]) for r in self._db.execute(
            f"SELECT request_id, state, bin_before FROM journal_intake WHERE state IN"
            f" ({', '.join('?' * len(INTAKE_OPEN))}) ORDER BY created, request_id",
            tuple(s.value for s in INTAKE_OPEN))]

    def begin_rewrite(self, request_id: str, permit_number: str, card_serial: str,
                      valid_from: date | None = None, valid_until: date | None = None) -> int:
        """The resident's card is inside and its chip was read: the row begins at `taken_in`, done.

        `valid_from`/`valid_until`: the validity the rewrite writes (dates, nothing personal), which
        the backend's rewrite confirmation needs if it must be sent again after a power cut."""
        validity = None if valid_from is None or valid_until is None else (valid_from, valid_until)
        return self._begin(Kind.REWRITE, request_id, permit_number,
                           checked("card_serial", card_serial, CARD_SERIAL), validity=validity)

    def step_started(self, row_id: int, step: Step, bin_count: int | None = None) -> None:
        """`bin_count`: for a retract, the reject bin's count before it (the printer's sensors)."""
        if bin_count is not None and (step is not Step.RETRACTED or not isinstance(bin_count, int) or bin_count < 0):
            raise JournalError(Problem.BAD_VALUE, "bin_count is a retract's count, an int >= 0")

        def change(row: JournalRow, at: datetime) -> JournalRow:
            new = advance(row, step, StepStatus.STARTED, at)
            return new if bin_count is None else replace(new, bin_before=bin_count)

        self._change(row_id, change, Write("step_started", row_id, step), needs_free_machine=step is Step.PICKED)

    def step_done(self, row_id: int, step: Step, card_serial: str | None = None) -> None:
        serial = None if card_serial is None else checked("card_serial", card_serial, CARD_SERIAL)

        def change(row: JournalRow, at: datetime) -> JournalRow:
            new = advance(row, step, StepStatus.DONE, at)
            if serial is None:
                return new
            if row.card_serial is not None and row.card_serial != serial:
                raise refuse(Problem.BAD_VALUE, row, "a card's serial does not change")
            return replace(new, card_serial=serial)

        self._change(row_id, change, Write("step_done", row_id, step))

    def record(self, row_id: int, step: Step) -> None:
        """Journal `step` done without doing it now: recovery found it already happened."""
        self._change(row_id, lambda row, at: record(row, step, at), Write("record", row_id, step))

    def finish(self, row_id: int, final: Final) -> None:
        self._change(row_id, lambda row, at: conclude(row, final, at), Write("finish", row_id, final))

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
            # A rewrite's card retained before its row began counts as well (journal_intake).
            "retained": count("r.final = 'retained'") + int(self._db.execute(
                "SELECT COUNT(*) FROM journal_intake WHERE state = 'retained'").fetchone()[0]),
            "intakes_open": len(self.open_intakes()),
            "voided": count(done(Step.VOIDED)),
            "confirmed": count(done(Step.CONFIRMED)),
            "unfinished": count("r.final IS NULL"),
            "applications_open": int(self._db.execute(
                "SELECT COUNT(*) FROM journal_application WHERE state = 'sent'").fetchone()[0]),
        }

    # --- internals ------------------------------------------------------------------------

    def _transaction(self, write: Write) -> AbstractContextManager[None]:
        return self._writes.write(write)

    def _report_lost(self, write: Write, error: JournalError) -> None:
        log_refusal(self, write.what, error, write.row_id, write.value)

    def _begin(self, kind: Kind, request_id: str, permit_number: str, card_serial: str | None,
               application: str | None = None, validity: tuple[date, date] | None = None) -> int:
        """The row's beginning is committed when this returns, in a batch too: the caller moves a
        card on it, or refuses the service when it fails."""
        request_id = checked("request_id", request_id, REQUEST_ID)
        permit_number = checked("permit_number", permit_number, PERMIT_NUMBER)
        first = SEQUENCE[kind][0]
        at = self._now()
        with self._transaction(Write(f"begin_{kind.value}")):
            if kind is Kind.REWRITE:
                self._require_free_machine(None)
                # The row accounts for the card its intake took in (the same transaction).
                self._db.execute("UPDATE journal_intake SET state = ?, updated = ? WHERE request_id = ?",
                                 (IntakeState.ROW.value, _iso(at), request_id))
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
            if application is not None:
                self._db.execute("UPDATE journal_application SET state = ?, updated = ? WHERE request_id = ?",
                                 (ApplicationState.ANSWERED.value, _iso(at), application))
            if validity is not None:
                self._db.execute("UPDATE journal_row SET valid_from = ?, valid_until = ? WHERE id = ?",
                                 (validity[0].isoformat(), validity[1].isoformat(), row_id))
        self._writes.flush()
        return row_id

    def _change(self, row_id: int, change: Callable[[JournalRow, datetime], JournalRow], write: Write, *,
                needs_free_machine: bool = False) -> None:
        at = self._now()
        with self._transaction(write):
            row = self._read(row_id)
            new = change(row, at)
            if needs_free_machine:
                self._require_free_machine(row_id)
                if self.open_intakes():
                    raise JournalError(Problem.CARD_IN_PLAY, "a card taken in for a rewrite is not accounted for")
            self._db.execute(
                "UPDATE journal_row SET card_serial = ?, step = ?, step_status = ?, updated = ?, final = ?,"
                " attempts = ?, bin_before = ? WHERE id = ?",
                (new.card_serial, new.step.value, new.step_status.value, _iso(new.updated),
                 None if new.final is None else new.final.value, new.attempts, new.bin_before, row_id),
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
            " final, attempts, valid_from, valid_until, bin_before FROM journal_row WHERE id = ?", (row_id,),
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
            valid_until=None if r[12] is None else date.fromisoformat(r[12]), bin_before=r[13],
        )


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def log_refusal(journal: Journal, write: str, error: JournalError, row_id: int | None = None,
                value: object = None) -> None:
    """Log a refused journal write through the catalog (JOURNAL_REFUSED), if the journal has a log.

    For callers that catch a JournalError themselves (e.g. a refused `begin_rewrite`)."""
    if journal.log is not None:
        journal.log.emit(LogEvent.JOURNAL_REFUSED, row=row_id, write=write,
                         value=None if value is None else getattr(value, "value", value),
                         problem=error.problem, detail=error.detail)


def attempt(journal: Journal, row_id: int, what: str, *args: Any) -> JournalError | None:
    """A write the caller cannot stop for: a refusal is logged (JOURNAL_REFUSED) and returned, and
    the row left as it was, for recovery at the next start to resolve from the card's whereabouts.
    None when the write went through."""
    try:
        getattr(journal, what)(row_id, *args)
    except JournalError as exc:
        log_refusal(journal, what, exc, row_id, args[0] if args else None)
        return exc
    return None
