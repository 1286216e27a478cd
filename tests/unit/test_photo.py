"""Photo quality checks and the permit crop, on synthetic camera scenes."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from kiosk.photo import (
    PERMIT_PHOTO_SIZE,
    PhotoCheck,
    PhotoProblem,
    PlainBackgroundDetector,
    check_photo,
    portrait,
    sharpness,
    to_png,
)
from kiosk.view import Photo
from sim.drawn_faces import scene

W, H = 640, 480
KEYS = [f"resident-{i}" for i in range(30)] + ["陈静", "Li Na", "Wang Fang"]

BAD_KINDS = {
    "nobody": PhotoProblem.NO_FACE,
    "two_people": PhotoProblem.TWO_FACES,
    "too_dark": PhotoProblem.TOO_DARK,
    "too_bright": PhotoProblem.TOO_BRIGHT,
    "blurred": PhotoProblem.BLURRED,
    "off_centre": PhotoProblem.OFF_CENTRE,
    "too_far": PhotoProblem.TOO_SMALL,
    "too_close": PhotoProblem.TOO_LARGE,
}


def check(img: Image.Image) -> PhotoCheck:
    return check_photo(img.width, img.height, img.tobytes())


@pytest.mark.parametrize("key", KEYS)
def test_a_resident_centred_on_the_backdrop_is_accepted(key: str) -> None:
    for seed in (0, 1):
        result = check(scene("face", key, seed=seed))
        assert result.problem is None, (key, seed, result)
        assert result.ok
        left, top, right, _ = result.face_box
        assert left < W / 2 < right and top < H / 2


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_each_bad_frame_is_refused_with_its_own_problem(kind: str) -> None:
    for i, key in enumerate(KEYS[:12]):
        result = check(scene(kind, key, seed=i))
        assert result.problem is BAD_KINDS[kind], (kind, key, result)
        assert not result.ok


def test_face_box_is_given_with_a_position_problem_and_withheld_without_one_face() -> None:
    assert check(scene("off_centre", "resident-1")).face_box is not None
    assert check(scene("too_far", "resident-1")).face_box is not None
    assert check(scene("nobody")).face_box is None
    assert check(scene("two_people", "resident-1")).face_box is None


def test_off_centre_works_to_either_side() -> None:
    left = check(scene("off_centre", "resident-2", seed=0))
    right = check(scene("off_centre", "resident-2", seed=1))
    assert left.problem is right.problem is PhotoProblem.OFF_CENTRE
    assert left.face_box[2] < W / 2 < right.face_box[0]


def test_a_plugged_in_detector_decides_how_many_faces_there_are() -> None:
    class Fixed:
        def __init__(self, boxes: list[tuple[int, int, int, int]]) -> None:
            self.boxes = boxes

        def detect(self, img: Image.Image) -> list[tuple[int, int, int, int]]:
            return self.boxes

    frame = scene("face", "resident-3")
    data = frame.tobytes()
    assert check_photo(W, H, data, detector=Fixed([])).problem is PhotoProblem.NO_FACE
    two = Fixed([(200, 50, 300, 200), (340, 50, 440, 200)])
    assert check_photo(W, H, data, detector=two).problem is PhotoProblem.TWO_FACES
    tiny = Fixed([(300, 100, 340, 150)])
    assert check_photo(W, H, data, detector=tiny).problem is PhotoProblem.TOO_SMALL


def test_sharpness_falls_with_blur() -> None:
    box = check(scene("face", "resident-4")).face_box
    sharp = scene("face", "resident-4").convert("L").crop(box)
    from PIL import ImageFilter

    blurred = sharp.filter(ImageFilter.GaussianBlur(6))
    assert sharpness(sharp) > 2 * sharpness(blurred)
    assert sharpness(Image.new("L", (50, 60), 128)) == 0.0


def test_detector_finds_nothing_on_a_bare_backdrop_and_one_head_per_person() -> None:
    det = PlainBackgroundDetector()
    assert det.detect(scene("nobody", seed=5)) == []
    assert len(det.detect(scene("face", "resident-5"))) == 1
    assert len(det.detect(scene("two_people", "resident-5"))) == 2


def test_portrait_is_the_permit_size_with_the_head_centred_and_upper() -> None:
    frame = scene("face", "resident-6")
    result = check(frame)
    photo = portrait(W, H, frame.tobytes(), result.face_box)
    assert (photo.width, photo.height) == PERMIT_PHOTO_SIZE
    assert len(photo.rgb) == photo.width * photo.height * 3
    img = Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)
    head = PlainBackgroundDetector().detect(img)
    assert len(head) == 1
    left, top, right, bottom = head[0]
    assert abs((left + right) / 2 - photo.width / 2) < 0.05 * photo.width
    assert 0.02 * photo.height < top < 0.12 * photo.height
    assert 0.5 * photo.height < bottom - top < 0.7 * photo.height


def test_portrait_of_a_head_at_the_frame_edge_stays_inside_and_full_size() -> None:
    frame = scene("off_centre", "resident-7", seed=0)
    box = check(frame).face_box
    photo = portrait(W, H, frame.tobytes(), box)
    assert (photo.width, photo.height) == PERMIT_PHOTO_SIZE
    # A head too large for the frame is padded with the backdrop, not with black.
    big = portrait(W, H, frame.tobytes(), (100, 0, 500, 470))
    img = Image.frombytes("RGB", PERMIT_PHOTO_SIZE, big.rgb)
    assert min(img.getpixel((2, 2))) > 150


def test_png_round_trips_in_memory() -> None:
    frame = scene("face", "resident-8")
    photo = portrait(W, H, frame.tobytes(), check(frame).face_box)
    data = to_png(photo)
    assert data.startswith(b"\x89PNG")
    back = Image.open(io.BytesIO(data))
    assert back.size == PERMIT_PHOTO_SIZE
    assert back.convert("RGB").tobytes() == photo.rgb
    assert to_png(Photo(2, 1, b"\x00" * 6)) != data


def test_check_is_fast_enough_for_a_live_preview() -> None:
    # A loose sanity bound (the benchmark measures properly): far above the ~5 ms it takes.
    frames = [scene(kind, "resident-9").tobytes() for kind in ("face", "two_people", "blurred")]
    start = time.perf_counter()
    for data in frames * 3:
        check_photo(W, H, data)
    assert (time.perf_counter() - start) / 9 < 0.05
