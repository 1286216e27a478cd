"""The QR scanner's camera driver (devices/qr_camera.py) on the camera emulator's frames, with both
decoder backends (devices/qr_decode.py); and the decoders on emulator-rendered frames.

No sleeps: the driver's progress is counted in frames the source handed out (a condition the
source signals), and events are waited for on the queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devices.events import DeviceLogged, DeviceNote, QrScanned, StatusChanged
from devices.qr_camera import CameraQrScanner
from devices.qr_decode import DECODERS, DecoderUnavailable, QrDecoder, make_decoder
from devices.status import DeviceState
from kiosk.qr_payload import ProofReference, parse_proof_payload
from sim.camera_emu import SceneFrameSource
from sim.proofs import proof_payload, verification_code
from sim.qr_frames import QrView, render

WAIT = 5.0
NUMBER = "2026310105000123"
PAYLOAD = proof_payload(NUMBER)
HOSTS = ("ywtb.sh.gov.cn",)


class CountingSource(SceneFrameSource):
    """The camera emulator, telling waiters how many frames it has handed out."""

    def __init__(self) -> None:
        super().__init__()
        self.read_count = 0
        self._cond = threading.Condition()

    def read(self) -> tuple[int, int, bytes] | None:
        frame = super().read()
        with self._cond:
            self.read_count += 1
            self._cond.notify_all()
        return frame

    def wait_frames(self, n: int) -> None:
        with self._cond:
            target = self.read_count + n
            assert self._cond.wait_for(lambda: self.read_count >= target, WAIT), "the driver stopped reading"


@dataclass
class Rig:
    source: CountingSource
    scanner: CameraQrScanner
    events: queue.Queue[object]

    def expect(self, kind: type, timeout: float = WAIT, **fields: object) -> object:
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no {kind.__name__} {fields or ''} within {timeout}s")
            values = {k: getattr(event.status, k) if isinstance(event, StatusChanged) else getattr(event, k, None)
                      for k in fields}
            if isinstance(event, kind) and values == fields:
                return event
            if isinstance(event, QrScanned):
                pytest.fail(f"unexpected {event!r} while waiting for {kind.__name__}")

    def scans(self) -> list[bytes]:
        out = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return out
            if isinstance(event, QrScanned):
                assert event.source == "camera"
                out.append(event.payload)


def make_rig(decoder: str | QrDecoder) -> Rig:
    source = CountingSource()
    events: queue.Queue[object] = queue.Queue()
    factory = (lambda: make_decoder(decoder)) if isinstance(decoder, str) else (lambda: decoder)
    scanner = CameraQrScanner(source, events.put, factory, frame_interval=0.0, reconnect_interval=0.02,
                              absent_frames=3)
    return Rig(source, scanner, events)


@pytest.fixture(params=DECODERS)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    r = make_rig(request.param)
    r.scanner.start()
    r.expect(StatusChanged, state=DeviceState.ONLINE)
    try:
        yield r
    finally:
        r.scanner.stop()


def test_a_proofs_code_held_up_is_posted_once_while_it_stays_in_view(rig: Rig) -> None:
    rig.scanner.set_scanning(True)
    rig.source.show_qr(PAYLOAD)
    event = rig.expect(QrScanned)
    assert isinstance(event, QrScanned) and (event.payload, event.source) == (PAYLOAD.encode(), "camera")
    assert parse_proof_payload(event.payload, HOSTS) == ProofReference(NUMBER, verification_code(NUMBER))
    rig.source.wait_frames(10)
    assert rig.scans() == []  # the same code in view is not a new presentation


def test_the_code_counts_again_after_it_left_the_view_or_scanning_restarted(rig: Rig) -> None:
    rig.scanner.set_scanning(True)
    rig.source.show_qr(PAYLOAD)
    rig.expect(QrScanned)
    rig.source.show("nobody")
    rig.source.wait_frames(6)  # more than absent_frames without it
    rig.source.show_qr(PAYLOAD)
    rig.expect(QrScanned)
    rig.scanner.set_scanning(False)
    rig.scanner.set_scanning(True)
    rig.expect(QrScanned)


def test_nothing_is_decoded_while_scanning_is_off(rig: Rig) -> None:
    rig.source.show_qr(PAYLOAD)
    rig.source.wait_frames(5)
    assert rig.scans() == []
    rig.scanner.set_scanning(True)
    rig.expect(QrScanned)


def test_an_unplugged_camera_is_no_device_and_comes_back_by_itself(rig: Rig) -> None:
    rig.source.unplug(True)
    rig.expect(StatusChanged, state=DeviceState.HARDWARE_ERROR, detail="no_frame")
    rig.expect(StatusChanged, state=DeviceState.NO_DEVICE, detail="not_found")
    rig.source.unplug(False)
    rig.expect(StatusChanged, state=DeviceState.ONLINE)
    rig.scanner.set_scanning(True)
    rig.source.show_qr(PAYLOAD)
    rig.expect(QrScanned)


def test_a_camera_that_gives_no_frames_is_a_hardware_error(rig: Rig) -> None:
    rig.source.fail(True)
    rig.expect(StatusChanged, state=DeviceState.HARDWARE_ERROR, detail="no_frame")
    rig.source.fail(False)
    rig.expect(StatusChanged, state=DeviceState.ONLINE)


def test_a_missing_decoder_library_is_a_hardware_error_with_a_note() -> None:
    def missing() -> QrDecoder:
        raise DecoderUnavailable("not installed")

    source = CountingSource()
    events: queue.Queue[object] = queue.Queue()
    scanner = CameraQrScanner(source, events.put, missing, reconnect_interval=0.02)
    scanner.start()
    try:
        rig = Rig(source, scanner, events)
        rig.expect(DeviceLogged, note=DeviceNote.DECODER_MISSING)
        rig.expect(StatusChanged, state=DeviceState.HARDWARE_ERROR, detail="decoder_missing")
    finally:
        scanner.stop()


# --- the decoders on the camera emulator's frames -------------------------------------------


@pytest.mark.parametrize("name", DECODERS)
def test_both_decoders_read_a_clean_frame_as_raw_bytes_gray_or_rgb(name: str) -> None:
    decoder = make_decoder(name)
    frame = render(PAYLOAD, 640, 480, QrView(), seed=1)
    assert decoder.decode(640, 480, frame.tobytes()) == [PAYLOAD.encode()]
    assert decoder.decode(640, 480, frame.convert("L").tobytes()) == [PAYLOAD.encode()]
    raw = "码".encode() + b"\x00\xff"  # bytes that are no text
    got = decoder.decode(640, 480, render(raw, 640, 480, QrView(), seed=2).tobytes())
    if name == "zxing":
        assert got == [raw]  # as they were
    else:
        # zbar turns byte-mode data into text by its own guess (here ISO 8859-1) and hands out that
        # text's UTF-8: pyzbar cannot give the raw bytes (docs/protocols/qr-scanner.md).
        assert got == [raw.decode("latin-1").encode("utf-8")]


@pytest.mark.parametrize("name", DECODERS)
def test_decoders_find_nothing_in_an_empty_or_malformed_frame(name: str) -> None:
    decoder = make_decoder(name)
    assert decoder.decode(640, 480, bytes(640 * 480 * 3)) == []
    assert decoder.decode(640, 480, b"short") == []
    assert decoder.decode(0, 0, b"") == []
    assert decoder.decode(640, 480, render(PAYLOAD, 640, 480, QrView(partial=0.6), seed=3).tobytes()) == []


def test_zxing_reads_a_rotated_noisy_low_contrast_frame() -> None:
    view = QrView(rotation=-31, contrast=0.3, noise=40, size=0.55)
    frame = render(PAYLOAD, 640, 480, view, seed=3)
    assert make_decoder("zxing").decode(640, 480, frame.tobytes()) == [PAYLOAD.encode()]


def test_an_unknown_decoder_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown QR decoder"):
        make_decoder("opencv")


@pytest.mark.parametrize("name", DECODERS)
def test_both_decoders_read_every_clean_frame_at_the_first_try(name: str) -> None:
    # What the runner relies on when it holds a code up for a few frames only (sim/runner.py).
    decoder = make_decoder(name)
    for seed in range(40):
        frame = render(PAYLOAD, 640, 480, QrView(), seed=seed)
        assert decoder.decode(640, 480, frame.tobytes()) == [PAYLOAD.encode()], seed


def test_a_code_held_up_for_some_frames_is_lowered_after_them() -> None:
    source = SceneFrameSource()
    assert source.open()
    decoder = make_decoder("zxing")
    source.show_qr(PAYLOAD, frames=2)
    seen = []
    for _ in range(4):
        frame = source.read()
        assert frame is not None
        seen.append(decoder.decode(*frame))
    assert seen == [[PAYLOAD.encode()], [PAYLOAD.encode()], [], []]
