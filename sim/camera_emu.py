"""The camera emulator: a frame source showing scenes built from real photographs, steered from another thread.

The developer panel and the scenario runner call `show` (who stands in front of the
camera: a scene of sim.faces, or a sequence of them), `show_qr` (a QR code held up to it:
the scanning camera of the QR scanner's camera driver) and the fault switches; the
adapter's worker calls `read`. Every frame gets a new seed, so two captures of the same
scene differ like real frames do. The seed is the clock's time of the read (in milliseconds),
not a count of frames read: the live preview reads as fast as it can, so a count would make
each capture's frame depend on the machine's speed, while under a scenario's virtual clock a
capture happens at the same kiosk time in every run.

A sequence (SEQUENCES) is a list of (seconds, scene kind, sideways offset): what the camera
sees from that many seconds after the first frame read since `show` (the camera starts reading
when the photo screen turns its live preview on), the last entry held: a resident walking into
the frame and standing still, or standing and then leaving (`show(..., from_now=True)`: from the
call instead, as the scenario runner shows them). The seconds are on the clock the
emulator is given: the kiosk's, so that under a scenario's virtual clock a walk lasts the same
in the kiosk's time however fast the preview reads and however slow the machine is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sim.faces import SCENE_KINDS, scene
from sim.qr_frames import QrView, render

SEQUENCES: dict[str, tuple[tuple[float, str, float], ...]] = {
    # from the left edge to the middle over 7.5 s, then standing still: with the photo screen's
    # 3-2-1 countdown before each capture, the first photo finds nobody, the retake a face off
    # centre, the third the resident in the middle
    "walk_in": ((0.0, "face", -0.55), (4.5, "face", -0.3), (7.5, "face", 0.0)),
    # standing still for 4.5 s, then walking out to the right, then nobody
    "leaving": ((0.0, "face", 0.0), (4.5, "face", 0.3), (6.0, "face", 0.6), (7.5, "nobody", 0.0)),
}


class SceneFrameSource:
    def __init__(self, width: int = 640, height: int = 480, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = (width, height)
        self._clock = clock  # seconds, for sequences (the kiosk's monotonic clock in scenarios)
        self._sequence_start: float | None = None  # when the first frame of the sequence was read
        self._lock = threading.Lock()
        self._kind = "nobody"
        self._key: str | None = None
        self._qr: tuple[bytes | str, QrView] | None = None  # a QR code in view instead of the scene
        self._qr_frames: int | None = None  # frames left before the code is taken away (None: it stays)
        self._failing = False  # opens, but no frames come (a stalled camera)
        self._unplugged = False  # does not open at all (the device vanished)
        self._opened = False
        self._frames = 0
        # The last frame drawn, with what it showed: a read at the same clock time showing the same
        # gets the same frame without drawing it again (under a scenario's virtual clock the preview
        # reads many frames between two steps of the clock: 4 in 10 frames of the suite's scenarios)
        self._last: tuple[tuple[object, ...], tuple[int, int, bytes]] | None = None

    def show(self, kind: str, face_key: str | None = None, *, from_now: bool = False) -> None:
        """`face_key` in the scene `kind` (SCENE_KINDS), or playing the sequence `kind` (SEQUENCES).

        A sequence starts at the first frame read after this call, or with `from_now` at this call
        (the resident steps up now: a scenario's step at the photo screen, whose clock may jump
        before the camera's worker reads its next frame)."""
        if kind not in SCENE_KINDS and kind not in SEQUENCES:
            raise ValueError(f"unknown scene kind {kind!r}")
        with self._lock:
            self._kind, self._key = kind, face_key
            self._qr = None
            self._sequence_start = self._clock() if from_now else None

    def show_qr(self, payload: bytes | str, view: QrView | None = None, frames: int | None = None) -> None:
        """A QR code of `payload` in front of the camera, as `view` says (rotated, blurred, ...);
        for the next `frames` frames only, then the scene behind it again (None: until `show`)."""
        with self._lock:
            self._qr = (payload, view or QrView())
            self._qr_frames = frames

    def fail(self, on: bool) -> None:
        """The camera died: it still enumerates, but no frame arrives."""
        with self._lock:
            self._failing = on

    def unplug(self, on: bool) -> None:
        """The camera is gone: opening it fails."""
        with self._lock:
            self._unplugged = on
            if on:
                self._opened = False

    @property
    def frames(self) -> int:
        with self._lock:
            return self._frames

    def open(self) -> bool:
        with self._lock:
            self._opened = not self._unplugged
            return self._opened

    def read(self) -> tuple[int, int, bytes] | None:
        with self._lock:
            if not self._opened or self._failing:
                return None
            self._frames += 1
            kind, key, seed, qr = self._kind, self._key, int(self._clock() * 1000), self._qr
            offset = 0.0
            if kind in SEQUENCES:
                now = self._clock()
                if self._sequence_start is None:
                    self._sequence_start = now
                elapsed = now - self._sequence_start
                kind, offset = next((k, o) for t, k, o in reversed(SEQUENCES[kind]) if elapsed >= t)
            if qr is not None and self._qr_frames is not None:
                self._qr_frames -= 1
                if self._qr_frames <= 0:
                    self._qr = self._qr_frames = None
            last = self._last
        shown = (kind, key, seed, offset, qr)
        if last is not None and last[0] == shown:
            return last[1]
        # Drawn outside the lock: `show` from the panel never waits for a frame.
        width, height = self._size
        if qr is not None:
            frame = width, height, render(qr[0], width, height, qr[1], seed=seed).tobytes()
        else:
            frame = width, height, scene(kind, key, width, height, seed=seed, offset=offset).tobytes()
        with self._lock:
            self._last = (shown, frame)
        return frame

    def close(self) -> None:
        with self._lock:
            self._opened = False
            self._last = None
