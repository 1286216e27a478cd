"""The issuance journal's contract: sequences, refusals, counters, durability, privacy."""

from __future__ import annotations

import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import idnumber
from kiosk.journal import Final, Journal, JournalError, Kind, Problem, Step, StepStatus
from kiosk.journal_schema import APPLICATION_TABLE, SCHEMA

ROOT = Path(__file__).resolve().parents[2]
NEW_PERMIT_STEPS = (Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED, Step.PRESENTED)
# A valid GB 11643 number (its check digit is X), so the privacy checks meet the real shape.
ID_NUMBER = "11010519491231002" + idnumber.check_digit("11010519491231002")
assert idnumber.is_valid(ID_NUMBER) and ID_NUMBER.endswith("X")


class TickingClock:
    """A clock that moves one second per reading: every mark gets its own time."""

    def __init__(self) -> None:
        self.t = datetime(2025, 3, 1, 9, 0)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    j = Journal(path, now=TickingClock())
    yield j
    j.close()


def run(j: Journal, row_id: int, *steps: Step) -> None:
    for step in steps:
        j.step_started(row_id, step)
        j.step_done(row_id, step)


def issue(j: Journal, n: int = 1) -> int:
    """A new permit through to the card at the slot."""
    row_id = j.begin_issuance(f"sess{n:08d}-approve", f"SH2025{n:07d}")
    run(j, row_id, *NEW_PERMIT_STEPS)
    return row_id


def problem(excinfo: pytest.ExceptionInfo[JournalError]) -> Problem:
    return excinfo.value.problem


# --- durability settings ------------------------------------------------------------------


def test_wal_and_synchronous_full_are_set(journal: Journal, path: Path) -> None:
    s = journal.settings()
    assert (s.journal_mode, s.synchronous, s.schema_version) == ("wal", 2, 4)  # 2 is FULL; schema 4
    other = sqlite3.connect(path)  # WAL is a property of the file: another connection sees it
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


def test_unknown_schema_version_is_refused(path: Path) -> None:
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.close()
    with pytest.raises(JournalError) as e:
        Journal(path)
    assert problem(e) is Problem.SCHEMA


def test_the_connection_belongs_to_its_thread(journal: Journal) -> None:
    caught: list[BaseException] = []

    def elsewhere() -> None:
        try:
            journal.unfinished()
        except BaseException as exc:
            caught.append(exc)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], sqlite3.ProgrammingError)


# --- sequences ------------------------------------------------------------------------------


def test_new_permit_issued(journal: Journal) -> None:
    row_id = journal.begin_issuance("a1b2c3d4e5f6-approve", "SH20250000001")
    row = journal.get(row_id)
    assert (row.kind, row.step, row.step_status, row.final) == (Kind.NEW_PERMIT, Step.APPROVED, StepStatus.DONE, None)
    journal.step_started(row_id, Step.PICKED)
    assert (journal.get(row_id).step, journal.get(row_id).step_status) == (Step.PICKED, StepStatus.STARTED)
    journal.step_done(row_id, Step.PICKED)
    run(journal, row_id, Step.PRINTED)
    journal.step_started(row_id, Step.ENCODED)
    journal.step_done(row_id, Step.ENCODED, card_serial="04A1B2C3D4")
    run(journal, row_id, Step.VERIFIED, Step.PRESENTED)
    journal.step_done(row_id, Step.TAKEN)  # observed, never started
    run(journal, row_id, Step.CONFIRMED)
    journal.finish(row_id, Final.ISSUED)
    row = journal.get(row_id)
    assert row.final is Final.ISSUED and row.card_serial == "04A1B2C3D4"
    assert [(m.step, m.status) for m in row.marks][:3] == [
        (Step.APPROVED, StepStatus.DONE), (Step.PICKED, StepStatus.STARTED), (Step.PICKED, StepStatus.DONE)]
    assert [m.at for m in row.marks] == sorted(m.at for m in row.marks)
    assert row.created == row.marks[0].at and row.updated > row.marks[-1].at
    assert journal.unfinished() == []


def test_rewrite_returned_rewritten(journal: Journal) -> None:
    row_id = journal.begin_rewrite("b1b2c3d4e5f6-rewrite", "SH20240000007", "04FFEE0011")
    row = journal.get(row_id)
    assert (row.kind, row.step, row.step_status, row.card_serial) == (
        Kind.REWRITE, Step.TAKEN_IN, StepStatus.DONE, "04FFEE0011")
    assert row.card_in_play
    run(journal, row_id, Step.CHIP_UPDATED, Step.FACE_REWRITTEN)
    journal.step_started(row_id, Step.RETURNED)
    assert journal.get(row_id).card_in_play  # at the slot, not yet taken
    journal.step_done(row_id, Step.RETURNED)
    run(journal, row_id, Step.CONFIRMED)
    journal.finish(row_id, Final.RETURNED)
    assert journal.get(row_id).final is Final.RETURNED


def test_rewrite_returned_unchanged(journal: Journal) -> None:
    row_id = journal.begin_rewrite("b1b2c3d4e5f6-rewrite", "SH20240000007", "04FFEE0011")
    run(journal, row_id, Step.RETURNED_UNCHANGED, Step.VOIDED)
    journal.finish(row_id, Final.RETURNED)
    assert journal.counters()["returned"] == 1


def test_card_jammed_on_feed_is_retained(journal: Journal) -> None:
    row_id = journal.begin_issuance("c1-approve", "SH20250000002")
    journal.step_started(row_id, Step.PICKED)  # the feed jams: never done
    run(journal, row_id, Step.RETRACTED, Step.VOIDED)
    with pytest.raises(JournalError) as e:
        journal.finish(row_id, Final.VOIDED)  # a card left the hopper: not merely voided
    assert problem(e) is Problem.BAD_FINAL
    journal.finish(row_id, Final.RETAINED)


def test_hopper_empty_is_voided(journal: Journal) -> None:
    row_id = journal.begin_issuance("c2-approve", "SH20250000003")
    journal.step_started(row_id, Step.PICKED)  # refused: hopper empty, no card moved
    run(journal, row_id, Step.VOIDED)
    journal.finish(row_id, Final.VOIDED)
    row = journal.get(row_id)
    assert (row.final, row.step, row.step_status, row.card_serial) == (Final.VOIDED, Step.VOIDED, StepStatus.DONE,
                                                                       None)
    assert row.open(Step.PICKED) and not row.completed(Step.PICKED)  # the feed began, no card came
    assert journal.unfinished() == []
    counters = journal.counters()
    assert (counters["voided"], counters["handed_out"], counters["retained"], counters["unfinished"]) == (1, 0, 0, 0)
    # The next issuance may feed at once: no card of this row is unaccounted for.
    journal.step_started(journal.begin_issuance("c3-approve", "SH20250000004"), Step.PICKED)


def test_retries_count_attempts(journal: Journal) -> None:
    row_id = issue(journal)
    journal.step_started(row_id, Step.RETRACTED)  # jam
    journal.step_started(row_id, Step.RETRACTED)  # again, after a technician cleared it
    assert journal.get(row_id).attempts == 2
    journal.step_done(row_id, Step.RETRACTED)
    journal.step_started(row_id, Step.VOIDED)  # backend down
    journal.step_started(row_id, Step.VOIDED)
    journal.step_done(row_id, Step.VOIDED)
    assert journal.get(row_id).attempts == 2
    journal.finish(row_id, Final.RETAINED)


def test_resident_takes_the_card_as_the_retract_begins(journal: Journal) -> None:
    row_id = issue(journal)
    journal.step_started(row_id, Step.RETRACTED)
    journal.step_done(row_id, Step.TAKEN)  # the resident was faster
    with pytest.raises(JournalError):
        journal.step_done(row_id, Step.RETRACTED)
    with pytest.raises(JournalError):
        journal.step_started(row_id, Step.VOIDED)
    run(journal, row_id, Step.CONFIRMED)
    journal.finish(row_id, Final.ISSUED)


def test_record_journals_an_established_step(journal: Journal) -> None:
    row_id = issue(journal)
    journal.record(row_id, Step.TAKEN)
    journal.record(row_id, Step.CONFIRMED)  # the backend already confirmed it
    row = journal.get(row_id)
    assert [(m.step, m.status) for m in row.marks[-3:]] == [
        (Step.TAKEN, StepStatus.DONE), (Step.CONFIRMED, StepStatus.STARTED), (Step.CONFIRMED, StepStatus.DONE)]
    journal.finish(row_id, Final.ISSUED)


# --- refusals -------------------------------------------------------------------------------


def test_step_out_of_order(journal: Journal) -> None:
    row_id = journal.begin_issuance("d1-approve", "SH20250000004")
    with pytest.raises(JournalError) as e:
        journal.step_started(row_id, Step.PRINTED)
    assert problem(e) is Problem.OUT_OF_ORDER
    assert journal.get(row_id).step is Step.APPROVED  # a refused change writes nothing


@pytest.mark.parametrize(
    ("prefix", "call", "expected"),
    [
        # A step finished before it began.
        ((), ("done", Step.PICKED), Problem.NOT_STARTED),
        # The next step before the current one finished.
        (("start", Step.PICKED), ("start", Step.PRINTED), Problem.OUT_OF_ORDER),
        # A step twice.
        (("run", Step.PICKED), ("start", Step.PICKED), Problem.OUT_OF_ORDER),
        # The row's first step is recorded at begin, never started.
        ((), ("start", Step.APPROVED), Problem.OUT_OF_ORDER),
        # A taken card is observed, never started.
        (("issue",), ("start", Step.TAKEN), Problem.OUT_OF_ORDER),
        # Taken before the card was presented.
        (("run", Step.PICKED), ("done", Step.TAKEN), Problem.OUT_OF_ORDER),
        # A rewrite's step on a new permit.
        ((), ("start", Step.CHIP_UPDATED), Problem.OUT_OF_ORDER),
        # Confirmation before the card was taken.
        (("issue",), ("start", Step.CONFIRMED), Problem.OUT_OF_ORDER),
        # Void while the card waits at the slot, within the resident's reach.
        (("issue",), ("start", Step.VOIDED), Problem.OUT_OF_ORDER),
        # Back to printing after the retract began.
        (("start", Step.PICKED, "run", Step.RETRACTED), ("start", Step.PRINTED), Problem.OUT_OF_ORDER),
        # A retract with no card ever picked.
        ((), ("start", Step.RETRACTED), Problem.OUT_OF_ORDER),
        # A step that began before another began cannot finish after it.
        (("start", Step.PICKED, "start", Step.RETRACTED), ("done", Step.PICKED), Problem.OUT_OF_ORDER),
    ],
)
def test_impossible_new_permit_sequences(journal: Journal, prefix: tuple[object, ...],
                                         call: tuple[str, Step], expected: Problem) -> None:
    row_id = journal.begin_issuance("e1-approve", "SH20250000005")
    items = list(prefix)
    while items:
        op = items.pop(0)
        if op == "issue":
            run(journal, row_id, *NEW_PERMIT_STEPS)
            continue
        step = items.pop(0)
        assert isinstance(step, Step)
        {"start": journal.step_started, "done": journal.step_done, "run": lambda r, s: run(journal, r, s)}[
            str(op)](row_id, step)
    before = journal.get(row_id)
    with pytest.raises(JournalError) as e:
        (journal.step_started if call[0] == "start" else journal.step_done)(row_id, call[1])
    assert problem(e) is expected
    assert journal.get(row_id) == before


def test_impossible_rewrite_sequences(journal: Journal) -> None:
    row_id = journal.begin_rewrite("f1-rewrite", "SH20240000008", "04AA")
    journal.step_started(row_id, Step.CHIP_UPDATED)
    with pytest.raises(JournalError):  # the chip may be written: never back unchanged
        journal.step_started(row_id, Step.RETURNED_UNCHANGED)
    journal.step_done(row_id, Step.CHIP_UPDATED)
    with pytest.raises(JournalError):  # face first
        journal.step_started(row_id, Step.RETURNED)
    run(journal, row_id, Step.FACE_REWRITTEN, Step.RETURNED)
    with pytest.raises(JournalError):  # the resident has the rewritten card
        journal.step_started(row_id, Step.VOIDED)
    with pytest.raises(JournalError):
        journal.step_started(row_id, Step.RETRACTED)
    with pytest.raises(JournalError):
        journal.step_started(row_id, Step.PICKED)
    with pytest.raises(JournalError):
        journal.finish(row_id, Final.RETURNED)  # not yet confirmed
    run(journal, row_id, Step.CONFIRMED)
    for final in (Final.ISSUED, Final.VOIDED, Final.RETAINED):
        with pytest.raises(JournalError) as e:
            journal.finish(row_id, final)
        assert problem(e) is Problem.BAD_FINAL
    journal.finish(row_id, Final.RETURNED)


def test_nothing_after_finish(journal: Journal) -> None:
    row_id = journal.begin_issuance("g1-approve", "SH20250000006")
    run(journal, row_id, Step.VOIDED)
    journal.finish(row_id, Final.VOIDED)
    for change in (lambda: journal.step_started(row_id, Step.PICKED),
                   lambda: journal.step_done(row_id, Step.PICKED),
                   lambda: journal.record(row_id, Step.PICKED),
                   lambda: journal.finish(row_id, Final.VOIDED)):
        with pytest.raises(JournalError) as e:
            change()
        assert problem(e) is Problem.FINISHED


@pytest.mark.parametrize(
    ("steps", "final"),
    [
        ((), Final.VOIDED),  # not voided with the backend yet
        ((Step.VOIDED,), Final.ISSUED),
        ((Step.VOIDED,), Final.RETAINED),  # no card ever left the hopper
        ((Step.VOIDED,), Final.RETURNED),  # a new permit is never "returned"
    ],
)
def test_finals_need_their_steps(journal: Journal, steps: tuple[Step, ...], final: Final) -> None:
    row_id = journal.begin_issuance("h1-approve", "SH20250000009")
    run(journal, row_id, *steps)
    with pytest.raises(JournalError) as e:
        journal.finish(row_id, final)
    assert problem(e) is Problem.BAD_FINAL


def test_a_picked_card_cannot_end_voided(journal: Journal) -> None:
    row_id = journal.begin_issuance("h2-approve", "SH20250000010")
    run(journal, row_id, Step.PICKED, Step.RETRACTED, Step.VOIDED)
    with pytest.raises(JournalError):
        journal.finish(row_id, Final.VOIDED)
    journal.finish(row_id, Final.RETAINED)


def test_unknown_row_and_untyped_values(journal: Journal) -> None:
    with pytest.raises(JournalError) as e:
        journal.get(42)
    assert problem(e) is Problem.UNKNOWN_ROW
    row_id = journal.begin_issuance("i1-approve", "SH20250000011")
    for bad in (lambda: journal.step_started(row_id, "picked"),  # type: ignore[arg-type]
                lambda: journal.finish(row_id, "voided"),  # type: ignore[arg-type]
                lambda: journal.get("1")):  # type: ignore[arg-type]
        with pytest.raises(JournalError) as e:
            bad()
        assert problem(e) is Problem.BAD_VALUE


def test_one_approval_one_row(journal: Journal) -> None:
    journal.begin_issuance("j1-approve", "SH20250000012")
    with pytest.raises(JournalError) as e:
        journal.begin_issuance("j1-approve", "SH20250000013")  # the same request
    assert problem(e) is Problem.DUPLICATE
    with pytest.raises(JournalError) as e:
        journal.begin_issuance("j2-approve", "SH20250000012")  # the same approval
    assert problem(e) is Problem.DUPLICATE


def test_one_card_in_the_machine_at_a_time(journal: Journal) -> None:
    first = issue(journal, 1)
    second = journal.begin_issuance("k2-approve", "SH20250000099")  # approvals may wait
    with pytest.raises(JournalError) as e:
        journal.step_started(second, Step.PICKED)
    assert problem(e) is Problem.CARD_IN_PLAY
    with pytest.raises(JournalError) as e:
        journal.begin_rewrite("k3-rewrite", "SH20240000001", "04BB")
    assert problem(e) is Problem.CARD_IN_PLAY
    journal.step_done(first, Step.TAKEN)  # the card is accounted for: the next may enter
    journal.step_started(second, Step.PICKED)


def test_card_serial_is_written_once(journal: Journal) -> None:
    row_id = journal.begin_issuance("l1-approve", "SH20250000014")
    run(journal, row_id, Step.PICKED, Step.PRINTED)
    journal.step_started(row_id, Step.ENCODED)
    journal.step_done(row_id, Step.ENCODED, card_serial="04A1")
    journal.step_started(row_id, Step.VERIFIED)
    with pytest.raises(JournalError) as e:
        journal.step_done(row_id, Step.VERIFIED, card_serial="04A2")
    assert problem(e) is Problem.BAD_VALUE
    journal.step_done(row_id, Step.VERIFIED, card_serial="04A1")


# --- counters -------------------------------------------------------------------------------


def test_counters(journal: Journal) -> None:
    issued = issue(journal, 1)
    journal.step_done(issued, Step.TAKEN)
    run(journal, issued, Step.CONFIRMED)
    journal.finish(issued, Final.ISSUED)

    jammed = journal.begin_issuance("m2-approve", "SH20250000002")
    journal.step_started(jammed, Step.PICKED)
    run(journal, jammed, Step.RETRACTED, Step.VOIDED)
    journal.finish(jammed, Final.RETAINED)

    empty = journal.begin_issuance("m3-approve", "SH20250000003")
    journal.step_started(empty, Step.PICKED)
    run(journal, empty, Step.VOIDED)
    journal.finish(empty, Final.VOIDED)

    rewrite = journal.begin_rewrite("m4-rewrite", "SH20240000004", "04CC")
    run(journal, rewrite, Step.RETURNED_UNCHANGED, Step.VOIDED)
    journal.finish(rewrite, Final.RETURNED)

    issue(journal, 5)  # at the slot: unfinished

    assert journal.counters() == {
        "picked": 3, "handed_out": 1, "returned": 1, "retained": 1,
        "voided": 3, "confirmed": 1, "unfinished": 1, "applications_open": 0, "intakes_open": 0,
    }


# --- persistence and crashes ---------------------------------------------------------------


def test_rows_survive_a_reopen(path: Path) -> None:
    with Journal(path, now=TickingClock()) as j:
        done = issue(j, 1)
        j.step_done(done, Step.TAKEN)
        open_id = j.begin_rewrite("n2-rewrite", "SH20240000002", "04DD")
        j.step_started(open_id, Step.CHIP_UPDATED)
        before = (j.get(done), j.get(open_id), j.counters())
    with Journal(path) as j:
        assert (j.get(done), j.get(open_id), j.counters()) == before
        assert [r.id for r in j.unfinished()] == [done, open_id]


CRASHING_WRITER = """
import sys
from kiosk.journal import Journal, Step
j = Journal(sys.argv[1])
row = j.begin_issuance("crash0000001-approve", "SH20250000001")
j.step_started(row, Step.PICKED)
j.step_done(row, Step.PICKED)
j.step_started(row, Step.PRINTED)
print(row, flush=True)
sys.stdin.readline()  # the parent kills us here, between the intent and its completion
j.step_done(row, Step.PRINTED)
"""


def test_intent_survives_sigkill(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(path)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        row_id = int(proc.stdout.readline()) if proc.stdout else -1
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream:
                stream.close()
    assert proc.returncode == -signal.SIGKILL
    # The commits sit in the write-ahead log, not yet checkpointed into the database file.
    assert Path(f"{path}-wal").stat().st_size > 0
    with Journal(path) as j:
        (row,) = j.unfinished()
        assert row.id == row_id
        assert (row.step, row.step_status) == (Step.PRINTED, StepStatus.STARTED)
        assert row.completed(Step.PICKED) and row.open(Step.PRINTED)
        assert row.card_in_play


# --- privacy --------------------------------------------------------------------------------

ALLOWED_COLUMNS = {
    "journal_row": {"id", "kind", "request_id", "permit_number", "card_serial", "step", "step_status",
                    "created", "updated", "final", "attempts", "valid_from", "valid_until", "bin_before"},
    "journal_mark": {"row_id", "seq", "step", "step_status", "at"},
    "journal_application": {"request_id", "state", "created", "updated", "attempts"},
    "journal_intake": {"request_id", "state", "created", "updated", "bin_before"},
}


def test_schema_has_no_column_for_personal_data(journal: Journal, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables - {"sqlite_sequence"} == set(ALLOWED_COLUMNS)
        for table, allowed in ALLOWED_COLUMNS.items():
            assert {r[1] for r in db.execute(f"PRAGMA table_info({table})")} == allowed
    finally:
        db.close()


def test_api_takes_only_the_journal_fields() -> None:
    allowed = {"self", "path", "now", "row_id", "request_id", "permit_number", "card_serial", "step", "final",
               "valid_from", "valid_until", "application", "bin_count"}
    public = {name: method for name, method in inspect.getmembers(Journal, inspect.isfunction)
              if not name.startswith("_")}
    assert {"begin_issuance", "begin_rewrite", "step_started", "step_done", "finish"} <= set(public)
    for name, method in public.items():
        assert set(inspect.signature(method).parameters) <= allowed, name


@pytest.mark.parametrize(
    "value",
    [
        "张三",  # a name
        "上海市徐汇区漕溪北路1号",  # an address
        "Zhang San",  # a space: a romanised name or an address
        ID_NUMBER,  # an ID number
        f"{ID_NUMBER}-approve",  # an ID number inside an id
        ID_NUMBER.lower(),  # its check digit X in lower case
        "13812345678",  # a phone number
        "",
        b"SH20250000001",  # not text: a photo would be bytes
    ],
)
def test_personal_data_is_refused(journal: Journal, value: object) -> None:
    for write in (lambda: journal.application_sent(value),  # type: ignore[arg-type]
                  lambda: journal.begin_issuance(value, "SH20250000001"),  # type: ignore[arg-type]
                  lambda: journal.begin_issuance("o1-approve", value),  # type: ignore[arg-type]
                  lambda: journal.begin_rewrite("o2-rewrite", "SH20240000001", value)):  # type: ignore[arg-type]
        with pytest.raises(JournalError) as e:
            write()
        assert problem(e) is Problem.BAD_VALUE
    assert journal.unfinished() == []


def test_the_database_itself_refuses_text(journal: Journal, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO journal_row (kind, request_id, permit_number, step, step_status, created,"
                       " updated) VALUES ('rewrite', '张三', 'SH1', 'taken_in', 'done', 'x', 'x')")
    finally:
        db.close()


def test_a_schema_1_journal_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    import re as _re

    from kiosk import journal as jmod

    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old, isolation_level=None)
    v1 = _re.sub(r",\s*valid_from TEXT CHECK \(.*?\),\s*valid_until TEXT CHECK \(.*?\)\n\);", "\n);",
                 _without_bin_before(jmod.SCHEMA).replace(APPLICATION_TABLE + ";", ""), flags=_re.S)
    assert "valid_from" not in v1
    for statement in v1.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version=1")
    db.close()
    with Journal(old) as j:
        row = j.begin_rewrite("req-1", "SH2025000123", "5B00000000000001", date(2026, 12, 10), date(2027, 12, 10))
        assert (j.get(row).valid_from, j.get(row).valid_until) == (date(2026, 12, 10), date(2027, 12, 10))
        assert j.settings().schema_version == 4
        j.application_sent("req-2-apply")
        assert j.open_applications() == ["req-2-apply"]


# --- applications journaled before they are sent (issue 15: no approval stranded) ------------


def test_an_application_is_open_from_before_it_is_sent_until_it_is_answered(journal: Journal) -> None:
    journal.application_sent("s1-apply")
    journal.application_sent("s1-apply")  # the same request again (a retry): still one application
    journal.application_sent("s2-apply")
    journal.application_sent("s3-apply")
    assert journal.open_applications() == ["s1-apply", "s2-apply", "s3-apply"]
    journal.begin_issuance("s1", "SH20260000001", application="s1-apply")  # approved: answered with the row
    journal.application_answered("s2-apply")  # refused
    assert journal.open_applications() == ["s3-apply"]
    assert journal.counters()["applications_open"] == 1
    journal.application_voided("s3-apply")  # its reply was lost: withdrawn by its request id
    assert journal.open_applications() == []
    journal.application_answered("s3-apply")  # a late answer does not reopen or change it
    assert journal.open_applications() == []


def test_an_application_survives_a_reopen(path: Path) -> None:
    with Journal(path) as j:
        j.application_sent("p1-apply")
    with Journal(path) as j:
        assert j.open_applications() == ["p1-apply"]


def test_a_schema_2_journal_gains_the_applications_and_keeps_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "v2.sqlite"
    db = sqlite3.connect(old, isolation_level=None)
    for statement in _without_bin_before(SCHEMA).replace(APPLICATION_TABLE + ";", "").split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version=2")
    db.close()
    with Journal(old) as j:
        row = j.begin_issuance("v2", "SH20260000009")
        assert j.settings().schema_version == 4 and j.get(row).permit_number == "SH20260000009"
        j.application_sent("v2b-apply")
        assert j.open_applications() == ["v2b-apply"]


def _without_bin_before(schema: str) -> str:
    """The schema before version 4 (no reject-bin count with a retract)."""
    import re

    from kiosk.journal_schema import INTAKE_TABLE

    old = re.sub(r",\s*bin_before INTEGER CHECK \([^)]*\)\n\);", "\n);", schema.replace(INTAKE_TABLE + ";", ""))
    assert "bin_before" not in old and "journal_intake" not in old
    return old


def test_a_schema_3_journal_gains_the_bin_count_and_keeps_its_rows(tmp_path: Path) -> None:
    old = tmp_path / "v3.sqlite"
    db = sqlite3.connect(old, isolation_level=None)
    for statement in _without_bin_before(SCHEMA).split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version=3")
    db.close()
    with Journal(old) as j:
        row = j.begin_issuance("v3", "SH20260000010")
        for step in (Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED, Step.PRESENTED):
            j.step_started(row, step)
            j.step_done(row, step)
        j.step_started(row, Step.RETRACTED, bin_count=7)
        assert j.settings().schema_version == 4 and j.get(row).bin_before == 7


def test_a_bin_count_goes_only_with_a_retract(journal: Journal) -> None:
    row = journal.begin_issuance("b1", "SH20260000011")
    with pytest.raises(JournalError) as e:
        journal.step_started(row, Step.PICKED, bin_count=3)
    assert e.value.problem is Problem.BAD_VALUE
