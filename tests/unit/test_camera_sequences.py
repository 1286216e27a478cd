"""The camera emulator's frame sequences (sim/camera_emu.SEQUENCES), through the kiosk's checks (issue 12)."""

from __future__ import annotations

import pytest

from kiosk.face_haar import HaarFaceDetector
from kiosk.photo import PhotoProblem, check_photo
from sim.camera_emu import SEQUENCES, SceneFrameSource

DETECTOR = HaarFaceDetector()


def problems(source: SceneFrameSource, n: int) -> list[PhotoProblem | None]:
    out = []
    for _ in range(n):
        frame = source.read()
        assert frame is not None
        out.append(check_photo(*frame, detector=DETECTOR).problem)
    return out


def test_a_resident_walks_in_from_the_edge_and_then_stands_still() -> None:
    source = SceneFrameSource()
    assert source.open()
    source.read()  # the frame before: nobody
    source.show("walk_in", "zhang")
    assert problems(source, 5) == [PhotoProblem.NO_FACE, PhotoProblem.OFF_CENTRE, None, None, None]


def test_a_resident_stands_still_then_leaves_and_nobody_stays() -> None:
    source = SceneFrameSource()
    assert source.open()
    source.show("leaving", "li")
    got = problems(source, 6)
    assert got[:2] == [None, None]
    assert got[2] is PhotoProblem.OFF_CENTRE
    assert got[4:] == [PhotoProblem.NO_FACE, PhotoProblem.NO_FACE]


def test_showing_again_restarts_a_sequence() -> None:
    source = SceneFrameSource()
    assert source.open()
    source.show("walk_in", "zhang")
    problems(source, 4)
    source.show("walk_in", "zhang")
    assert problems(source, 1) == [PhotoProblem.NO_FACE]


def test_an_unknown_scene_or_sequence_is_refused() -> None:
    with pytest.raises(ValueError):
        SceneFrameSource().show("moonwalk")
    assert set(SEQUENCES) == {"walk_in", "leaving"}
