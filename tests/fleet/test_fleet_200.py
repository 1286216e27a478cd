"""200 simulated terminals (the kiosk's own fleet link each: outbox on disk, paho client, its
certificate) publishing at once against a real Mosquitto, and the fleet view seeing all of them:
every terminal online, every session's outcome delivered, each terminal's messages in order.
Figures (messages/s, latency, broker RSS/CPU): `python -m sim.fleet_sim` (docs/fleet.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fleet.link import FleetLink
from sim import fleet_sim
from sim.mosquitto import OPERATOR, VIEWER, Broker
from tests.fleet.test_fleet_broker import ROOT, WAIT, settings


def test_200_terminals_publish_at_once_and_the_view_sees_them_all(tmp_path: Path) -> None:
    figures = fleet_sim.run(200, seconds=3.0, rate=1.0, workdir=tmp_path)
    assert figures["all_online"] and figures["online_seen"] == 200, figures
    assert figures["sessions"] >= 200 and figures["all_delivered"], figures
    assert figures["outcomes_received"] >= figures["sessions"], figures  # at least once
    assert figures["in_order"], figures


def test_the_view_prints_the_fleet_as_json(broker: Broker, tmp_path: Path) -> None:
    link = FleetLink(settings(broker, "T-0001", tmp_path / "o.sqlite"), lambda e: None).start()
    try:
        link.sink({"event": "DEVICE_STATUS", "device": "printer", "state": "online", "media": "none", "detail": "",
                   "supplies": "hopper=empty:0,reject_bin=high:1"})
        link.sink({"event": "SERVICES_CHANGED", "available": "registration", "unavailable": "new_permit:hopper_empty"})
        link.close(timeout=WAIT)  # delivered, and the retained messages stay for the view
        ident = broker.pki.clients[VIEWER]
        out = subprocess.run([sys.executable, "-m", "fleet.view", "--port", str(broker.port), "--ca",
                              str(broker.pki.ca), "--cert", str(ident.cert), "--key", str(ident.key), "--json",
                              "--seconds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    finally:
        link.close()
    doc = json.loads(out.stdout)
    t = doc["terminals"]["T-0001"]
    assert t["state"] == "offline" and t["supplies"] == {"hopper": "empty:0", "reject_bin": "high:1"}
    assert t["services"] == ["registration"] and t["alerts"] == ["hopper_empty"]
    assert OPERATOR not in doc["terminals"]
