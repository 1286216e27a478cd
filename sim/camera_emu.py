"""The camera emulator: a frame source showing scenes built from real photographs, steered from another thread.

The developer panel and the scenario runner call `show` (who stands in front of the
camera: a scene of sim.faces, or a sequence of them), `show_qr` (a QR code held up to it:
the scanning camera of the QR scanner's camera driver) and the fault switches; the
adapter's worker calls `read`. Every frame gets a new seed, so two captures of the same
scene differ like real frames do.

A sequence (SEQUENCES) is a list of (scene kind, sideways offset) played one per frame read
since `show`, its last entry held: a resident walking into the frame and standing still, or
standing and then leaving. Frames are counted, not timed, so a run is the same on a slow
machine; with a live preview reading at its frame rate a sequence plays out that much sooner.
"""

from __future__ import annotations

import threading

from sim.faces import SCENE_KINDS, scene
from sim.qr_frames import QrView, render

SEQUENCES: dict[str, tuple[tuple[str, float], ...]] = {
    # from the left edge to the middle over two frames, then standing still
    "walk_in": (("face", -0.55), ("face", -0.3), ("face", 0.0)),
    # standing still for two frames, then walking out to the right, then nobody
    "leaving": (("face", 0.0), ("face", 0.0), ("face", 0.3), ("face", 0.6), ("nobody", 0.0)),
}


class SceneFrameSource:
    def __init__(self, width: int = 640, height: int = 480) -> None:
        self._size = (width, height)
        self._lock = threading.Lock()
        self._kind = "nobody"
        self._key: str | None = None
        self._qr: tuple[bytes | str, QrView] | None = None  # a QR code in view instead of the scene
        self._qr_frames: int | None = None  # frames left before the code is taken away (None: it stays)
        self._failing = False  # opens, but no frames come (a stalled camera)
        self._unplugged = False  # does not open at all (the device vanished)
        self._opened = False
        self._frames = 0
        self._shown_at = 0  # frames read before the scene was last changed

    def show(self, kind: str, face_key: str | None = None) -> None:
        """`face_key` in the scene `kind` (SCENE_KINDS), or playing the sequence `kind` (SEQUENCES)."""
        if kind not in SCENE_KINDS and kind not in SEQUENCES:
            raise ValueError(f"unknown scene kind {kind!r}")
        with self._lock:
            self._kind, self._key = kind, face_key
            self._qr = None
            self._shown_at = self._frames

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
            kind, key, seed, qr = self._kind, self._key, self._frames, self._qr
            offset = 0.0
            if kind in SEQUENCES:
                steps = SEQUENCES[kind]
                kind, offset = steps[min(len(steps), self._frames - self._shown_at) - 1]
            if qr is not None and self._qr_frames is not None:
                self._qr_frames -= 1
                if self._qr_frames <= 0:
                    self._qr = self._qr_frames = None
        # Drawn outside the lock: `show` from the panel never waits for a frame.
        width, height = self._size
        if qr is not None:
            return width, height, render(qr[0], width, height, qr[1], seed=seed).tobytes()
        return width, height, scene(kind, key, width, height, seed=seed, offset=offset).tobytes()

    def close(self) -> None:
        with self._lock:
            self._opened = False
