"""RULES.md "Technician PIN": the lockout policy (kiosk/technician_pin.py) and its store
(kiosk/diagnostics_store.py: per card, in the journal's database, surviving a restart)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk import technician_pin as tp
from kiosk.diagnostics_store import STORE_VERSION, AuditAction, DiagnosticsStore, Outcome
from kiosk.journal import Journal
from kiosk.journal_model import JournalError

T0 = datetime(2026, 11, 22, 9, 0, 0)


def wrong(record: tp.PinRecord, at: datetime) -> tp.PinVerdict:
    return tp.attempt(record, False, at)


def test_technician_pin_three_wrong_lock_for_60_s_then_doubling_capped_at_an_hour() -> None:
    record, at, lockouts = tp.PinRecord(), T0, []
    for _ in range(12):
        verdict = wrong(record, at)
        lockouts.append(verdict.lockout_s)
        record = verdict.record
        at += timedelta(seconds=verdict.lockout_s + 1)  # each lockout waited out
    assert lockouts == [0, 0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]


def test_technician_pin_right_pin_resets_the_count() -> None:
    record = wrong(wrong(tp.PinRecord(), T0).record, T0).record
    assert record.wrong_in_row == 2 and tp.tries_left(record) == 1
    verdict = tp.attempt(record, True, T0)
    assert verdict.accepted and verdict.record == tp.PinRecord()
    assert wrong(verdict.record, T0).lockout_s == 0  # counting starts again


def test_technician_pin_a_locked_card_is_not_checked() -> None:
    record = tp.PinRecord(3, T0 + timedelta(seconds=60))
    assert tp.locked_for(record, T0) == 60
    assert tp.locked_for(record, T0 + timedelta(seconds=59.5)) == 1
    assert tp.locked_for(record, T0 + timedelta(seconds=60)) == 0
    with pytest.raises(ValueError):
        tp.attempt(record, True, T0 + timedelta(seconds=10))


def test_technician_pin_a_clock_set_back_does_not_stretch_a_lockout() -> None:
    record = tp.PinRecord(3, T0 + timedelta(seconds=60))
    assert tp.locked_for(record, T0 - timedelta(days=1)) == 60


def test_technician_pin_count_and_lockout_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()  # the journal's own database, shared
    store = DiagnosticsStore(path, now=lambda: T0)
    record = tp.PinRecord()
    for _ in range(3):
        record = wrong(record, T0).record
        store.save_pin_record("T0001", record)
    again = DiagnosticsStore(path, now=lambda: T0)  # a new process
    assert again.pin_record("T0001") == tp.PinRecord(3, T0 + timedelta(seconds=60))
    assert again.pin_record("T0002") == tp.PinRecord()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM diagnostics_schema").fetchone()[0] == STORE_VERSION
        assert db.execute("PRAGMA user_version").fetchone()[0] != 0  # the journal's schema is untouched
    Journal(path).close()  # and the journal still opens it


def test_audit_and_self_tests_keep_no_resident_data(tmp_path: Path) -> None:
    store = DiagnosticsStore(tmp_path / "j.sqlite", now=lambda: T0)
    store.audit("T0001", AuditAction.ENTERED)
    for bad in ("张伟", "340102199003070010", "13800138000", "has space"):
        with pytest.raises(JournalError):
            store.audit("T0001", AuditAction.EXPORT, bad)
        with pytest.raises(JournalError):
            store.record_selftest("camera", "frame", Outcome.FAIL, bad)
    with pytest.raises(JournalError):
        store.audit("340102199003070010", AuditAction.ENTERED)
    with sqlite3.connect(tmp_path / "j.sqlite") as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO technician_audit (card_id, action, result, at) VALUES ('T1', 'entered', '张伟', 'x')")
    assert [r.action for r in store.audit_rows()] == [AuditAction.ENTERED]


def test_latest_self_test_is_by_row_order_not_by_clock(tmp_path: Path) -> None:
    times = iter([T0, T0 - timedelta(hours=5)])  # the clock was set back between the two runs
    store = DiagnosticsStore(tmp_path / "j.sqlite", now=lambda: next(times, T0))
    store.record_selftest("printer", "status", Outcome.PASS, "ok")
    store.record_selftest("printer", "status", Outcome.FAIL, "cover_open")
    latest = store.latest_selftests()[("printer", "status")]
    assert latest.outcome is Outcome.FAIL and latest.message == "cover_open"
