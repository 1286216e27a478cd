"""The production camera driver (devices/camera.OpenCvFrameSource) under the Camera adapter (issue 12).

A fake `cv2.VideoCapture` that can be unplugged and plugged back in stands for the USB
camera (a unit test of the device layer: no camera on a CI machine); real OpenCV decodes a
video file written here, through the same driver. No sleeps: every wait is a queue get.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy
import pytest

from devices.camera import Camera, OpenCvFrameSource
from devices.events import CameraError, CameraFailed, PhotoCaptured, StatusChanged
from devices.status import DeviceState

WAIT = 3.0


class UsbCamera:
    """What the driver sees of one V4L2 camera: plugged in or not, and the settings asked of it."""

    def __init__(self) -> None:
        self.plugged = True
        self.lock = threading.Lock()
        self.opens: queue.Queue[tuple[object, ...]] = queue.Queue()
        self.settings: dict[int, float] = {}

    def factory(self, *args: object) -> FakeCapture:
        self.opens.put(args)
        return FakeCapture(self)


class FakeCapture:
    def __init__(self, usb: UsbCamera) -> None:
        self.usb = usb
        with usb.lock:
            self.opened = usb.plugged

    def isOpened(self) -> bool:  # OpenCV's name
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.usb.settings[prop] = value
        return True

    def read(self) -> tuple[bool, Any]:
        with self.usb.lock:
            if not (self.opened and self.usb.plugged):
                return False, None  # what V4L2 gives after the cable is pulled
        frame = numpy.zeros((48, 64, 3), numpy.uint8)
        frame[:, :, 0] = 200  # blue in OpenCV's BGR
        return True, frame

    def release(self) -> None:
        self.opened = False


def events_until(events: queue.Queue[object], wanted: DeviceState) -> list[object]:
    seen = []
    while True:
        event = events.get(timeout=WAIT)
        seen.append(event)
        if isinstance(event, StatusChanged) and event.status.state is wanted:
            return seen


def test_settings_from_config_are_asked_of_the_camera_at_every_open() -> None:
    usb = UsbCamera()
    source = OpenCvFrameSource(2, 1280, 720, exposure=150, capture_factory=usb.factory)
    assert source.open()
    assert usb.opens.get_nowait() == (2, cv2.CAP_V4L2)  # V4L2 by name
    assert usb.settings[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert usb.settings[cv2.CAP_PROP_FRAME_HEIGHT] == 720
    assert usb.settings[cv2.CAP_PROP_AUTO_EXPOSURE] == 1  # manual
    assert usb.settings[cv2.CAP_PROP_EXPOSURE] == 150
    width, height, rgb = source.read() or (0, 0, b"")
    assert (width, height) == (64, 48)
    assert rgb[:3] == bytes((0, 0, 200))  # BGR turned into RGB
    source.close()
    auto = OpenCvFrameSource(0, capture_factory=usb.factory)
    assert auto.open()
    assert usb.settings[cv2.CAP_PROP_AUTO_EXPOSURE] == 3


def test_a_usb_unplug_is_reported_and_the_camera_comes_back_by_itself() -> None:
    usb = UsbCamera()
    events: queue.Queue[object] = queue.Queue()
    camera = Camera(OpenCvFrameSource(0, capture_factory=usb.factory), events.put, reconnect_interval=0.01)
    camera.start()
    try:
        events_until(events, DeviceState.ONLINE)
        camera.capture(1)
        assert isinstance(events.get(timeout=WAIT), PhotoCaptured)
        with usb.lock:
            usb.plugged = False  # the cable is pulled
        camera.capture(2)
        seen = events_until(events, DeviceState.NO_DEVICE)  # the reopen fails: the device is gone
        assert CameraFailed(2, CameraError.NO_DEVICE) in [*seen, events.get(timeout=WAIT)]
        assert camera.status.detail == "not_found"
        opens = usb.opens.qsize()
        usb.opens.get(timeout=WAIT)  # ... and it keeps trying in the background
        assert opens >= 1
        with usb.lock:
            usb.plugged = True
        events_until(events, DeviceState.ONLINE)
        camera.capture(3)
        got = events.get(timeout=WAIT)
        assert isinstance(got, PhotoCaptured) and got.request_id == 3
    finally:
        camera.stop()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """Three frames of a 4:3 video, written by OpenCV itself (MJPG in AVI: always built in)."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    assert writer.isOpened()
    for level in (40, 120, 200):
        frame = numpy.full((120, 160, 3), level, numpy.uint8)
        frame[:, :, 2] = 250  # red in BGR
        writer.write(frame)
    writer.release()
    return path


def test_real_opencv_decodes_frames_and_a_stream_that_ends_is_no_frame(clip: Path) -> None:
    events: queue.Queue[object] = queue.Queue()
    camera = Camera(OpenCvFrameSource(str(clip), 160, 120), events.put, reconnect_interval=60)
    camera.start()
    try:
        events_until(events, DeviceState.ONLINE)  # opened and proved with the first frame
        camera.capture(1)
        got = events.get(timeout=WAIT)
        assert isinstance(got, PhotoCaptured) and (got.width, got.height) == (160, 120)
        red, green, _ = got.rgb[0], got.rgb[1], got.rgb[2]
        assert red > 230 and 100 < green < 140  # the second frame, in RGB order (JPEG is lossy)
        camera.capture(2)
        assert isinstance(events.get(timeout=WAIT), PhotoCaptured)
        camera.capture(3)  # the file has ended: like a camera that stopped sending, reopened, proved
        got3 = events.get(timeout=WAIT)
        assert isinstance(got3, PhotoCaptured)  # the reopen starts the clip again: its first frame
        assert got3.rgb[1] < 60
    finally:
        camera.stop()


def test_a_device_that_does_not_exist_is_no_device() -> None:
    source = OpenCvFrameSource("/nonexistent/video99")
    assert source.open() is False
    assert source.read() is None
