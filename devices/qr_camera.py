"""The QR scanner adapter that reads codes from camera frames (a scanning camera of its own,
through the same `FrameSource` plug-in as the photo camera: OpenCV on a kiosk, the camera
emulator in simulation).

While scanning is on, the worker grabs a frame every `frame_interval` seconds and hands it to
the decoder (devices/qr_decode.py); each code it finds is posted once as `QrScanned(source=
"camera")`, and not again while it stays in view: a code must be out of sight for
`absent_frames` frames, or scanning turned off and on again, before the same payload counts as
shown anew. While scanning is off no frame is decoded; the source is only checked every
`reconnect_interval` so that an unplugged camera is seen. Statuses as the photo camera's: a
source that does not open is `no_device`, one that gives no frames `hardware_error`
("no_frame"), a decoder library that cannot be loaded `hardware_error` ("decoder_missing").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from devices.camera import Frame, FrameSource
from devices.events import DeviceLogged, DeviceNote, QrScanned, StatusChanged
from devices.publish import post_safely
from devices.qr_decode import DecoderUnavailable, QrDecoder
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus
from devices.worker import Worker, crash_reporter

SOURCE = "camera"


class CameraQrScanner:
    def __init__(
        self,
        source: FrameSource,
        sink: Callable[[object], None],
        decoder: Callable[[], QrDecoder],
        *,
        frame_interval: float = 0.1,
        reconnect_interval: float = 1.0,
        read_attempts: int = 3,
        absent_frames: int = 5,
        info: DeviceInfo | None = None,
    ) -> None:
        """`decoder` makes the decoder (on the worker, at start), so a missing library is a status."""
        self._source = source
        self._sink = sink
        self._make_decoder = decoder
        self._decoder: QrDecoder | None = None
        self._frame_interval = frame_interval
        self._reconnect_interval = reconnect_interval
        self._read_attempts = read_attempts
        self._absent_frames = absent_frames
        self._info = info or DeviceInfo(model="QR camera")
        self._lock = threading.Lock()
        self._status = DeviceStatus(DeviceKind.QR_SCANNER, DeviceState.OFFLINE, info=self._info, detail="not_started")
        self._scanning = False
        self._generation = 0  # bumped each time scanning turns on: what was seen before is forgotten
        # Worker-thread state only.
        self._open = False
        self._seen: dict[bytes, int] = {}  # payload -> frames since it was last decoded
        self._seen_generation = 0
        self._worker = Worker("qr-camera", idle=self._tick, on_crash=crash_reporter(sink, DeviceKind.QR_SCANNER))

    # --- public, any thread -----------------------------------------------------------------

    @property
    def status(self) -> DeviceStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self.set_scanning(False)
        self._worker.stop()
        self._close()
        self._set(DeviceState.OFFLINE, "stopped")

    def set_scanning(self, on: bool) -> None:
        with self._lock:
            if on and not self._scanning:
                self._generation += 1
            self._scanning = on

    # --- worker -----------------------------------------------------------------------------

    def _tick(self) -> float:
        if self._decoder is None:
            try:
                self._decoder = self._make_decoder()
            except DecoderUnavailable:
                self._note(DeviceNote.DECODER_MISSING)
                self._set(DeviceState.HARDWARE_ERROR, "decoder_missing")
                return self._reconnect_interval * 10
        if not self._open and not self._connect():
            return self._reconnect_interval
        frame = self._read()
        # Read after the frame: a frame taken after scanning was turned on is always decoded.
        with self._lock:
            scanning, generation = self._scanning, self._generation
        if frame is None:
            # A stalled stream often comes back after a reopen (a USB camera's reset).
            self._close()
            self._set(DeviceState.HARDWARE_ERROR, "no_frame")
            return self._reconnect_interval
        if not scanning:
            return self._reconnect_interval
        if generation != self._seen_generation:
            self._seen.clear()
            self._seen_generation = generation
        self._decode(frame)
        return self._frame_interval

    def _decode(self, frame: Frame) -> None:
        decoder = self._decoder
        if decoder is None:
            return
        width, height, rgb = frame
        found = self._call(lambda: decoder.decode(width, height, rgb)) or []
        for key in list(self._seen):
            self._seen[key] += 1
            if self._seen[key] > self._absent_frames:
                del self._seen[key]
        for payload in found:
            if not isinstance(payload, bytes):
                continue
            if payload not in self._seen:
                post_safely(self._sink, QrScanned(payload, SOURCE), DeviceKind.QR_SCANNER)
            self._seen[payload] = 0

    def _connect(self) -> bool:
        if not self._call(self._source.open):
            self._set(DeviceState.NO_DEVICE, "not_found")
            return False
        if self._read() is None:
            self._call(self._source.close)
            self._set(DeviceState.HARDWARE_ERROR, "no_frame")
            return False
        self._open = True
        self._note(DeviceNote.PORT_OPENED)
        self._set(DeviceState.ONLINE, "")
        return True

    def _read(self) -> Frame | None:
        for _ in range(self._read_attempts):
            frame = self._call(self._source.read)
            if _valid(frame):
                return frame
        return None

    def _close(self) -> None:
        if self._open:
            self._call(self._source.close)
            self._open = False

    def _call(self, fn: Callable[[], Any]) -> Any:
        # A driver's or decoder's exception is a failed frame, never a crash of the worker.
        try:
            return fn()
        except Exception:
            return None

    def _set(self, state: DeviceState, detail: str) -> None:
        new = DeviceStatus(DeviceKind.QR_SCANNER, state, info=self._info, detail=detail)
        with self._lock:
            if new == self._status:
                return
            self._status = new
        post_safely(self._sink, StatusChanged(new), DeviceKind.QR_SCANNER)

    def _note(self, note: DeviceNote, detail: str = "") -> None:
        post_safely(self._sink, DeviceLogged(DeviceKind.QR_SCANNER, note, detail), DeviceKind.QR_SCANNER)


def _valid(frame: object) -> bool:
    if not isinstance(frame, tuple) or len(frame) != 3:
        return False
    width, height, rgb = frame
    return (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0
            and isinstance(rgb, bytes) and len(rgb) == width * height * 3)
