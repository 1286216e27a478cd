"""Diagnostics' self-test verdicts and the board's causes (kiosk/selftest.py), and the technician
card's profile terms (devices/permit_profile.py)."""

from __future__ import annotations

from datetime import date

import pytest

from devices.permit_profile import (
    EF_SIZE,
    Fid,
    ProfileError,
    TechnicianStatus,
    decode_technician,
    decode_technician_terms,
    encode_technician,
    frame_record,
    tlv_encode,
)
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus, MediaPosition, Supply, SupplyLevel
from kiosk import diagnostics_counters as dc
from kiosk import selftest as stt


def status(kind: DeviceKind, state: DeviceState, detail: str = "", media: MediaPosition = MediaPosition.NONE,
           supplies: tuple[Supply, ...] = ()) -> DeviceStatus:
    return DeviceStatus(kind, state, media, supplies, DeviceInfo(), detail)


@pytest.mark.parametrize(("kind", "st", "cause"), [
    (DeviceKind.PRINTER, status(DeviceKind.PRINTER, DeviceState.HARDWARE_ERROR, "jam", MediaPosition.JAMMED), "jam"),
    (DeviceKind.PRINTER, status(DeviceKind.PRINTER, DeviceState.USER_ERROR, "cover_open"), "cover_open"),
    (DeviceKind.PRINTER, status(DeviceKind.PRINTER, DeviceState.OFFLINE, "no_response"), "no_response"),
    (DeviceKind.ID_READER, status(DeviceKind.ID_READER, DeviceState.NO_DEVICE, "port_gone"), "port_gone"),
    (DeviceKind.ID_READER, status(DeviceKind.ID_READER, DeviceState.HARDWARE_ERROR, "sam_self_test"), "sam_self_test"),
    (DeviceKind.PERMIT_CARD, status(DeviceKind.PERMIT_CARD, DeviceState.NO_DEVICE, "no_reader"), "no_reader"),
    (DeviceKind.PERMIT_CARD, status(DeviceKind.PERMIT_CARD, DeviceState.NO_DEVICE, "no_pcsc_service"),
     "no_pcsc_service"),
    (DeviceKind.CAMERA, status(DeviceKind.CAMERA, DeviceState.NO_DEVICE, "not_found"), "camera_not_found"),
    (DeviceKind.BACKEND, status(DeviceKind.BACKEND, DeviceState.OFFLINE), "backend_unreachable"),
    (DeviceKind.QR_SCANNER, None, "not_installed"),
    (DeviceKind.PRINTER, status(DeviceKind.PRINTER, DeviceState.ONLINE), "ok"),
])
def test_each_fault_has_its_own_cause(kind: DeviceKind, st: DeviceStatus | None, cause: str) -> None:
    assert stt.cause_of(kind, st) == cause
    verdict = stt.status_test(kind, stt.Test.STATUS, st)
    assert verdict.passed is (cause == "ok") and verdict.cause == cause


def test_supplies_name_what_they_need() -> None:
    def printer(hopper: SupplyLevel, bin_: SupplyLevel) -> DeviceStatus:
        return status(DeviceKind.PRINTER, DeviceState.ONLINE,
                      supplies=(Supply("hopper", hopper, 0), Supply("reject_bin", bin_, 0)))

    assert stt.supply_cause(printer(SupplyLevel.EMPTY, SupplyLevel.FULL)) == "hopper_empty"
    assert stt.supply_cause(printer(SupplyLevel.HIGH, SupplyLevel.FULL)) == "reject_bin_full"
    assert stt.supply_cause(printer(SupplyLevel.LOW, SupplyLevel.EMPTY)) == "hopper_low"
    assert stt.supply_cause(printer(SupplyLevel.FULL, SupplyLevel.LOW)) == "ok"


def _frame(value: int, pattern: bool) -> bytes:
    w = h = 64
    out = bytearray()
    for y in range(h):
        for x in range(w):
            v = value if not pattern or (x // 8 + y // 8) % 2 else max(0, value - 60)
            out += bytes((v, v, v))
    return bytes(out)


def test_a_camera_frame_is_judged_by_brightness_and_detail() -> None:
    assert stt.frame_test(64, 64, _frame(180, True)).passed
    dark = stt.frame_test(64, 64, _frame(10, True))
    assert not dark.passed and dark.cause == "too_dark" and dark.detail.startswith("brightness=")
    flat = stt.frame_test(64, 64, _frame(150, False))
    assert not flat.passed and flat.cause == "blurred"
    assert stt.frame_test(64, 64, b"\x00" * 10).cause == "bad_frame"


def test_backend_health_and_latency() -> None:
    assert stt.health_test(True, 40).passed
    assert stt.health_test(False, 5).cause == "backend_unreachable"
    assert stt.health_test(True, stt.SLOW_BACKEND_MS + 1).cause == "backend_slow"


def test_technician_profile_carries_role_validity_and_status() -> None:
    raw = encode_technician("T0001", b"\x01" * 8, role="maintenance", valid_until=date(2027, 12, 31),
                            status=TechnicianStatus.REVOKED)
    assert decode_technician(raw) == ("T0001", b"\x01" * 8)
    terms = decode_technician_terms(raw)
    assert (terms.role, terms.valid_until, terms.status) == ("maintenance", date(2027, 12, 31),
                                                            TechnicianStatus.REVOKED)
    # A record written before the terms existed: no role, no end of validity, active.
    old = frame_record(tlv_encode([(0x80, b"T0001"), (0x81, b"\x01" * 8)]), EF_SIZE[Fid.TECHNICIAN])
    assert decode_technician_terms(old) == decode_technician_terms(encode_technician("T0001", b"\x01" * 8))
    bad = frame_record(tlv_encode([(0x80, b"T0001"), (0x81, b"\x01" * 8), (0x84, b"\x07")]), EF_SIZE[Fid.TECHNICIAN])
    with pytest.raises(ProfileError):
        decode_technician_terms(bad)


def test_counters_since_the_last_reset_and_each_devices_last_problem() -> None:
    records = [
        {"event": "SESSION_ENDED", "t": "2026-11-21T10:00:00", "outcome": "issued", "reason": "OK"},
        {"event": "SESSION_ENDED", "t": "2026-11-22T09:00:00", "outcome": "issued", "reason": "OK"},
        {"event": "SESSION_ENDED", "t": "2026-11-22T09:05:00", "outcome": "counter_referral",
         "reason": "REG_TOO_RECENT"},
        {"event": "DEVICE_FAULT", "t": "2026-11-22T09:06:00", "device": "printer", "error": "jam"},
        {"event": "DEVICE_STATUS", "t": "2026-11-22T09:07:00", "device": "printer", "state": "user_error",
         "media": "none", "detail": "cover_open"},
        {"event": "DEVICE_STATUS", "t": "2026-11-22T09:08:00", "device": "printer", "state": "online",
         "media": "none", "detail": ""},
        {"event": "SELFTEST_RESULT", "t": "2026-11-22T09:09:00", "test": "feed", "outcome": "pass"},
    ]
    c = dc.counters(records, [], since="2026-11-22T00:00:00")
    assert (c["sessions"], c["jams"], c["device_faults"], c["test_cards"]) == (2, 1, 1, 1)
    assert c["refusals"] == {"REG_TOO_RECENT": 1}
    assert dc.counters(records, [], since=None)["sessions"] == 3
    assert dc.last_errors(records) == {"printer": "cover_open@2026-11-22T09:07:00"}
