"""The camera emulator's frame sequences (sim/camera_emu.SEQUENCES), through the kiosk's checks (issue 12)."""

from __future__ import annotations

import pytest

from kiosk.face_haar import HaarFaceDetector
from kiosk.photo import PhotoProblem, check_photo
from sim.camera_emu import SEQUENCES, SceneFrameSource

DETECTOR = HaarFaceDetector()


class Clock:
    """The kiosk's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def problems(source: SceneFrameSource, clock: Clock, at: list[float]) -> list[PhotoProblem | None]:
    """What the checks find in the frames read at these seconds after the first one."""
    out = []
    start = clock.now
    for seconds in at:
        clock.now = start + seconds
        frame = source.read()
        assert frame is not None
        out.append(check_photo(*frame, detector=DETECTOR).problem)
    return out


def test_a_resident_walks_in_from_the_edge_and_then_stands_still() -> None:
    clock = Clock()
    source = SceneFrameSource(clock=clock)
    assert source.open()
    source.read()  # the frame before: nobody
    clock.now += 60  # the walk starts at the first frame read after `show`, not at `show`
    source.show("walk_in", "zhang")
    got = problems(source, clock, [0.0, 3.0, 4.4, 4.5, 7.4, 7.5, 9.0, 30.0])
    assert got == [PhotoProblem.NO_FACE] * 3 + [PhotoProblem.OFF_CENTRE] * 2 + [None] * 3


def test_a_resident_stands_still_then_leaves_and_nobody_stays() -> None:
    clock = Clock()
    source = SceneFrameSource(clock=clock)
    assert source.open()
    source.show("leaving", "li")
    got = problems(source, clock, [0.0, 4.0, 4.5, 6.0, 7.5, 60.0])
    assert got[:2] == [None, None]
    assert got[2] is PhotoProblem.OFF_CENTRE
    assert got[4:] == [PhotoProblem.NO_FACE, PhotoProblem.NO_FACE]


def test_a_sequence_shown_from_now_is_timed_from_the_show_not_the_first_read() -> None:
    # The scenario runner's way: a `wait` step may jump the kiosk's clock before the camera's
    # worker reads a frame; the resident still left at the time the sequence says.
    clock = Clock()
    source = SceneFrameSource(clock=clock)
    assert source.open()
    source.show("leaving", "zhang", from_now=True)
    clock.now += 8.0
    assert problems(source, clock, [0.0]) == [PhotoProblem.NO_FACE]
    source.show("leaving", "zhang")  # from the first read: standing still there
    assert problems(source, clock, [0.0]) == [None]


def test_showing_again_restarts_a_sequence() -> None:
    clock = Clock()
    source = SceneFrameSource(clock=clock)
    assert source.open()
    source.show("walk_in", "zhang")
    problems(source, clock, [0.0, 10.0])
    source.show("walk_in", "zhang")
    assert problems(source, clock, [0.0]) == [PhotoProblem.NO_FACE]


def test_an_unknown_scene_or_sequence_is_refused() -> None:
    with pytest.raises(ValueError):
        SceneFrameSource().show("moonwalk")
    assert set(SEQUENCES) == {"walk_in", "leaving"}


def test_a_read_at_the_same_time_of_the_same_scene_is_the_frame_drawn_last() -> None:
    """Under a scenario's virtual clock the preview reads many frames between two steps of the
    clock: those are the frame drawn last, not drawn again. Anything else gets a frame of its own."""
    clock = Clock()
    source = SceneFrameSource(clock=clock)
    source.show("face", "k1")
    assert source.open()
    first = source.read()
    assert first is not None and source.read() is first  # same time, same scene: no new drawing
    clock.now += 0.04
    later = source.read()
    assert later is not None and later is not first and later[2] != first[2]  # a new seed: new noise
    source.show("nobody")
    assert source.read() is not later  # the scene changed at the same time
    source.show_qr("hello")
    qr = source.read()
    assert qr is not None and source.read() is qr
    source.close()
    assert source.open() and source.read() is not qr  # a reopened camera draws afresh
