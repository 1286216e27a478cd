"""The whole kiosk with fleet telemetry on, against a real Mosquitto: a resident's session on the
emulated stack (device hub over ptys, pcscd, the backend over HTTP) reported to the fleet, then
the fleet's commands carried out by the kiosk through its event queue, each audited, and the
terminal shown offline when it stops. Run under /work/shared/tools/iso (pcscd, vpcd ports)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import run_kiosk
from fleet import view
from fleet.outbox import Outbox
from kiosk.config import load_kiosk_config, load_sim_config
from sim.mosquitto import OPERATOR, Broker
from sim.runner import SimRig
from sim.scenario import load
from tests.fleet.conftest import connect

ROOT = Path(__file__).resolve().parents[2]
HAPPY = ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml"
WAIT = 20.0


def pump_until(rig: SimRig, predicate: Any, timeout: float = WAIT) -> bool:
    """The kiosk's main thread, as the main loop runs it, until `predicate` holds."""
    assert rig.kiosk is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rig.kiosk.pump(0.05)
    return bool(predicate())


def test_a_session_is_reported_and_the_fleet_commands_the_kiosk(broker: Broker, tmp_path: Path) -> None:
    terminal = "SH-CN-0001"
    ident = broker.pki.issue(terminal)
    base = load_kiosk_config()
    config = replace(base, terminal=replace(base.terminal, id=terminal), telemetry=replace(
        base.telemetry, enabled=True, broker_port=broker.port, ca_file=str(broker.pki.ca), cert_file=str(ident.cert),
        key_file=str(ident.key), outbox_file=str(tmp_path / "outbox.sqlite"), keepalive=10))
    fleet, op = connect(broker, OPERATOR)
    raw: list[bytes] = []
    feed = fleet.on_message
    fleet.on_message = lambda topic, payload, retained=False: (raw.append(payload), feed(topic, payload, retained))[1]
    (tmp_path / "rig").mkdir()
    rig = SimRig(load(HAPPY), config=config, sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), 0.0)
        assert report["failures"] == [] and report["outcome"] == "issued", report["failures"]
        kiosk = rig.kiosk
        assert kiosk is not None
        # The session, the devices and the counters reached the fleet.
        assert fleet.wait_for(lambda f: f.terminals.get(terminal, view.Terminal()).counters.get("outcome.issued") == 1,
                              WAIT)
        t = fleet.snapshot()[terminal]
        assert t["state"] == "online" and t["in_service"] is True
        assert set(t["supplies"]) == {"hopper", "reject_bin"}
        assert next(o for name, o in fleet.outcome_log if name == terminal)["outcome"] == "issued"

        # Out of service, from the fleet: carried out on the kiosk's main thread, audited, answered.
        cid = view.send_command(op, terminal, "out_of_service")  # type: ignore[arg-type]
        assert pump_until(rig, lambda: kiosk.state == "out_of_service")
        assert kiosk.availability.held_out
        assert fleet.wait_for(lambda f: any(r["id"] == cid and r["result"] == "accepted"
                                            for r in f.terminals[terminal].replies), WAIT)
        assert fleet.wait_for(lambda f: f.terminals[terminal].status.get("in_service") is False, WAIT)
        # The self-tests that need nobody at the terminal.
        cid_test = view.send_command(op, terminal, "self_test")  # type: ignore[arg-type]
        assert pump_until(rig, lambda: any(r["id"] == cid_test for r in fleet.terminals[terminal].replies))
        reply = next(r for r in fleet.terminals[terminal].replies if r["id"] == cid_test)
        assert reply["result"] == "accepted" and reply["tests"]["printer"] == "ok", reply
        # Back in service.
        cid_back = view.send_command(op, terminal, "in_service")  # type: ignore[arg-type]
        assert pump_until(rig, lambda: kiosk.state == "ready.attract")
        assert fleet.wait_for(lambda f: any(r["id"] == cid_back for r in f.terminals[terminal].replies), WAIT)
        assert fleet.wait_for(lambda f: f.terminals[terminal].status.get("in_service") is True, WAIT)
        # Report now: every retained kind again.
        before = fleet.terminals[terminal].messages
        cid_report = view.send_command(op, terminal, "report_now")  # type: ignore[arg-type]
        assert pump_until(rig, lambda: any(r["id"] == cid_report for r in fleet.terminals[terminal].replies))
        assert fleet.wait_for(lambda f: f.terminals[terminal].messages >= before + 3, WAIT)
    finally:
        rig.close(keep_workdir=True)
    # Stopped: the link delivered what it had, said offline (retained), and left nothing behind.
    assert fleet.wait_for(lambda f: f.terminals[terminal].state == "offline", WAIT)
    ob = Outbox(tmp_path / "outbox.sqlite", 10)
    assert ob.count() == 0
    ob.close()
    op.loop_stop()  # type: ignore[attr-defined]
    records = [json.loads(line) for line in (tmp_path / "rig" / "kiosk.jsonl").read_text().splitlines()]
    audit = [(r["command"], r["id"], r["result"]) for r in records if r["event"] == "FLEET_COMMAND"]
    assert audit == [("out_of_service", cid, "accepted"), ("self_test", cid_test, "accepted"),
                     ("in_service", cid_back, "accepted"), ("report_now", cid_report, "accepted")]
    # SH-PRIV-1: nothing of the resident reached the fleet: no masked ID, no permit number, no session id.
    text = b"\n".join(raw).decode()
    personal = {str(r[k]) for r in records for k in ("masked_id", "permit_number", "session") if r.get(k)}
    assert personal and not [p for p in personal if p in text]
    assert not re.search(r"\d{17}[\dX]", text)
