"""One log channel: the event catalog (kiosk/logevents.py).

No module of kiosk/ or devices/ logs through stdlib `logging` (kiosk/logevents.py uses it only
as a sink); the `logging.level` setting filters; the stdout and stdlib sinks get every record
the file gets; device adapters' notes, the journal's refusals, the backend client's exchanges
and the photo decoder all arrive as catalog events with declared fields only.
"""

from __future__ import annotations

import ast
import io
import json
import logging
import queue
import threading
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from devices.events import NOTE_SEVERITY, DeviceLogged, DeviceNote, NoteSeverity, StatusChanged
from devices.publish import post_safely, publish
from devices.status import DeviceKind, DeviceState, DeviceStatus
from devices.worker import Worker, crash_reporter
from kiosk.backend import BackendClient, BackendFailure, FailureKind
from kiosk.config import load_kiosk_config
from kiosk.journal import SCHEMA_VERSION, Final, Journal, JournalError, Problem, Step, attempt, log_refusal
from kiosk.logevents import (
    LEVELS,
    EventLog,
    LogEvent,
    device_note_event,
    level_number,
    log_device_note,
    logger_sink,
    stdout_sink,
)

ROOT = Path(__file__).resolve().parents[2]
# The only module allowed to import stdlib logging: the catalog, which uses it as a sink.
ALLOWED = {"kiosk/logevents.py"}
# Modules other sessions are moving to the catalog right now. Each entry must still import
# logging (the test fails once it stops, so the entry is removed): this list only shrinks.
PENDING: set[str] = set()  # every module logs through the catalog now


def _imports_logging(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "logging" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "logging":
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "logging"):
            return True
    return False


def test_no_module_of_the_core_or_the_adapters_imports_stdlib_logging() -> None:
    offenders = set()
    for package in ("kiosk", "devices"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in ALLOWED and _imports_logging(path):
                offenders.add(rel)
    assert offenders - PENDING == set(), "log through kiosk/logevents.py (devices: post DeviceLogged)"
    assert PENDING - offenders == set(), "moved to the catalog: remove it from PENDING"


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    for source in ("import logging", "import logging.handlers", "from logging import getLogger",
                   "def f():\n    import logging as l", "x = __import__('logging')"):
        (tmp_path / "m.py").write_text(source + "\n", encoding="utf-8")
        assert _imports_logging(tmp_path / "m.py"), source
    (tmp_path / "m.py").write_text("from kiosk.logevents import EventLog\nlogging = 1\n", encoding="utf-8")
    assert not _imports_logging(tmp_path / "m.py")


# --- the catalog ----------------------------------------------------------------------------------


def test_catalog_codes_are_unique_and_levels_known() -> None:
    codes = [e.value.code for e in LogEvent]
    assert len(codes) == len(set(codes))
    assert {e.value.level for e in LogEvent} <= set(LEVELS.values())
    for event in LogEvent:  # fields that could only hold resident data are never declared
        assert not {"name", "id_number", "address", "phone", "photo"} & set(event.value.fields), event


def test_device_note_event_is_declared_as_the_core_needs_it() -> None:
    assert LogEvent.DEVICE_NOTE.value.fields == ("device", "note", "detail")
    for note in DeviceNote:  # every note has a severity, and every severity an event with those fields
        event = device_note_event(NOTE_SEVERITY[note])
        assert event.value.fields == ("device", "note", "detail")
    assert device_note_event(NoteSeverity.ERROR).value.level == logging.ERROR
    assert device_note_event(NoteSeverity.DEBUG).value.level == logging.DEBUG


def test_log_device_note_logs_at_the_notes_severity() -> None:
    log = EventLog(level="info")
    log_device_note(log, DeviceLogged(DeviceKind.ID_READER, DeviceNote.JOB_CRASHED, "KeyError"))
    log_device_note(log, DeviceLogged(DeviceKind.ID_READER, DeviceNote.FRAME_ERROR, "garbage"))  # debug
    log_device_note(log, DeviceLogged(DeviceKind.PRINTER, DeviceNote.PORT_OPENED))
    assert [(r["event"], r["device"], r["note"], r["detail"]) for r in log.recent] == [
        ("DEVICE_CRASH", "id_reader", "job_crashed", "KeyError"),
        ("DEVICE_NOTE", "printer", "port_opened", ""),
    ]


# --- the level ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level, kept", [
    ("debug", ["STATE_ENTERED", "KIOSK_STARTED", "ID_READ_FAILED", "DEVICE_FAULT"]),
    ("info", ["KIOSK_STARTED", "ID_READ_FAILED", "DEVICE_FAULT"]),
    ("warning", ["ID_READ_FAILED", "DEVICE_FAULT"]),
    ("error", ["DEVICE_FAULT"]),
])
def test_the_level_filters_file_memory_and_sinks(tmp_path: Path, level: str, kept: list[str]) -> None:
    out = io.StringIO()
    log = EventLog(tmp_path / "k.jsonl", level=level, sinks=[stdout_sink(out)])
    log.emit(LogEvent.STATE_ENTERED, state="ready.attract")  # debug
    log.emit(LogEvent.KIOSK_STARTED, terminal="T1", mode="development", policy="shanghai")  # info
    log.emit(LogEvent.ID_READ_FAILED, session="s1", error="read_failed")  # warning
    log.emit(LogEvent.DEVICE_FAULT, session="s1", device="printer", error="jam")  # error
    log.close()
    assert [r["event"] for r in log.recent] == kept
    assert [json.loads(line)["event"] for line in (tmp_path / "k.jsonl").read_text("utf-8").splitlines()] == kept
    assert [json.loads(line)["event"] for line in out.getvalue().splitlines()] == kept


def test_a_filtered_event_with_an_undeclared_field_still_fails() -> None:
    log = EventLog(level="error")
    with pytest.raises(ValueError, match="undeclared field"):
        log.emit(LogEvent.STATE_ENTERED, state="x", name="张三")


def test_level_names_are_the_settings_choices() -> None:
    assert [level_number(n) for n in ("debug", "info", "warning", "error")] == [10, 20, 30, 40]
    assert level_number(logging.WARNING) == logging.WARNING
    with pytest.raises(ValueError, match="unknown log level"):
        level_number("verbose")


def test_the_configured_level_and_stdout_reach_the_event_log(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import run_kiosk

    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    text = text.replace('level = "info"', 'level = "warning"').replace("stdout = false", "stdout = true")
    text = text.replace('file = "out/log/kiosk.jsonl"', f'file = "{tmp_path / "k.jsonl"}"')
    (tmp_path / "kiosk.toml").write_text(text, encoding="utf-8")
    config = load_kiosk_config(tmp_path / "kiosk.toml")
    assert (config.logging.level, config.logging.stdout) == ("warning", True)
    log = run_kiosk.make_event_log(config, lambda: datetime(2026, 12, 1, 9, 30))
    log.emit(LogEvent.KIOSK_STARTED, terminal="T1", mode="production", policy="shanghai")
    log.emit(LogEvent.DEVICE_FAULT, session="s1", device="printer", error="jam")
    log.close()
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [{"code": "F001", "event": "DEVICE_FAULT",
                                                      "msg": "device fault in session", "t": "2026-12-01T09:30:00",
                                                      "session": "s1", "device": "printer", "error": "jam"}]
    assert (tmp_path / "k.jsonl").read_text("utf-8").splitlines() == lines
    quiet = run_kiosk.make_event_log(config, None, stdout=False)  # the simulator keeps stdout to itself
    quiet.emit(LogEvent.DEVICE_FAULT, session="s2", device="printer", error="jam")
    quiet.close()
    assert capsys.readouterr().out == ""


# --- sinks ----------------------------------------------------------------------------------------


def test_the_stdlib_sink_forwards_at_the_events_level(caplog: pytest.LogCaptureFixture) -> None:
    log = EventLog(level="debug", sinks=[logger_sink("kiosk.test")])
    with caplog.at_level(logging.DEBUG, logger="kiosk.test"):
        log.emit(LogEvent.STATE_ENTERED, state="ready.menu")
        log.emit(LogEvent.ID_READ_FAILED, session="s1", error="no_card")
    assert [(r.levelno, json.loads(r.getMessage())["event"]) for r in caplog.records] == [
        (logging.DEBUG, "STATE_ENTERED"), (logging.WARNING, "ID_READ_FAILED")]


def test_a_failing_sink_never_stops_the_log(tmp_path: Path) -> None:
    def broken(record: dict[str, object]) -> None:
        raise BrokenPipeError

    got: list[dict[str, object]] = []
    log = EventLog(tmp_path / "k.jsonl", sinks=[broken, got.append])
    log.emit(LogEvent.KIOSK_STOPPED)
    log.emit(LogEvent.KIOSK_STOPPED)
    log.close()
    assert log.sink_failures == 2
    assert [r["event"] for r in got] == ["KIOSK_STOPPED", "KIOSK_STOPPED"]
    assert len((tmp_path / "k.jsonl").read_text("utf-8").splitlines()) == 2


# --- device adapters --------------------------------------------------------------------------------


def test_a_crashed_job_is_reported_by_class_name_and_the_worker_goes_on() -> None:
    events: queue.Queue[object] = queue.Queue()
    worker = Worker("test", on_crash=crash_reporter(events.put, DeviceKind.CAMERA))
    ran = threading.Event()

    def crash() -> None:
        raise KeyError("张三 340102199003070010")  # whatever an exception says never reaches the log

    worker.start()
    try:
        worker.submit(crash)
        worker.submit(ran.set)
        assert ran.wait(3.0)
    finally:
        worker.stop()
    assert events.get_nowait() == DeviceLogged(DeviceKind.CAMERA, DeviceNote.JOB_CRASHED, "KeyError")
    assert events.empty() and worker.crashes == 1


def test_a_crash_reporter_that_fails_does_not_stop_the_worker() -> None:
    def boom(detail: str) -> None:
        raise RuntimeError

    def divide() -> None:
        print(1 / 0)

    worker = Worker("test", on_crash=boom)
    ran = threading.Event()
    worker.start()
    try:
        worker.submit(divide)
        worker.submit(ran.set)
        assert ran.wait(3.0)
    finally:
        worker.stop()
    assert worker.crashes == 1


def test_a_sink_that_refuses_an_event_hears_of_it_as_a_note() -> None:
    got: list[object] = []

    def picky(event: object) -> None:
        if isinstance(event, StatusChanged):
            raise RuntimeError("queue full")
        got.append(event)

    status = DeviceStatus(DeviceKind.ID_READER, DeviceState.ONLINE)
    assert not post_safely(picky, StatusChanged(status), "id reader")  # the old labels still work
    assert got == [DeviceLogged(DeviceKind.ID_READER, DeviceNote.SINK_FAILED, "StatusChanged:RuntimeError")]

    def dead(event: object) -> None:
        raise RuntimeError

    assert not post_safely(dead, StatusChanged(status), DeviceKind.ID_READER)  # nobody to tell: no raise
    current = DeviceStatus(DeviceKind.PRINTER, DeviceState.OFFLINE)
    assert publish(current, status, dead, "card printer") == status


# --- the journal ---------------------------------------------------------------------------------------


def test_a_refused_journal_write_is_returned_and_logged(tmp_path: Path) -> None:
    log = EventLog()
    journal = Journal(tmp_path / "j.sqlite", log=log)
    row = journal.begin_issuance("req-1", "SH20260000001")
    assert attempt(journal, row, "step_started", Step.PICKED) is None
    error = attempt(journal, row, "finish", Final.ISSUED)
    assert isinstance(error, JournalError) and error.problem is Problem.BAD_FINAL
    [record] = log.recent
    assert (record["event"], record["row"], record["write"], record["value"], record["problem"]) == (
        "JOURNAL_REFUSED", row, "finish", "issued", "bad_final")
    try:
        journal.begin_rewrite("req-1", "SH20260000001", "5B00000000000001")
    except JournalError as exc:
        log_refusal(journal, "begin_rewrite", exc)
    assert log.recent[-1]["write"] == "begin_rewrite" and log.recent[-1]["row"] is None
    journal.close()
    quiet = Journal(tmp_path / "j.sqlite")  # no log: the refusal is still returned
    assert isinstance(attempt(quiet, row, "finish", Final.ISSUED), JournalError)
    quiet.close()


def test_a_new_journal_is_not_a_migration_but_an_old_one_is(tmp_path: Path) -> None:
    import sqlite3

    log = EventLog()
    Journal(tmp_path / "new.sqlite", log=log).close()
    assert log.recent == []
    old = sqlite3.connect(tmp_path / "old.sqlite", isolation_level=None)
    old.execute("CREATE TABLE journal_row (id INTEGER PRIMARY KEY)")
    old.execute("PRAGMA user_version=1")
    old.close()
    Journal(tmp_path / "old.sqlite", log=log).close()
    assert [(r["event"], r["from_version"], r["to_version"]) for r in log.recent] == [
        ("JOURNAL_MIGRATED", 1, SCHEMA_VERSION)]


# --- the backend client -------------------------------------------------------------------------------


def test_backend_exchanges_are_logged_with_the_request_id_only() -> None:
    replies = iter([httpx.Response(503), httpx.Response(200, json={"status": "ok"}),
                    httpx.Response(200, json={"permit_number": "OTHER", "state": "issued"})])
    transport = httpx.MockTransport(lambda request: next(replies))
    log = EventLog(level="debug")
    with BackendClient("http://backend.test", "T1", transport=transport, backoff_s=0, log=log) as client:
        assert client.health() is False  # one attempt, no retry
        assert client.health() is True
        failure = client.confirm_issuance("rid-1", "SH20260000001", None)
    assert failure == BackendFailure(FailureKind.BAD_REPLY, status=200)
    assert [(r["event"], r["op"], r.get("disposition"), r.get("status"), r.get("field")) for r in log.recent] == [
        ("BACKEND_FAILED", "health", "server_error", 503, None),
        ("BACKEND_ANSWERED", "health", None, None, None),
        ("BACKEND_ANSWERED", "confirm", None, None, None),
        ("BACKEND_BAD_REPLY", "confirm", None, None, "issuance"),
    ]
    assert log.recent[-1]["request_id"] == "rid-1"
    assert all(isinstance(r.get("ms", 0), int) for r in log.recent)


def test_backend_answers_are_debug_and_failures_warnings() -> None:
    log = EventLog(level="info")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "ok"}))
    with BackendClient("http://backend.test", "T1", transport=transport, log=log) as client:
        assert client.health() is True
    assert log.recent == []
    assert LogEvent.BACKEND_FAILED.value.level == logging.WARNING
