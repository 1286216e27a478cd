"""Diagnostics' self-tests and the device board's plain words, pure: facts in, verdicts out.

A verdict names the device, the test, pass or fail, and a cause: a fixed code the screens put
into words (`diag.cause.<code>`) with what to do about it (`diag.advice.<code>`). The flow
(kiosk/flows/diagnostics_tests.py) gathers the facts (a fresh status, a frame, a health call, a
card moved through the printer) and stores each verdict (kiosk/diagnostics_store.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageStat

from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition, SupplyLevel
from kiosk.photo import sharpness


class Test(StrEnum):
    STATUS = "status"  # the device answers and reports no fault
    READER = "reader"  # chip encoder: its PC/SC reader is there
    CARD = "card"  # chip encoder: the technician card reads
    FRAME = "frame"  # camera: a frame, its brightness and sharpness
    SCAN = "scan"  # QR scanner: a test code
    HEALTH = "health"  # backend: health and latency
    FEED = "feed"  # printer: a blank card fed, its chip reached at the encoder, retracted to the reject bin
    PRINT = "print"  # printer: a sample face printed on a blank card, retracted to the reject bin


# The tests each device has, in the order the board runs them.
TESTS: dict[DeviceKind, tuple[Test, ...]] = {
    # The ID reader polls its SAM (status, then a find) all the time; its status is that test's answer.
    DeviceKind.ID_READER: (Test.STATUS,),
    DeviceKind.PRINTER: (Test.STATUS,),
    DeviceKind.PERMIT_CARD: (Test.READER, Test.CARD),
    DeviceKind.CAMERA: (Test.FRAME,),
    DeviceKind.QR_SCANNER: (Test.SCAN,),
    DeviceKind.BACKEND: (Test.HEALTH,),
}
BOARD_ORDER = (DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PRINTER, DeviceKind.PERMIT_CARD,
               DeviceKind.QR_SCANNER, DeviceKind.BACKEND)

MIN_BRIGHTNESS = 40.0
MAX_BRIGHTNESS = 235.0
MIN_SHARPNESS = 0.05  # a scene, not a face: any edges at all; a covered lens has none
SLOW_BACKEND_MS = 3000


@dataclass(frozen=True)
class Verdict:
    device: DeviceKind
    test: Test
    passed: bool
    cause: str  # a fixed code: "ok", "jam", "cover_open", "port_gone", "too_dark" ...
    detail: str = ""  # a measured value for the record ("brightness=12", "ms=40"), never resident data

    @property
    def message(self) -> str:
        return self.cause if not self.detail else f"{self.cause}:{self.detail}"


def cause_of(device: DeviceKind, st: DeviceStatus | None) -> str:
    """The one thing wrong with a device, as a fixed code ("ok" when nothing is)."""
    if st is None:
        return "not_installed" if device is DeviceKind.QR_SCANNER else "no_report"
    if device is DeviceKind.PRINTER:
        if st.media is MediaPosition.JAMMED or st.detail == "jam":
            return "jam"
        if st.detail == "cover_open":
            return "cover_open"
    if st.state is DeviceState.NO_DEVICE:
        if device is DeviceKind.PERMIT_CARD:
            return "no_pcsc_service" if st.detail == "no_pcsc_service" else "no_reader"
        if device is DeviceKind.CAMERA:
            return "camera_not_found"
        return "port_gone"
    if st.state is DeviceState.OFFLINE:
        if device is DeviceKind.BACKEND:
            return "backend_unreachable"
        return "no_response" if st.detail in ("no_response", "") else st.detail
    if st.state is DeviceState.HARDWARE_ERROR:
        return st.detail or "hardware_error"
    if st.state is DeviceState.USER_ERROR:
        return st.detail or "user_error"
    return "ok"


def supply_cause(st: DeviceStatus | None) -> str:
    """What the printer's supplies need ("ok" when nothing)."""
    if st is None:
        return "ok"
    hopper, bin_ = st.supply("hopper"), st.supply("reject_bin")
    if hopper is not None and hopper.level is SupplyLevel.EMPTY:
        return "hopper_empty"
    if bin_ is not None and bin_.level is SupplyLevel.FULL:
        return "reject_bin_full"
    if hopper is not None and hopper.level is SupplyLevel.LOW:
        return "hopper_low"
    if bin_ is not None and bin_.level is SupplyLevel.HIGH:
        return "reject_bin_high"
    return "ok"


def status_test(device: DeviceKind, test: Test, st: DeviceStatus | None) -> Verdict:
    """A test judged on the status the device reported right after it was asked."""
    cause = cause_of(device, st)
    return Verdict(device, test, cause == "ok", cause)


def frame_test(width: int, height: int, rgb: bytes) -> Verdict:
    """A camera frame: bright enough, not blown out, with some detail (a covered or dead lens has none)."""
    if width < 8 or height < 8 or len(rgb) < width * height * 3:
        return Verdict(DeviceKind.CAMERA, Test.FRAME, False, "bad_frame")
    gray = Image.frombytes("RGB", (width, height), bytes(rgb[: width * height * 3])).convert("L")
    brightness = ImageStat.Stat(gray).mean[0]
    sharp = sharpness(gray)
    detail = f"brightness={brightness:.0f}:sharpness={sharp:.2f}"
    if brightness < MIN_BRIGHTNESS:
        return Verdict(DeviceKind.CAMERA, Test.FRAME, False, "too_dark", detail)
    if brightness > MAX_BRIGHTNESS:
        return Verdict(DeviceKind.CAMERA, Test.FRAME, False, "too_bright", detail)
    if sharp < MIN_SHARPNESS:
        return Verdict(DeviceKind.CAMERA, Test.FRAME, False, "blurred", detail)
    return Verdict(DeviceKind.CAMERA, Test.FRAME, True, "ok", detail)


def health_test(up: bool, latency_ms: int) -> Verdict:
    detail = f"ms={latency_ms}"
    if not up:
        return Verdict(DeviceKind.BACKEND, Test.HEALTH, False, "backend_unreachable", detail)
    if latency_ms > SLOW_BACKEND_MS:
        return Verdict(DeviceKind.BACKEND, Test.HEALTH, False, "backend_slow", detail)
    return Verdict(DeviceKind.BACKEND, Test.HEALTH, True, "ok", detail)


def failed(device: DeviceKind, test: Test, cause: str) -> Verdict:
    return Verdict(device, test, False, cause)


def passed(device: DeviceKind, test: Test, detail: str = "") -> Verdict:
    return Verdict(device, test, True, "ok", detail)
