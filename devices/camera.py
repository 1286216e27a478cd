"""The camera adapter: frames in from a pluggable source, a captured frame out as an event.

`capture` returns at once; the worker grabs a frame and posts `PhotoCaptured` or
`CameraFailed`. A source that cannot be opened is `no_device`; one that opens but gives
no frames is `hardware_error` ("no_frame"). Either way the adapter keeps trying to reopen
it while idle and reports `online` again by itself. Frames are held in memory only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from devices.events import CameraError, CameraFailed, PhotoCaptured, PreviewSampled, StatusChanged
from devices.publish import post_safely
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus
from devices.worker import Worker, crash_reporter

Frame = tuple[int, int, bytes]  # width, height, row-major RGB


class FrameSource(Protocol):
    def open(self) -> bool: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class PreviewConsumer(Protocol):
    """Where live frames go while the preview is on (devices/camera_preview.PreviewChannel)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def offer(self, frame: Frame) -> None: ...

    def clear(self) -> None: ...


class Camera:
    def __init__(
        self,
        source: FrameSource,
        sink: Callable[[object], None],
        *,
        reconnect_interval: float = 1.0,
        read_attempts: int = 3,
        info: DeviceInfo | None = None,
        preview: PreviewConsumer | None = None,
        preview_fps: float = 30.0,
        sample_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`preview`: gets every frame read while the preview is on, at most `preview_fps` a
        second; the kiosk's sink gets one of them as `PreviewSampled` every `sample_interval` s.
        A capture while the preview is on takes the frame the preview just showed, when its read
        began at most two preview frames ago by `clock` (the kiosk's: a source whose scenes follow
        a virtual clock is read anew after the clock jumped), instead of waiting for another."""
        self._source = source
        self._sink = sink
        self._reconnect_interval = reconnect_interval
        self._read_attempts = read_attempts
        self._info = info or DeviceInfo()
        self._lock = threading.Lock()
        self._status = DeviceStatus(DeviceKind.CAMERA, DeviceState.OFFLINE, info=self._info)
        self._open = False  # touched by the worker thread only
        self.preview = preview
        self._preview_on = False  # worker thread only: set by the job set_preview submits
        self._preview_period = 1.0 / max(1.0, preview_fps)
        self._sample_interval = sample_interval
        self._last_sample = 0.0
        self._clock = clock
        self._fresh: tuple[float, Frame] | None = None  # worker only: the preview's newest frame
        self._worker = Worker("camera", idle=self._idle, on_crash=crash_reporter(sink, DeviceKind.CAMERA))

    @property
    def status(self) -> DeviceStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        if self.preview is not None:
            self.preview.start()
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        if self.preview is not None:
            self.preview.stop()  # its thread ends and every frame it held goes
        # The worker has ended, so closing from this thread cannot race with a read.
        self._fresh = None
        self._close()
        self._set(DeviceState.OFFLINE)

    def capture(self, request_id: int) -> None:
        self._worker.submit(lambda: self._capture(request_id))

    def set_preview(self, on: bool) -> None:
        """Live frames on or off; off drops every frame the preview holds (SH-PRIV-1)."""
        if not on and self.preview is not None:
            self.preview.clear()  # at once: the worker may be busy with a capture
        self._worker.submit(lambda: self._set_preview(on))

    def hold_preview(self) -> None:
        """No more preview frames read or offered, the last one left on the glass: the photo just
        taken stays in view while it is checked, and the check has the CPU the preview used."""
        self._worker.submit(self._hold_preview)

    def _hold_preview(self) -> None:
        self._preview_on = False
        self._fresh = None

    def _set_preview(self, on: bool) -> None:
        self._preview_on = on and self.preview is not None
        self._last_sample = 0.0
        self._fresh = None
        if not on and self.preview is not None:
            self.preview.clear()  # again: a frame read before the job ran may have been offered

    def _stream(self) -> float:
        """One preview frame (the worker's idle while the preview is on): seconds until the next."""
        started, stamp = time.monotonic(), self._clock()  # the frame shows the scene from about now
        frame = self._grab()
        if isinstance(frame, CameraError):
            return self._reconnect_interval
        assert self.preview is not None
        self.preview.offer(frame)
        self._fresh = (stamp, frame)
        if started - self._last_sample >= self._sample_interval:
            self._last_sample = started
            width, height, rgb = frame
            post_safely(self._sink, PreviewSampled(width, height, rgb), DeviceKind.CAMERA)
        return max(0.0, self._preview_period - (time.monotonic() - started))

    def _capture(self, request_id: int) -> None:
        # The frame the resident saw last in the preview, if it is that recent: a camera would
        # make us wait up to a frame for the next one, and the emulator draws each one.
        fresh, self._fresh = self._fresh, None
        recent = self._preview_on and fresh is not None and self._clock() - fresh[0] <= 2 * self._preview_period
        got = fresh[1] if recent and fresh is not None else self._grab()
        if isinstance(got, CameraError):
            post_safely(self._sink, CameraFailed(request_id, got), DeviceKind.CAMERA)
        else:
            width, height, rgb = got
            post_safely(self._sink, PhotoCaptured(request_id, width, height, rgb), DeviceKind.CAMERA)

    def _grab(self) -> Frame | CameraError:
        if self._open:
            frame = self._read()
            if frame is not None:
                return frame
            # A stalled stream often comes back after a reopen (a USB camera's reset).
            self._close()
        return self._connect()

    def _connect(self) -> Frame | CameraError:
        """Open the source and prove it with one frame; the status says how it went."""
        if not self._call(self._source.open):
            self._set(DeviceState.NO_DEVICE, "not_found")
            return CameraError.NO_DEVICE
        frame = self._read()
        if frame is None:
            self._call(self._source.close)
            self._set(DeviceState.HARDWARE_ERROR, "no_frame")
            return CameraError.NO_FRAME
        self._open = True
        self._set(DeviceState.ONLINE)
        return frame

    def _read(self) -> Frame | None:
        # A camera drops the odd frame; only several misses in a row count as a failure.
        for _ in range(self._read_attempts):
            frame = self._call(self._source.read)
            if _valid(frame):
                return frame
        return None

    def _idle(self) -> float | None:
        if self._preview_on:
            return self._stream()
        if self._open:
            return None
        self._connect()
        return None if self._open else self._reconnect_interval

    def _close(self) -> None:
        if self._open:
            self._call(self._source.close)
            self._open = False

    def _call(self, fn: Callable[[], Any]) -> Any:
        # A driver's exception is a failed operation, never a crash of the worker.
        try:
            return fn()
        except Exception:
            return None

    def _set(self, state: DeviceState, detail: str = "") -> None:
        new = DeviceStatus(DeviceKind.CAMERA, state, info=self._info, detail=detail)
        with self._lock:
            if new == self._status:
                return
            self._status = new
        post_safely(self._sink, StatusChanged(new), DeviceKind.CAMERA)


def _valid(frame: object) -> bool:
    if not isinstance(frame, tuple) or len(frame) != 3:
        return False
    width, height, rgb = frame
    return width > 0 and height > 0 and isinstance(rgb, bytes) and len(rgb) == width * height * 3


class OpenCvFrameSource:
    """A V4L2 camera through OpenCV (`opencv-python-headless` < 5), imported only when opened.

    `device` is a V4L2 index (/dev/videoN) or a path OpenCV can open (a device node, or a
    video file in tests). Frame size and exposure are asked of the camera at every open, so
    a camera that was unplugged and comes back is set up again; what it really delivers is
    what `read` returns. A read that fails (the USB cable pulled: V4L2 returns no frame) makes
    the adapter close and reopen the source, and `open` fails until the device is back.
    Without OpenCV installed `open` returns False, which the adapter reports as no_device.
    `capture_factory` replaces `cv2.VideoCapture` in the device layer's unit tests.
    """

    def __init__(self, device: int | str = 0, width: int = 640, height: int = 480, *, exposure: int = 0,
                 capture_factory: Callable[..., Any] | None = None) -> None:
        self._device = device
        self._size = (width, height)
        self._exposure = exposure
        self._factory = capture_factory
        self._cap: Any = None
        self._cv2: Any = None

    def open(self) -> bool:
        try:
            import cv2
        except ImportError:
            return False
        self.close()
        factory = self._factory or cv2.VideoCapture
        # V4L2 by name for a camera index: OpenCV's default backend order may pick GStreamer.
        cap = factory(self._device, cv2.CAP_V4L2) if isinstance(self._device, int) else factory(self._device)
        if not cap.isOpened():
            cap.release()
            return False
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
        # Keep one buffered frame at most: a capture must show the resident now, not seconds ago.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self._exposure > 0:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2's manual mode (3 is automatic)
            cap.set(cv2.CAP_PROP_EXPOSURE, self._exposure)
        else:
            cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 3)
        self._cap, self._cv2 = cap, cv2
        return True

    def read(self) -> Frame | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        if not ok or frame is None or frame.ndim != 3 or frame.shape[2] != 3:
            return None
        rgb = self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)  # OpenCV delivers BGR
        height, width = rgb.shape[:2]
        return width, height, rgb.tobytes()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
