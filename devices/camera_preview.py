"""The camera's live preview: frames in from the camera's worker, mirrored and scaled off the main
thread, the latest one out, ready to blit.

The camera adapter offers every preview frame it reads (`offer`); this channel's own thread
crops it to the shape the display asked for (`want`), mirrors it (the resident sees themself as
in a mirror, so moving left moves the picture left), scales it and packs it in the display's
pixel layout. The display's main thread only wraps the bytes as a surface and blits them
(`latest`). Only the newest frame is kept: a slow consumer never queues frames up.

A preview frame is the resident's picture (SH-PRIV-1): it is held in memory only, never written
or logged, and `clear` (preview off, the session over) drops every copy the channel holds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PIL import Image

Frame = tuple[int, int, bytes]  # width, height, row-major RGB (as the camera's sources give)


@dataclass(frozen=True)
class PreviewImage:
    """One ready frame: `size` pixels packed as `layout` (a pillow raw mode: "BGRX", "RGBX", "RGB")."""

    seq: int
    size: tuple[int, int]
    layout: str
    pixels: bytes = field(repr=False)


class PreviewChannel:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._raw: Frame | None = None
        self._ready: PreviewImage | None = None
        self._want: tuple[tuple[int, int], str] | None = None
        self._seq = 0
        self._generation = 0  # bumped by clear: a frame converted before it is not published
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.converted = 0  # frames made ready since start (the benchmark's frame rate)
        self.convert_ms = 0.0  # time spent converting them, in total

    # --- the camera's side -------------------------------------------------------------

    def offer(self, frame: Frame) -> None:
        """The newest frame from the camera (its worker thread); replaces one not yet converted."""
        with self._cond:
            if self._stopping:
                return
            self._raw = frame
            self._cond.notify()

    def clear(self) -> None:
        """Preview off or the session over: every frame held here goes."""
        with self._cond:
            self._raw = None
            self._ready = None
            self._generation += 1

    # --- the display's side ------------------------------------------------------------

    def want(self, size: tuple[int, int], layout: str = "RGBX") -> None:
        """The size and pixel layout the display blits; frames after this call come so."""
        with self._cond:
            if self._want != (size, layout):
                self._want = (size, layout)
                self._ready = None

    def latest(self) -> PreviewImage | None:
        with self._cond:
            return self._ready

    # --- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="camera-preview", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        self.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (self._raw is None or self._want is None):
                    self._cond.wait()
                if self._stopping:
                    return
                assert self._raw is not None and self._want is not None
                raw, (size, layout), generation = self._raw, self._want, self._generation
                self._raw = None
            t = time.perf_counter()
            try:
                pixels = convert(raw, size, layout)
            except (ValueError, MemoryError):  # a malformed frame is dropped, never a crash
                continue
            with self._cond:
                self.converted += 1
                self.convert_ms += (time.perf_counter() - t) * 1000
                if generation == self._generation and self._want == (size, layout):
                    self._seq += 1
                    self._ready = PreviewImage(self._seq, size, layout, pixels)


def convert(frame: Frame, size: tuple[int, int], layout: str) -> bytes:
    """The frame's centre cut to `size`'s shape, mirrored, scaled to `size`, packed as `layout`.

    Pillow's crop, transpose and resize release the GIL, so the main thread keeps drawing."""
    width, height, rgb = frame
    img = Image.frombytes("RGB", (width, height), rgb)
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError("empty preview size")
    left, top, right, bottom = window((width, height), size)
    box = (left * width, top * height, right * width, bottom * height)
    # The window is centred, so mirroring after the cut shows the same window.
    img = img.resize(size, Image.Resampling.BILINEAR, box=box).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img.tobytes("raw", layout)


def window(frame_size: tuple[int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where the preview's window lies in the frame, as fractions (left, top, right, bottom) of
    the unmirrored frame: for drawing a face box found in frame pixels onto the preview."""
    width, height = frame_size
    tw, th = size
    if width * th > height * tw:
        cw, ch = height * tw / th, float(height)
    else:
        cw, ch = float(width), width * th / tw
    x0, y0 = (width - cw) / 2, (height - ch) / 2
    return x0 / width, y0 / height, (x0 + cw) / width, (y0 + ch) / height
