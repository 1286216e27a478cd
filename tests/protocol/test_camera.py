"""The Camera adapter against the scene emulator: what the kiosk sees, event by event.

No sleeps: every wait is a get with a timeout on the event queue.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Iterator

import pytest

from devices.camera import Camera, OpenCvFrameSource
from devices.events import CameraError, CameraFailed, DeviceLogged, PhotoCaptured, StatusChanged
from devices.status import DeviceKind, DeviceState
from kiosk.face_haar import HaarFaceDetector
from kiosk.photo import PhotoProblem, check_photo
from sim.camera_emu import SceneFrameSource

WAIT = 3.0  # generous upper bound for one expected event


class Rig:
    def __init__(self, source: object) -> None:
        self.events: queue.Queue[object] = queue.Queue()
        self.source = source
        self.camera = Camera(source, self.events.put, reconnect_interval=0.02)  # type: ignore[arg-type]

    def next(self, kind: type) -> object:
        """The next event of `kind`, skipping status changes when another kind is awaited."""
        while True:
            event = self.events.get(timeout=WAIT)
            if isinstance(event, kind):
                return event
            assert isinstance(event, StatusChanged | DeviceLogged), event

    def state(self, wanted: DeviceState) -> StatusChanged:
        while True:
            event = self.next(StatusChanged)
            if event.status.state is wanted:
                return event


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig(SceneFrameSource())
    r.camera.start()
    r.state(DeviceState.ONLINE)
    yield r
    r.camera.stop()


def test_starts_online_as_a_camera(rig: Rig) -> None:
    assert rig.camera.status.device is DeviceKind.CAMERA
    assert rig.camera.status.state is DeviceState.ONLINE


def test_capture_posts_the_frame_the_emulator_shows(rig: Rig) -> None:
    rig.source.show("face", "陈静")
    rig.camera.capture(41)
    got = rig.next(PhotoCaptured)
    assert (got.request_id, got.width, got.height) == (41, 640, 480)
    assert len(got.rgb) == 640 * 480 * 3
    assert check_photo(got.width, got.height, got.rgb, detector=HaarFaceDetector()).ok
    rig.source.show("two_people", "陈静")
    rig.camera.capture(42)
    second = rig.next(PhotoCaptured)
    assert second.request_id == 42
    check = check_photo(second.width, second.height, second.rgb, detector=HaarFaceDetector())
    assert check.problem is PhotoProblem.TWO_FACES


def test_two_captures_of_one_scene_differ_like_real_frames(rig: Rig) -> None:
    rig.source.show("face", "Li Na")
    rig.camera.capture(1)
    rig.camera.capture(2)
    a, b = rig.next(PhotoCaptured), rig.next(PhotoCaptured)
    assert (a.request_id, b.request_id) == (1, 2)
    assert a.rgb != b.rgb


def test_capture_returns_at_once_and_never_raises(rig: Rig) -> None:
    rig.source.show("face", "Li Na")
    for rid in range(5):
        rig.camera.capture(rid)
    assert [rig.next(PhotoCaptured).request_id for _ in range(5)] == list(range(5))


def test_a_camera_that_stops_giving_frames_fails_the_capture_and_recovers(rig: Rig) -> None:
    rig.source.fail(True)
    rig.camera.capture(7)
    failed = rig.next(CameraFailed)
    assert failed == CameraFailed(7, CameraError.NO_FRAME)
    status = rig.camera.status
    assert status.state is DeviceState.HARDWARE_ERROR and status.detail == "no_frame"
    assert not status.is_up
    rig.source.fail(False)
    rig.state(DeviceState.ONLINE)  # the adapter reconnects by itself
    rig.source.show("face", "Li Na")
    rig.camera.capture(8)
    assert rig.next(PhotoCaptured).request_id == 8


def test_an_unplugged_camera_is_no_device_until_it_comes_back(rig: Rig) -> None:
    rig.source.unplug(True)
    rig.camera.capture(9)
    assert rig.next(CameraFailed) == CameraFailed(9, CameraError.NO_DEVICE)
    assert rig.camera.status.state is DeviceState.NO_DEVICE
    rig.source.unplug(False)
    rig.state(DeviceState.ONLINE)


class CountingSource(SceneFrameSource):
    """Reports each open attempt, so a test can wait for retries without sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: queue.Queue[bool] = queue.Queue()

    def open(self) -> bool:
        opened = super().open()
        self.attempts.put(opened)
        return opened


def test_a_status_change_is_posted_once_not_on_every_retry() -> None:
    source = CountingSource()
    source.unplug(True)
    r = Rig(source)
    r.camera.start()
    try:
        r.state(DeviceState.NO_DEVICE)
        for _ in range(5):  # the adapter keeps retrying in the background
            assert source.attempts.get(timeout=WAIT) is False
        assert r.events.empty()  # ... without repeating what it already said
        source.unplug(False)
        r.state(DeviceState.ONLINE)
    finally:
        r.camera.stop()
    assert r.next(StatusChanged).status.state is DeviceState.OFFLINE
    assert r.events.empty()


def test_opencv_source_without_opencv_is_no_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    source = OpenCvFrameSource(0)
    assert source.open() is False
    assert source.read() is None
    r = Rig(source)
    r.camera.start()
    try:
        r.state(DeviceState.NO_DEVICE)
        r.camera.capture(3)
        assert r.next(CameraFailed) == CameraFailed(3, CameraError.NO_DEVICE)
    finally:
        r.camera.stop()
