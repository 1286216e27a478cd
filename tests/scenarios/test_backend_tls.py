"""The backend over mutual TLS with a wrong or an expired terminal certificate (issue 15).

Whole runs in-process on the real emulated stack; the emulated backend serves TLS with certificates
made at setup (sim/pki.py) and requires a client certificate from its CA. The good certificate is
scenario `issued_backend_mutual_tls` (tests/scenarios/cases). Here the kiosk presents one from
another CA, or one of the right CA that has expired: the backend is unreachable for it, never a
crash; the kiosk stays out of service (it cannot serve anyone without the approval system) and a
BACKEND_TLS_FAILED event names the cause as the server's TLS alert said it. Then, with the good
certificate at start and the expired one put in before the resident's precheck (a certificate
rotation gone wrong), the session ends BACKEND_UNAVAILABLE with the same cause logged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import run_kiosk
from kiosk.backend_client import BackendClient
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.view import View
from sim import runner
from sim.pki import Pki
from sim.runner import ScenarioPlayer, SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
MUTUAL = ROOT / "tests" / "scenarios" / "cases" / "issued_backend_mutual_tls.toml"
# What the backend's TLS alert says to each wrong certificate (OpenSSL's reason codes).
# uvicorn drops the connection without the TLS alert reaching the client, so the kiosk names the
# cause from its own certificate (kiosk/backend_tls.py, refusal_cause).
CAUSES = {"untrusted_client": "refused_after_handshake:issuer=CN=Another CA", "expired_client":
          "client_certificate_expired"}


def scenario(tmp_path: Path, tls: str, expect: str) -> Path:
    text = MUTUAL.read_text(encoding="utf-8").replace('backend_tls = "mutual"', f'backend_tls = "{tls}"')
    path = tmp_path / f"{tls}.toml"
    path.write_text(text.split("[expect]", 1)[0] + "[expect]\n" + expect, encoding="utf-8")
    return path


def tls_events(kiosk: Any) -> list[dict[str, Any]]:
    return [r for r in kiosk.log.recent if r["event"] == "BACKEND_TLS_FAILED"]


@pytest.mark.parametrize("tls", sorted(CAUSES))
def test_a_wrong_or_expired_certificate_keeps_the_kiosk_out_of_service(tmp_path: Path, tls: str) -> None:
    (tmp_path / "rig").mkdir()
    rig = SimRig(load(scenario(tmp_path, tls, 'final_screen = "out_of_service"\ncards_issued = 0\n')),
                 config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), 0.0)
        kiosk = rig.kiosk
        assert kiosk is not None
        events, state, backend_up = tls_events(kiosk), kiosk.state, kiosk.availability.backend_up
    finally:
        rig.close(keep_workdir=True)
    assert report["failures"] == [], report["failures"]
    assert state == "out_of_service" and backend_up is False
    assert events, "no BACKEND_TLS_FAILED event"
    assert all(e["op"] == "health" and CAUSES[tls] in e["cause"] for e in events), events


def test_a_certificate_that_goes_bad_before_the_precheck_is_backend_unavailable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    swapped: list[str] = []
    frame_hook = ScenarioPlayer.__call__

    def expired_certificate_at_read_id(self: ScenarioPlayer, view: View) -> Any:
        if view.screen == "new_permit.read_id" and not swapped:
            b = self.kiosk.config.backend
            pki = Pki(Path(b.client_cert).parent)
            old = self.kiosk.ports.backend
            self.kiosk.ports.backend = BackendClient(  # type: ignore[misc]
                b.url, self.kiosk.config.terminal.id, verify=b.ca_file, log=self.kiosk.log,
                cert=(str(pki.cert("expired")), str(pki.key("expired"))))
            old.close()
            swapped.append(view.screen)
        return frame_hook(self, view)

    monkeypatch.setattr(runner.ScenarioPlayer, "__call__", expired_certificate_at_read_id)
    (tmp_path / "rig").mkdir()
    expect = 'outcome = "counter_referral"\nreason = "BACKEND_UNAVAILABLE"\ncards_issued = 0\n'
    rig = SimRig(load(scenario(tmp_path, "mutual", expect)), config=load_kiosk_config(), sim=load_sim_config(),
                 build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), 0.0)
        kiosk = rig.kiosk
        assert kiosk is not None
        events = tls_events(kiosk)
    finally:
        rig.close(keep_workdir=True)
    assert swapped == ["new_permit.read_id"]
    assert report["failures"] == [], report["failures"]
    assert (report["outcome"], report["reason"]) == ("counter_referral", "BACKEND_UNAVAILABLE")
    assert any(e["op"] == "precheck" and "client_certificate_expired" in e["cause"] for e in events), events


_ = replace
