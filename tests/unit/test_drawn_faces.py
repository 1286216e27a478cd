"""Synthetic faces and the face-service stand-in."""

from __future__ import annotations

import pytest
from PIL import Image

from kiosk.photo import PERMIT_PHOTO_SIZE, check_photo, portrait
from sim.drawn_faces import (
    MATCH_THRESHOLD,
    SCENE_KINDS,
    face_params,
    face_signature,
    reference_portrait,
    same_person,
    scene,
    similarity,
)

KEYS = [f"person-{i:02d}" for i in range(50)]


def permit_photo(key: str, seed: int) -> Image.Image:
    """What the kiosk sends the backend: the checked frame cropped to the permit photo."""
    frame = scene("face", key, seed=seed)
    result = check_photo(frame.width, frame.height, frame.tobytes())
    assert result.ok, (key, result)
    photo = portrait(frame.width, frame.height, frame.tobytes(), result.face_box)
    return Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)


@pytest.fixture(scope="module")
def signatures() -> tuple[list, list]:
    live = [face_signature(permit_photo(k, seed=i)) for i, k in enumerate(KEYS)]
    ref = [face_signature(reference_portrait(k)) for k in KEYS]
    assert None not in live and None not in ref
    return live, ref


def test_same_key_gives_the_same_person_and_keys_differ() -> None:
    assert face_params("陈静") == face_params("陈静")
    assert reference_portrait("陈静").tobytes() == reference_portrait("陈静").tobytes()
    assert reference_portrait("陈静").tobytes() != reference_portrait("陈静 ").tobytes()
    params = {face_params(k) for k in KEYS}
    assert len(params) == len(KEYS)
    assert len({(p.style, p.hair, p.glasses) for p in params}) > 15


def test_reference_portrait_is_the_permit_size() -> None:
    img = reference_portrait("person-00")
    assert img.size == PERMIT_PHOTO_SIZE
    assert img.mode == "RGB"


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_scenes_are_deterministic_per_seed_and_vary_between_seeds(kind: str) -> None:
    a = scene(kind, "person-01", seed=1)
    assert a.size == (640, 480)
    assert a.tobytes() == scene(kind, "person-01", seed=1).tobytes()
    assert a.tobytes() != scene(kind, "person-01", seed=2).tobytes()


def test_scene_size_and_kind_are_checked() -> None:
    assert scene("face", "person-02", width=320, height=240).size == (320, 240)
    with pytest.raises(ValueError):
        scene("selfie", "person-02")


def test_every_resident_matches_their_own_reference(signatures: tuple[list, list]) -> None:
    live, ref = signatures
    scores = [similarity(a, b) for a, b in zip(live, ref, strict=True)]
    assert min(scores) >= MATCH_THRESHOLD, sorted(zip(scores, KEYS, strict=True))[:3]


def test_no_resident_matches_anyone_elses_reference(signatures: tuple[list, list]) -> None:
    live, ref = signatures
    worst = max(
        (similarity(live[i], ref[j]), KEYS[i], KEYS[j])
        for i in range(len(KEYS))
        for j in range(len(KEYS))
        if i != j
    )
    assert worst[0] < MATCH_THRESHOLD, worst


def test_same_person_on_photos_and_on_raw_frames() -> None:
    ok, score = same_person(permit_photo("person-03", seed=7), reference_portrait("person-03"))
    assert ok and score >= MATCH_THRESHOLD
    ok, _ = same_person(scene("face", "person-03", seed=8), reference_portrait("person-03"))
    assert ok
    ok, score = same_person(permit_photo("person-03", seed=7), reference_portrait("person-04"))
    assert not ok and score < MATCH_THRESHOLD


def test_same_person_refuses_frames_without_exactly_one_face() -> None:
    ref = reference_portrait("person-05")
    assert same_person(scene("nobody"), ref) == (False, 0.0)
    assert same_person(scene("two_people", "person-05"), ref) == (False, 0.0)


def test_the_stand_in_compares_pixels_not_keys() -> None:
    # The same face drawn under another key's name would match: only the pixels count.
    photo = permit_photo("person-06", seed=1)
    assert same_person(photo, reference_portrait("person-06"))[0]
    mirrored = reference_portrait("person-06").transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    assert not same_person(photo, mirrored)[0]
