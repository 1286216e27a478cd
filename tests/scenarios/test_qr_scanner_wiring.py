"""The QR scanner in a whole simulated kiosk, for each way a scenario can have it: the serial
scanner on the hub's ttyQRS, the camera driver on the runner's scanning camera, or none.

A session runs to its end with the scanner in place (it must not disturb a new permit), the
kiosk's availability has heard the scanner come online, and a proof shown through the runner's
`show_proof` arrives on the kiosk's own event queue as the proof's payload. The registration
flow that consumes it is tested by the registration scenarios.
"""

from __future__ import annotations

import os
import queue
from dataclasses import replace
from pathlib import Path

import pytest

import run_kiosk
from devices.events import QrScanned
from devices.status import DeviceKind, DeviceState
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.qr_payload import ProofReference, parse_proof_payload
from sim.proofs import proof_payload, verification_code
from sim.runner import SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
NUMBER = "2026310105000123"
WAIT = 5.0


@pytest.mark.parametrize("driver", ["serial", "camera", "absent"])
def test_the_scanner_of_each_driver_is_wired_into_the_kiosk(driver: str) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    scenario = replace(load(ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml"), qr_scanner=driver)
    config = load_kiosk_config()
    rig = SimRig(scenario, config=config, sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display)
    try:
        rig.start()
        player = rig.play()
        kiosk = rig.kiosk
        assert kiosk is not None
        assert player.failures == []
        assert kiosk.finished[-1].outcome == "issued"
        scanner = kiosk.ports.qr_scanner
        if driver == "absent":
            assert scanner is None
            assert DeviceKind.QR_SCANNER not in kiosk.availability.status
            return
        assert scanner is not None
        assert kiosk.availability.status[DeviceKind.QR_SCANNER].state is DeviceState.ONLINE
        assert kiosk.config.devices.qr_scanner.driver == driver
        # Nobody pumps the kiosk now: what the scanner posts waits on the kiosk's own queue.
        scanner.set_scanning(True)
        assert player._show_proof(NUMBER)
        assert player.failures == []
        payload = _next_scan(kiosk.runtime.events)
        assert payload == proof_payload(NUMBER).encode()
        hosts = config.devices.qr_scanner.proof_hosts
        assert parse_proof_payload(payload, hosts) == ProofReference(NUMBER, verification_code(NUMBER))
    finally:
        rig.close()


def _next_scan(events: queue.Queue[object]) -> bytes:
    while True:
        try:
            event = events.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no QrScanned on the kiosk's queue within {WAIT} s")
        if isinstance(event, QrScanned):
            return event.payload
