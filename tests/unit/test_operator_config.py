"""The operator's keys of issue 14, validated at start with the key named: terminal.services,
devices.encoder.keys_file (empty or absent: no chip keys; named but unreadable: an error), and
the encoder a terminal without keys gets. The whole kiosk: tests/scenarios/test_terminal_config.py."""

from __future__ import annotations

import queue
import re
from pathlib import Path

import pytest

import run_kiosk
from devices.events import ChipError, ChipOp, ChipResult, StatusChanged
from devices.status import DeviceKind, DeviceState
from devices.unkeyed_encoder import UnkeyedEncoder
from kiosk.availability import Availability
from kiosk.config import ConfigError, load_kiosk_config
from kiosk.flows import FLOWS
from kiosk.reasons import Service
from kiosk.selftest import cause_of

ROOT = Path(__file__).resolve().parents[2]
SERVICES_LINE = 'services = ["new_permit", "card_rewrite", "registration", "status_query"]'


def _config(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("services", "message"), [
    ("[]", "terminal.services: name at least one service"),
    ('["new_permit", "passport"]', "terminal.services: 'passport' is not one of"),
    ('["registration", "registration"]', "terminal.services: a service is named twice"),
    ('"registration"', "terminal.services: expected"),
])
def test_terminal_services_are_validated_by_name(tmp_path: Path, services: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_kiosk_config(_config(tmp_path, SERVICES_LINE, f"services = {services}"))


def test_services_and_keys_file_may_be_left_out(tmp_path: Path) -> None:
    path = _config(tmp_path, SERVICES_LINE, "")
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^keys_file = "".*$', "", text), encoding="utf-8")
    cfg = load_kiosk_config(path)
    assert cfg.terminal.services == tuple(s.value for s in Service)  # every service, as before the key
    assert cfg.devices.encoder.keys_file == ""


def test_an_empty_keys_file_means_no_keys_and_a_named_unreadable_one_stops_the_start(tmp_path: Path) -> None:
    assert run_kiosk.load_chip_keys("") is None
    with pytest.raises(ConfigError, match=r"devices\.encoder\.keys_file: cannot read keys \(FileNotFoundError\)"):
        run_kiosk.load_chip_keys(str(tmp_path / "keys.toml"))
    (tmp_path / "keys.toml").write_text('issuer = "00"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"devices\.encoder\.keys_file: cannot read keys \(KeyError\)"):
        run_kiosk.load_chip_keys(str(tmp_path / "keys.toml"))


def test_the_unkeyed_encoder_is_unavailable_and_refuses_at_once() -> None:
    events: queue.Queue[object] = queue.Queue()
    encoder = UnkeyedEncoder(events.put)
    encoder.start()
    changed = events.get_nowait()
    assert isinstance(changed, StatusChanged)
    assert changed.status.device is DeviceKind.PERMIT_CARD and changed.status.state is DeviceState.OFFLINE
    assert cause_of(DeviceKind.PERMIT_CARD, changed.status) == "no_keys"  # the diagnostics board's words
    encoder.read_technician_card()
    assert events.get_nowait() == ChipResult(ChipOp.READ_TECHNICIAN, False, ChipError.NO_DEVICE)
    assert not encoder.pin_matches(None, "123456")  # type: ignore[arg-type]

    needs = {f.SERVICE: f.NEEDS for f in FLOWS if f.SERVICE is not None and f.NEEDS is not None}
    availability = Availability(needs)
    availability.update(changed.status)
    assert "permit_card_down" in availability.problems(Service.NEW_PERMIT)
    assert "permit_card_down" in availability.problems(Service.CARD_REWRITE)
    assert "permit_card_down" not in availability.problems(Service.REGISTRATION)
    assert "permit_card_down" not in availability.problems(Service.STATUS_QUERY)
