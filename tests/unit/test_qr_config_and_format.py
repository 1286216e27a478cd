"""The QR scanner's configuration ([devices.qr_scanner], [qr_scanner] in sim.toml), its place in
the scenario format (the qr_scanner key, the scan and show_proof steps, its faults), and the
composition root's choice of adapter."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

import run_kiosk
from devices.qr_camera import CameraQrScanner
from devices.qr_scanner import SerialQrScanner
from kiosk.config import CONFIG_DIR, ConfigError, load_kiosk_config, load_sim_config
from sim.camera_emu import SceneFrameSource
from sim.scenario import ScenarioError, parse

ROOT = Path(__file__).resolve().parents[2]


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (CONFIG_DIR / "kiosk.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_shipped_configuration_has_a_serial_scanner_on_ttyacm0_and_the_government_hosts() -> None:
    qr = load_kiosk_config().devices.qr_scanner
    assert (qr.enabled, qr.driver, qr.port, qr.decoder) == (True, "serial", "/dev/ttyACM0", "zxing")
    assert qr.proof_hosts == ("ywtb.sh.gov.cn", "fw.sh.gov.cn")
    assert load_sim_config().qr_scanner.driver == "serial"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('driver = "serial"            # serial (a scanner', 'driver = "usb"            # serial (a scanner',
     "devices.qr_scanner.driver"),
    ('decoder = "zxing"', 'decoder = "opencv"', "devices.qr_scanner.decoder"),
    ("max_line = 512", "max_line = 0", "devices.qr_scanner.max_line"),
    ('proof_hosts = ["ywtb.sh.gov.cn", "fw.sh.gov.cn"]', "proof_hosts = []", "devices.qr_scanner.proof_hosts"),
    ('proof_hosts = ["ywtb.sh.gov.cn", "fw.sh.gov.cn"]', 'proof_hosts = "ywtb.sh.gov.cn"',
     "devices.qr_scanner.proof_hosts"),
    ('proof_hosts = ["ywtb.sh.gov.cn", "fw.sh.gov.cn"]', 'proof_hosts = ["YWTB.sh.gov.cn"]',
     "devices.qr_scanner.proof_hosts"),
    ('proof_hosts = ["ywtb.sh.gov.cn", "fw.sh.gov.cn"]', 'proof_hosts = ["уwtb.sh.gov.cn"]',
     "devices.qr_scanner.proof_hosts"),
    ("enabled = true\n", "", "devices.qr_scanner.enabled"),
])
def test_a_bad_scanner_key_is_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_kiosk_config(edited(tmp_path, old, new))


def test_the_composition_root_builds_the_configured_scanner_or_none() -> None:
    qr = load_kiosk_config().devices.qr_scanner
    events: list[object] = []
    assert isinstance(run_kiosk.build_qr_scanner(qr, events.append), SerialQrScanner)
    camera = run_kiosk.build_qr_scanner(replace(qr, driver="camera", camera="sim"), events.append, SceneFrameSource())
    assert isinstance(camera, CameraQrScanner)
    assert run_kiosk.build_qr_scanner(replace(qr, enabled=False), events.append) is None
    with pytest.raises(SystemExit, match="needs --sim"):
        run_kiosk.build_qr_scanner(replace(qr, driver="camera", camera="sim"), events.append)
    assert events == []  # nothing started, nothing said


def demo() -> dict:
    with (ROOT / "sim" / "scenarios" / "demo.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_scenarios_choose_the_scanner_and_script_scans_and_proofs() -> None:
    data = demo()
    data["qr_scanner"] = "camera"
    data["faults"] = [{"device": "qr_scanner", "kind": "vanish", "at": "scan"}]
    data["steps"] = [{"do": "show_proof", "number": "2026310105000123"},
                     {"do": "scan", "payload": "https://evil.example/proof?no=1"},
                     {"do": "scan", "payload_hex": "ff00c328"}]
    s = parse(data)
    assert s.qr_scanner == "camera"
    assert [(st.do, st.number, st.payload, st.payload_hex) for st in s.steps] == [
        ("show_proof", "2026310105000123", None, None),
        ("scan", None, "https://evil.example/proof?no=1", None),
        ("scan", None, None, "ff00c328"),
    ]
    assert parse(demo()).qr_scanner is None


@pytest.mark.parametrize(("change", "message"), [
    ({"qr_scanner": "bluetooth"}, "qr_scanner"),
    ({"steps": [{"do": "show_proof"}]}, "steps[0].number"),
    ({"steps": [{"do": "scan"}]}, "exactly one of payload and payload_hex"),
    ({"steps": [{"do": "scan", "payload": "x", "payload_hex": "78"}]}, "exactly one of payload and payload_hex"),
    ({"steps": [{"do": "scan", "payload_hex": "zz"}]}, "payload_hex"),
    ({"steps": [{"do": "scan", "payload": 12345678}]}, "payload"),
    ({"steps": [{"do": "show_proof", "number": 2026310105000123}]}, "number"),
])
def test_a_malformed_scanner_part_of_a_scenario_is_named(change: dict, message: str) -> None:
    data = demo()
    data.update(change)
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(data)
