"""The photo screen's live preview (issue 12): the channel that mirrors and scales frames off the
main thread, the camera adapter streaming only while the preview is on, the guidance words, and
the display blitting the newest frame and forgetting it with the session (SH-PRIV-1)."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from devices.camera import Camera
from devices.camera_preview import PreviewChannel, PreviewImage, convert, window
from devices.events import PhotoCaptured, PreviewSampled
from kiosk.photo import PhotoCheck, PhotoProblem
from kiosk.photo_guidance import OUTLINE, guidance

RED, BLUE = (255, 0, 0), (0, 0, 255)


def halves(width: int = 64, height: int = 48) -> tuple[int, int, bytes]:
    """A frame red on the camera's left half, blue on its right."""
    row = bytes(RED) * (width // 2) + bytes(BLUE) * (width - width // 2)
    return width, height, row * height


def until(condition, limit: float = 5.0) -> bool:
    """Polls a condition another thread makes true, with a deadline (never a bare sleep)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def test_a_preview_frame_is_mirrored_cut_to_the_screen_shape_and_scaled():
    pixels = convert(halves(), (30, 40), "RGB")
    assert len(pixels) == 30 * 40 * 3
    first, last = pixels[0:3], pixels[(30 - 1) * 3:30 * 3]
    # Mirrored: the camera's left (red) is on the screen's right, as in a mirror.
    assert (tuple(first), tuple(last)) == (BLUE, RED)


def test_the_preview_window_is_the_frame_centre_at_full_height():
    left, top, right, bottom = window((640, 480), (390, 500))
    assert (top, bottom) == (0.0, 1.0)
    assert abs((left + right) / 2 - 0.5) < 1e-9 and abs((right - left) * 640 - 480 * 390 / 500) < 1e-6


def test_the_channel_converts_the_newest_frame_and_clear_drops_it():
    channel = PreviewChannel()
    channel.start()
    try:
        channel.want((20, 30), "RGBX")
        channel.offer(halves())
        assert until(lambda: channel.latest() is not None)
        img = channel.latest()
        assert isinstance(img, PreviewImage) and img.size == (20, 30) and len(img.pixels) == 20 * 30 * 4
        channel.clear()
        assert channel.latest() is None  # SH-PRIV-1: preview off or the session over
        channel.want((10, 10), "RGBX")
        assert channel.latest() is None  # a frame of the old size is never shown at the new one
    finally:
        channel.stop()
    assert channel.latest() is None


class CountingSource:
    def __init__(self) -> None:
        self.reads = 0
        self.lock = threading.Lock()

    def open(self) -> bool:
        return True

    def read(self):
        with self.lock:
            self.reads += 1
        return halves()

    def close(self) -> None:
        pass


class CountingChannel(PreviewChannel):
    def __init__(self) -> None:
        super().__init__()
        self.offers = 0

    def offer(self, frame) -> None:
        self.offers += 1
        super().offer(frame)


def test_the_camera_streams_preview_frames_only_while_the_preview_is_on():
    events: queue.Queue = queue.Queue()
    channel = CountingChannel()
    camera = Camera(CountingSource(), events.put, preview=channel, preview_fps=200, sample_interval=0.0)
    camera.start()
    try:
        channel.want((16, 20), "RGBX")
        camera.set_preview(True)
        assert until(lambda: channel.offers >= 3 and channel.latest() is not None)
        got = []
        assert until(lambda: any(isinstance(e, PreviewSampled) for e in drain(events, got)))
        camera.set_preview(False)
        assert channel.latest() is None  # dropped at once, not when the worker gets round to it

        def captured(request_id: int) -> None:
            camera.capture(request_id)
            assert until(lambda: any(isinstance(e, PhotoCaptured) and e.request_id == request_id
                                     for e in drain(events, got)))

        captured(1)  # the worker has run the preview-off job before this capture
        offers = channel.offers
        captured(2)
        assert channel.offers == offers, "frames went on to the preview after it was turned off"
        assert channel.latest() is None
    finally:
        camera.stop()


class NumberedSource(CountingSource):
    """Every frame carries the number of its read in its first four bytes."""

    def read(self):
        w, h, rgb = super().read()
        with self.lock:
            number = self.reads
        return w, h, number.to_bytes(4, "big") + rgb[4:]


class RecordingChannel(PreviewChannel):
    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[bytes] = []

    def offer(self, frame) -> None:
        self.numbers.append(frame[2][:4])
        super().offer(frame)


@contextlib.contextmanager
def numbered_camera() -> Iterator[tuple[Camera, RecordingChannel, Callable[[int], PhotoCaptured]]]:
    """A camera streaming numbered frames to a recording channel on a clock that stands still (the
    preview's newest frame is always recent), and `captured(id)`: a capture, waited for."""
    events: queue.Queue = queue.Queue()
    channel = RecordingChannel()
    camera = Camera(NumberedSource(), events.put, preview=channel, preview_fps=200, sample_interval=0.0,
                    clock=lambda: 50.0)
    camera.start()
    got: list = []

    def captured(request_id: int) -> PhotoCaptured:
        camera.capture(request_id)
        assert until(lambda: any(isinstance(e, PhotoCaptured) and e.request_id == request_id
                                 for e in drain(events, got)))
        return next(e for e in got if isinstance(e, PhotoCaptured) and e.request_id == request_id)

    try:
        channel.want((16, 20), "RGBX")
        yield camera, channel, captured
    finally:
        camera.stop()


def test_a_capture_during_the_preview_takes_the_frame_the_preview_just_showed():
    """Issue 16: no wait for another frame; with the preview off a capture reads a frame of its own."""
    with numbered_camera() as (camera, channel, captured):
        camera.set_preview(True)
        assert until(lambda: len(channel.numbers) >= 2)
        assert captured(1).rgb[:4] in channel.numbers
        camera.set_preview(False)
        assert captured(2).rgb[:4] not in channel.numbers


def test_a_held_preview_leaves_the_photo_taken_in_view_and_offers_no_more_frames():
    """The photo screen holds the preview while the photo taken is checked (kiosk/flows/new_permit):
    the channel keeps its last frame for the display, no frame is offered after the hold, and
    set_preview(True) streams again (after a problem) while set_preview(False) drops it."""
    with numbered_camera() as (camera, channel, captured):
        camera.set_preview(True)
        assert until(lambda: len(channel.numbers) >= 2 and channel.latest() is not None)
        taken = captured(1)
        camera.hold_preview()
        assert taken.rgb[:4] in channel.numbers
        captured(2)  # the worker ran the hold before this (its jobs run in order)
        offered = len(channel.numbers)
        assert captured(3).rgb[:4] not in channel.numbers  # a frame of its own: the preview is not on
        assert len(channel.numbers) == offered, "frames went on to the preview while it was held"
        assert channel.latest() is not None, "the photo taken left the glass"
        camera.set_preview(True)
        assert until(lambda: len(channel.numbers) > offered)
        camera.hold_preview()
        camera.set_preview(False)
        assert channel.latest() is None


def drain(events: queue.Queue, into: list) -> list:
    while True:
        try:
            into.append(events.get_nowait())
        except queue.Empty:
            return into


def test_guidance_says_what_to_do_from_the_checks_verdict():
    w, h = 640, 480
    assert guidance(PhotoCheck(None, (250, 100, 390, 300)), w, h).key == "ok"
    assert guidance(PhotoCheck(PhotoProblem.TOO_SMALL, (300, 150, 340, 200)), w, h).key == "closer"
    assert guidance(PhotoCheck(PhotoProblem.TOO_LARGE, (100, 0, 540, 400)), w, h).key == "further"
    assert guidance(PhotoCheck(PhotoProblem.TOO_DARK, None), w, h).key == "too_dark"
    assert guidance(PhotoCheck(PhotoProblem.BLURRED, (250, 100, 390, 300)), w, h).key == "hold_still"
    assert guidance(PhotoCheck(PhotoProblem.NO_FACE, None), w, h).key == "no_face"
    # Off centre: the camera's left is the resident's right; the mirrored picture moves as they do.
    assert guidance(PhotoCheck(PhotoProblem.OFF_CENTRE, (20, 100, 160, 300)), w, h).key == "move_left"
    assert guidance(PhotoCheck(PhotoProblem.OFF_CENTRE, (480, 100, 620, 300)), w, h).key == "move_right"
    low = (250, 300, 390, 470)
    assert guidance(PhotoCheck(PhotoProblem.OFF_CENTRE, low), w, h).key == "move_up"
    # The outline sits where the checks accept a head, with room to spare.
    cx, cy, height = OUTLINE
    assert cx == 0.5 and 0.18 < cy < 0.58 and 0.30 < height < 0.62 and 0 < cy - height / 2 < cy + height / 2 < 1


class FakePreview:
    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None
        self.image: PreviewImage | None = None
        self.cleared = 0

    def want(self, size, layout="RGBX") -> None:
        self.size = tuple(size)

    def latest(self):
        return self.image

    def clear(self) -> None:
        self.cleared += 1
        self.image = None


def test_the_display_blits_the_newest_preview_frame_and_forgets_it_with_the_session():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from kiosk.fonts import find_cjk_font
    from screens.display import Display
    from tests.unit.test_screens import PHOTO_BUTTONS, PREVIEW_DATA, view_of

    display = Display((540, 960), font=find_cjk_font(None), lang="zh")
    try:
        source = FakePreview()
        display.attach_preview(source)
        view = view_of("new_permit.photo", PHOTO_BUTTONS, dict(PREVIEW_DATA, countdown=None))
        display.render(view)
        assert source.size is not None, "the display asks for frames of its preview's size"
        assert not display.needs_frame()
        green = (0, 200, 0)
        w, h = source.size
        source.image = PreviewImage(1, (w, h), "RGBX", bytes((*green, 255)) * (w * h))
        assert display.needs_frame()
        display.render(view)
        assert not display.needs_frame()
        rect = display._layers.entries()[-1][1].rects["preview"]
        assert tuple(display.screen.get_at((rect.left + 3, rect.top + 3)))[:3] == green
        source.image = replace(source.image, seq=2)
        assert display.needs_frame()  # a new frame redraws although the view is the same
        from tests.unit.test_screens import OVERLAY

        display.render(replace(view, overlay=OVERLAY))
        assert not display.needs_frame()  # under the idle warning no live frame is drawn
        display.render(view)
        source.image = replace(source.image, seq=3)
        assert display.needs_frame()
        display.forget_session()
        assert source.cleared >= 1 and display._preview_surface is None and not display.needs_frame()
        display.render(view_of("new_permit.photo", PHOTO_BUTTONS, {"attempt": 1, "max_attempts": 3}))
        assert not display.needs_frame()  # no preview in the view: none is drawn
    finally:
        display.close()
