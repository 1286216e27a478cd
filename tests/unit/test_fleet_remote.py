"""The fleet's commands in the core (kiosk/remote.py), without devices or a broker: each one
audited, out of service kept in the diagnostics audit trail across a restart."""

from __future__ import annotations

import queue
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from devices.events import StatusChanged
from devices.status import DeviceKind, DeviceState, DeviceStatus
from kiosk.clock import VirtualClock
from kiosk.config import load_kiosk_config
from kiosk.controller import Kiosk
from kiosk.diagnostics_store import AuditAction, DiagnosticsStore
from kiosk.journal import Journal
from kiosk.logevents import EventLog
from kiosk.policy import load_pack
from kiosk.remote import FLEET_CARD, RemoteAction, RemoteCommand
from tests.unit.test_core import Port, all_up, printer


def make(tmp_path: Path) -> Kiosk:
    from types import SimpleNamespace

    cfg = load_kiosk_config()
    cfg = replace(cfg, journal=replace(cfg.journal, file=str(tmp_path / "journal.sqlite")))
    clock = VirtualClock(date(2026, 11, 22))
    ports = SimpleNamespace(id_reader=Port(), printer=Port(), encoder=Port(), camera=Port(), backend=Port(),
                            qr_scanner=None, devices=lambda: ())
    return Kiosk(cfg, load_pack("shanghai"), clock, ports, EventLog(), events=queue.Queue(),  # type: ignore[arg-type]
                 journal=Journal(tmp_path / "journal.sqlite", now=clock.now))


def command(k: Kiosk, action: RemoteAction, cid: str) -> dict[str, Any]:
    replies: list[dict[str, Any]] = []
    k.post(RemoteCommand(action, cid, replies.append))
    k.pump()
    assert len(replies) == 1
    return replies[0]


def test_out_of_service_is_audited_and_survives_a_restart(tmp_path: Path) -> None:
    k = make(tmp_path)
    all_up(k)
    assert command(k, RemoteAction.OUT_OF_SERVICE, "c-1") == {"id": "c-1", "command": "out_of_service",
                                                               "result": "accepted", "why": ""}
    assert k.availability.held_out and not k.availability.offered()
    assert command(k, RemoteAction.OUT_OF_SERVICE, "c-2")["why"] == "already"
    audit = [(r["command"], r["id"], r["result"]) for r in k.log.recent if r["event"] == "FLEET_COMMAND"]
    assert audit == [("out_of_service", "c-1", "accepted"), ("out_of_service", "c-2", "accepted")]
    store = DiagnosticsStore(str(tmp_path / "journal.sqlite"))
    row = store.last_audit(AuditAction.OUT_OF_SERVICE)
    assert row is not None and row.card_id == FLEET_CARD and row.result == "remote:c-1"
    # A restart: the first device status restores the hold, as for a technician's.
    again = make(tmp_path)
    again.post(StatusChanged(printer()))
    again.pump()
    assert again.availability.held_out
    assert command(again, RemoteAction.IN_SERVICE, "c-3")["result"] == "accepted"
    assert not again.availability.held_out


def test_self_test_judges_each_device_by_its_status(tmp_path: Path) -> None:
    k = make(tmp_path)
    all_up(k)
    k.availability.update(DeviceStatus(DeviceKind.CAMERA, DeviceState.OFFLINE))
    reply = command(k, RemoteAction.SELF_TEST, "c-t")
    assert reply["result"] == "accepted"
    assert reply["tests"]["printer"] == "ok" and reply["tests"]["camera"] != "ok"
    results = [r for r in k.log.recent if r["event"] == "SELFTEST_RESULT"]
    assert {r["device"] for r in results} >= {"printer", "camera", "id_reader"}


def test_commands_are_refused_while_a_technician_is_in_diagnostics(tmp_path: Path) -> None:
    k = make(tmp_path)
    all_up(k)
    k.state = "diagnostics.board"  # a technician at the terminal: the machine's own attribute, set here alone
    reply = command(k, RemoteAction.OUT_OF_SERVICE, "c-d")
    assert (reply["result"], reply["why"]) == ("refused", "technician_present")
    assert not k.availability.held_out
    assert [r["result"] for r in k.log.recent if r["event"] == "FLEET_COMMAND"] == ["refused"]
