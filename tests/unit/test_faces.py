"""Residents' faces from a real photograph (sim/faces.py) and the face-service stand-in's calibration (issue 12)."""

from __future__ import annotations

import itertools

import pytest
from PIL import Image

from kiosk.face_haar import HaarFaceDetector
from kiosk.photo import PERMIT_PHOTO_SIZE, check_photo, portrait
from sim.faces import (
    MATCH_THRESHOLD,
    PEOPLE,
    SCENE_KINDS,
    backdrop_column,
    face_signature,
    kiosk_backdrop,
    matches_reference,
    person_of,
    reference_portrait,
    same_person,
    scene,
    similarity,
)
from sim.photo_confusion import _key

DETECTOR = HaarFaceDetector()
KEYS = [_key(i) for i in range(len(PEOPLE))]


def permit_photo(key: str, seed: int) -> Image.Image:
    """The camera frame as the kiosk crops it to the permit photo, after its checks pass."""
    frame = scene("face", key, seed=seed)
    check = check_photo(frame.width, frame.height, frame.tobytes(), detector=DETECTOR)
    assert check.ok and check.face_box is not None, (key, seed, check)
    photo = portrait(frame.width, frame.height, frame.tobytes(), check.face_box)
    return Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)


def test_one_key_is_always_the_same_person_and_the_scenarios_strangers_differ() -> None:
    assert reference_portrait("陈静").tobytes() == reference_portrait("陈静").tobytes()
    assert person_of("zhang") != person_of("li")  # refused_face_mismatch: li's face on zhang's card
    assert sorted({person_of(k) for k in KEYS}) == list(range(len(PEOPLE)))


def test_the_portrait_and_its_signature_made_once_a_person_give_the_same_answers() -> None:
    """The face service keeps each person's reference (sim/faces._portrait, _reference_signature):
    a caller's copy to change, and the same verdicts and scores as comparing with a portrait
    made anew."""
    mine = reference_portrait(KEYS[0])
    mine.paste((0, 0, 0), (0, 0, mine.width, mine.height))
    assert reference_portrait(KEYS[0]).tobytes() != mine.tobytes()  # the kept one is not the caller's
    for key in KEYS[:3]:
        for live in (permit_photo(key, 1), permit_photo(KEYS[3], 2), scene("nobody", None)):
            assert matches_reference(live, key) == same_person(live, reference_portrait(key))
    assert matches_reference(permit_photo(KEYS[1], 1), KEYS[1])[0]
    assert not matches_reference(permit_photo(KEYS[2], 1), KEYS[1])[0]


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (320, 240)])
def test_the_backdrop_is_the_bilinear_resize_of_its_column(size: tuple[int, int]) -> None:
    """Resized on the column and then widened: the same pixels as resizing the column to the frame."""
    import random

    for seed in range(40):
        whole = backdrop_column(random.Random(seed)).resize(size, Image.Resampling.BILINEAR)
        assert kiosk_backdrop(*size, random.Random(seed)).tobytes() == whole.tobytes(), seed


def test_reference_portrait_is_the_permit_size() -> None:
    assert reference_portrait("person-00").size == PERMIT_PHOTO_SIZE


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_every_scene_kind_is_deterministic_per_seed(kind: str) -> None:
    a = scene(kind, "person-01", seed=1)
    assert a.size == (640, 480)
    assert a.tobytes() == scene(kind, "person-01", seed=1).tobytes()
    assert a.tobytes() != scene(kind, "person-01", seed=2).tobytes()


def test_unknown_scene_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        scene("selfie", "person-02")


def test_the_stand_in_tells_every_person_from_every_other() -> None:
    """Own portrait above the threshold from 3 camera frames each; everyone else's below it."""
    refs = [face_signature(reference_portrait(k)) for k in KEYS]
    assert all(r is not None for r in refs)
    for (i, key), seed in itertools.product(enumerate(KEYS), range(3)):
        live = face_signature(permit_photo(key, seed))
        assert live is not None, (key, seed)
        for j, ref in enumerate(refs):
            assert ref is not None
            score = similarity(live, ref)
            assert (score >= MATCH_THRESHOLD) == (i == j), (i, j, seed, score)


def test_same_person_on_a_raw_frame_and_a_stranger() -> None:
    ok, score = same_person(permit_photo("zhang", 4), reference_portrait("zhang"))
    assert ok and score >= MATCH_THRESHOLD
    ok, score = same_person(permit_photo("li", 4), reference_portrait("zhang"))
    assert not ok and score < MATCH_THRESHOLD


def test_same_person_refuses_frames_without_exactly_one_face() -> None:
    ref = reference_portrait("zhang")
    assert same_person(scene("nobody"), ref) == (False, 0.0)
    assert same_person(scene("two_people", "zhang"), ref) == (False, 0.0)
