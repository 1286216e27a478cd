"""The journal's batches (kiosk/journal_writes.py): a procedure input's writes in one commit, on disk
before the input returns its commands; a refused write leaves the others; a failed commit is
logged write by write; a row's beginning is committed when it returns."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devices.events import PrinterOp, PrinterResult
from kiosk.issuance import Issuance
from kiosk.journal import Journal, JournalError, Problem, Step, attempt
from kiosk.logevents import EventLog
from tests.unit.test_procedures import face, ops

T0 = datetime(2026, 11, 22, 9, 0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    j = Journal(path, now=lambda: T0, log=EventLog())
    yield j
    j.close()


def on_disk(path: Path, row_id: int) -> tuple[str, str, int]:
    """The row as another connection reads it: its step, status and number of marks."""
    db = sqlite3.connect(path)
    try:
        step, status = db.execute("SELECT step, step_status FROM journal_row WHERE id = ?", (row_id,)).fetchone()
        marks = db.execute("SELECT COUNT(*) FROM journal_mark WHERE row_id = ?", (row_id,)).fetchone()[0]
        return step, status, marks
    finally:
        db.close()


def test_a_batchs_writes_reach_the_disk_together_when_it_ends(journal: Journal, path: Path) -> None:
    row = journal.begin_issuance("sess00000001-approve", "SH2026000001")
    with journal.batch():
        journal.step_started(row, Step.PICKED)
        journal.step_done(row, Step.PICKED)
        assert journal.get(row).step is Step.PICKED  # the batch's own connection reads its writes
        assert on_disk(path, row) == ("approved", "done", 1)
    assert on_disk(path, row) == ("picked", "done", 3)


def test_a_write_refused_in_a_batch_leaves_the_batchs_other_writes(journal: Journal, path: Path) -> None:
    row = journal.begin_issuance("sess00000001-approve", "SH2026000001")
    with journal.batch():
        assert attempt(journal, row, "step_started", Step.PICKED) is None
        refused = attempt(journal, row, "step_done", Step.VERIFIED)  # never started
        assert refused is not None and refused.problem is Problem.NOT_STARTED
        assert attempt(journal, row, "step_done", Step.PICKED) is None
    assert on_disk(path, row) == ("picked", "done", 3)
    assert [e["write"] for e in journal.log.recent if e["event"] == "JOURNAL_REFUSED"] == ["step_done"]


def test_a_rows_beginning_is_on_disk_when_it_returns_inside_a_batch(journal: Journal, path: Path) -> None:
    with journal.batch():
        row = journal.begin_issuance("sess00000001-approve", "SH2026000001")
        assert on_disk(path, row) == ("approved", "done", 1)
        journal.step_started(row, Step.PICKED)
        assert on_disk(path, row) == ("approved", "done", 1)
    assert on_disk(path, row) == ("picked", "started", 2)


class CommitFails:
    """The journal's connection, except that COMMIT fails while `failing` (a disk gone read-only
    between a batch's writes and its commit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.failing = db, False

    def execute(self, sql: str, *args: Any) -> Any:
        if self.failing and sql == "COMMIT":
            raise sqlite3.OperationalError("attempt to write a readonly database")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_batch_whose_commit_fails_logs_each_lost_write_and_leaves_the_disk_as_it_was(
        journal: Journal, path: Path) -> None:
    row = journal.begin_issuance("sess00000001-approve", "SH2026000001")
    proxy = CommitFails(journal._db)
    journal._db = journal._writes._db = proxy  # type: ignore[assignment]
    with journal.batch():
        journal.step_started(row, Step.PICKED)
        journal.step_done(row, Step.PICKED)
        proxy.failing = True
    refused = [e for e in journal.log.recent if e["event"] == "JOURNAL_REFUSED"]
    assert [(e["write"], e["value"], e["problem"]) for e in refused] == [
        ("step_started", "picked", "storage"), ("step_done", "picked", "storage")]
    assert on_disk(path, row) == ("approved", "done", 1)
    proxy.failing = False  # the disk is back: the next write goes through on its own
    journal.step_started(row, Step.PICKED)
    assert on_disk(path, row) == ("picked", "started", 2)


def test_a_rows_beginning_whose_commit_fails_is_refused_to_its_caller(journal: Journal, path: Path) -> None:
    proxy = CommitFails(journal._db)
    journal._db = journal._writes._db = proxy  # type: ignore[assignment]
    proxy.failing = True
    with journal.batch(), pytest.raises(JournalError) as refused:
        journal.begin_issuance("sess00000001-approve", "SH2026000001")
    assert refused.value.problem is Problem.STORAGE
    proxy.failing = False
    assert journal.unfinished() == []


def commits_during(journal: Journal) -> list[str]:
    seen: list[str] = []
    journal._db.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def test_an_issuance_input_commits_its_writes_once_before_it_returns_the_next_command(
        journal: Journal, path: Path) -> None:
    """The print's end and the move to the encoder's start (encoding begins with it): one commit,
    made before printer_result returns TO_ENCODER; the issuance's whole way to the slot."""
    iss = Issuance.begin("SH2026000001", "s1", journal, 0)
    commits = commits_during(journal)
    assert ops(iss.advance()) == [PrinterOp.FEED]
    assert ops(iss.printer_result(PrinterResult(PrinterOp.FEED, True))) == []
    assert ops(iss.face_ready(face())) == [PrinterOp.TICKET]
    assert ops(iss.printer_result(PrinterResult(PrinterOp.TICKET, True))) == [PrinterOp.PRINT]
    assert iss.row_id is not None
    commits.clear()
    assert ops(iss.printer_result(PrinterResult(PrinterOp.PRINT, True))) == [PrinterOp.TO_ENCODER]
    assert commits == ["COMMIT"]
    assert on_disk(path, iss.row_id) == ("encoded", "started", 6)
