"""The log file's rotation by size, journald's priority prefixes on stdout, a stdout-only log, and
the [logging] keys' validation (issue 14). Levels themselves: tests/unit/test_logging.py."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from datetime import datetime
from pathlib import Path

import pytest

import run_kiosk
from kiosk.config import ConfigError, load_kiosk_config
from kiosk.logevents import EventLog, LogEvent

ROOT = Path(__file__).resolve().parents[2]


def _numbers(path: Path) -> list[int]:
    return [json.loads(line)["to_version"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_file_rotates_by_size_and_keeps_n_files_in_order(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.jsonl"
    log = EventLog(path, rotate_bytes=4096, rotate_files=3)
    for i in range(2000):
        log.emit(LogEvent.JOURNAL_MIGRATED, from_version=0, to_version=i)
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kiosk.jsonl", "kiosk.jsonl.1", "kiosk.jsonl.2",
                                                          "kiosk.jsonl.3"]
    line = len(json.dumps({"code": "J002", "event": "JOURNAL_MIGRATED", "msg": "journal schema migrated",
                           "from_version": 0, "to_version": 1999})) + 1
    for p in tmp_path.iterdir():
        assert p.stat().st_size < 4096 + line, p.name  # whole lines only, rotated at the bound
    kept = [n for name in ("kiosk.jsonl.3", "kiosk.jsonl.2", "kiosk.jsonl.1", "kiosk.jsonl")
            for n in _numbers(tmp_path / name)]
    assert kept == list(range(kept[0], 2000))  # the newest, in order, nothing lost between files
    assert kept[0] > 0  # the oldest were dropped: the disk use is bounded


def test_no_old_file_kept_and_an_existing_file_counts(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.jsonl"
    path.write_text('{"code": "K001"}\n' * 250, encoding="utf-8")  # 4250 bytes from the last run
    log = EventLog(path, rotate_bytes=4096, rotate_files=0)
    log.emit(LogEvent.KIOSK_STOPPED)
    assert [p.name for p in tmp_path.iterdir()] == ["kiosk.jsonl"]
    assert path.read_text(encoding="utf-8") == ""  # rotated away at once: no old file is kept
    log.emit(LogEvent.KIOSK_STOPPED)
    log.close()
    assert json.loads(path.read_text(encoding="utf-8"))["event"] == "KIOSK_STOPPED"


def _config(tmp_path: Path, **logging: object) -> Path:
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    # The [logging] section rewritten with these keys (every other section as it is).
    start = text.index("[logging]")
    end = text.index("\n[", start + 1)
    section = "[logging]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in {**data["logging"], **logging}.items())
    out = tmp_path / "kiosk.toml"
    out.write_text(text[:start] + section + "\n" + text[end:], encoding="utf-8")
    return out


@pytest.mark.parametrize(("keys", "named"), [
    ({"rotate_bytes": 100}, "logging.rotate_bytes"),
    ({"rotate_bytes": -1}, "logging.rotate_bytes"),
    ({"rotate_files": 101}, "logging.rotate_files"),
    ({"rotate_files": "5"}, "logging.rotate_files"),
    ({"journal_priority": "yes"}, "logging.journal_priority"),
    ({"file": "", "stdout": False}, "logging.file"),
])
def test_every_logging_key_is_validated_by_name(tmp_path: Path, keys: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_kiosk_config(_config(tmp_path, **keys))


def test_stdout_only_with_journal_priorities_and_the_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = load_kiosk_config(_config(tmp_path, file="", stdout=True, journal_priority=True, level="info"))
    log = run_kiosk.make_event_log(cfg, lambda: datetime(2026, 12, 2, 8, 0))
    log.emit(LogEvent.STATE_ENTERED, state="ready.attract")  # debug: below the level, nowhere
    log.emit(LogEvent.KIOSK_STARTED, terminal="SH-CN-0001", mode="production", policy="shanghai")
    log.emit(LogEvent.ID_READ_FAILED, session="s1", error="timeout")
    log.emit(LogEvent.TRIGGER_REFUSED, state="x", trigger="y")
    log.close()
    lines = capsys.readouterr().out.splitlines()
    assert [line[:3] for line in lines] == ["<6>", "<4>", "<3>"]  # info, warning, error
    assert [json.loads(line[3:])["event"] for line in lines] == ["KIOSK_STARTED", "ID_READ_FAILED", "TRIGGER_REFUSED"]
    assert list(tmp_path.glob("*.jsonl")) == []  # no file configured: none written


def test_the_configured_rotation_reaches_the_event_log(tmp_path: Path) -> None:
    cfg = load_kiosk_config(ROOT / "config" / "kiosk.toml")
    cfg = dataclasses.replace(cfg, logging=dataclasses.replace(cfg.logging, file=str(tmp_path / "k.jsonl"),
                                                               rotate_bytes=4096, rotate_files=2))
    log = run_kiosk.make_event_log(cfg, None, stdout=False)
    for i in range(500):
        log.emit(LogEvent.JOURNAL_MIGRATED, from_version=0, to_version=i)
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.jsonl", "k.jsonl.1", "k.jsonl.2"]
