"""Residents' faces from a real photograph, for the simulators, and a stand-in for the backend's face service.

The photograph is scikit-image's `astronaut()` (Eileen Collins, NASA; public domain), the
one frontal portrait a package ships with a licence that allows it (see docs/photo.md), kept
in sim/pictures. She
is cut out along a fixed outline (traced once with OpenCV's GrabCut and kept here as a
polygon, so nothing is segmented at run time) and every resident is a variant of her: a
key string is hashed onto one of `PEOPLE` (hair colour, skin tone, face width, mirrored), so
one key is always the same person and the variants differ enough for a pixel comparison to
tell them apart. There are only len(PEOPLE) people: two keys can be the same one (see
`person_of`); scenarios that need a stranger use keys that differ (a unit test checks the ones
they use).

`reference_portrait` is the photo the authority holds (358×441, near-white backdrop, studio
framing); `scene` is what the kiosk's camera sees (640×480 on the kiosk's light backdrop), in
the good case and in every case the photo checks must refuse (SCENE_KINDS).

`same_person` stands in for the real face-comparison service. It never sees a key: it
finds the face in each image with OpenCV's `haarcascade_frontalface_alt2` (not the kiosk's
cascade), and compares a high-pass grey thumbnail of the face (correlation) and the mean
colours of the hair and the cheeks; see MATCH_THRESHOLD for the calibration. It says
nothing about real faces in general: it tells apart the variants of one photograph.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from kiosk.photo import PERMIT_PHOTO_SIZE

KIOSK_BACKDROP = (206, 220, 238)
AUTHORITY_BACKDROP = (247, 247, 247)

SCENE_KINDS = (
    "face",
    "nobody",
    "two_people",
    "too_dark",
    "too_bright",
    "blurred",
    "off_centre",
    "too_far",
    "too_close",
    "backlit",
    "busy_background",
    "tilted",
    "eyes_hidden",
)

# The astronaut's outline in her 512×512 photo (head, helmet ring and suit; flag and shuttle out).
_OUTLINE = (
    (259, 22), (237, 16), (227, 16), (212, 22), (207, 20), (156, 58), (153, 68), (157, 104), (170, 116),
    (174, 128), (182, 132), (184, 147), (161, 149), (140, 158), (127, 175), (124, 206), (119, 206), (115, 199),
    (103, 215), (76, 235), (62, 250), (44, 282), (39, 306), (26, 342), (25, 374), (19, 390), (19, 418), (24, 432),
    (23, 460), (28, 488), (19, 502), (27, 511), (299, 511), (301, 461), (305, 445), (302, 435), (303, 417),
    (299, 407), (314, 387), (312, 381), (316, 374), (330, 361), (366, 349), (360, 344), (359, 336), (362, 330),
    (357, 323), (352, 286), (347, 282), (340, 262), (318, 242), (303, 233), (299, 221), (299, 200), (287, 200),
    (255, 173), (266, 137), (275, 134), (290, 117), (300, 92), (296, 58), (288, 43), (276, 31),
)
_CROWN, _CHIN, _HEAD_X = 16, 186, 226  # her head in the photo: crown and chin rows, centre column
_EYES = ((201, 100), (247, 104))  # her eyes' centres
_HAIR_ROWS = 74  # above this row her head is hair; lower, hair only at the sides (below)
_HAIR_SIDES = (183, 270, 126)  # hair left of x0 and right of x1 down to this row


@dataclass(frozen=True)
class Person:
    """One simulated resident: the photograph altered so that a pixel comparison tells them apart."""

    hair: tuple[float, float, float] | None  # hair recoloured to this RGB (grey levels scaled), None: hers
    tone: tuple[float, float, float]  # gain per channel on skin and everything (skin tone and light)
    width: float  # face width, relative to hers
    mirrored: bool


PEOPLE = (
    Person(None, (1.0, 1.0, 1.0), 1.0, False),
    Person((0.25, 0.22, 0.22), (1.0, 0.93, 0.86), 1.1, False),
    Person((0.75, 0.75, 0.75), (0.95, 0.95, 0.97), 0.9, True),
    Person((0.3, 0.24, 0.2), (0.82, 0.74, 0.66), 1.0, True),
    Person((0.9, 0.45, 0.25), (1.04, 0.98, 0.96), 0.88, False),
    Person((0.2, 0.2, 0.24), (1.04, 1.02, 1.03), 1.12, True),
    Person(None, (0.86, 0.8, 0.72), 1.1, True),
    Person((0.15, 0.12, 0.1), (0.8, 0.72, 0.62), 0.94, False),
)


def person_of(face_key: str) -> int:
    """The index in PEOPLE of this key's person."""
    return int.from_bytes(hashlib.sha256(face_key.encode()).digest()[:4], "big") % len(PEOPLE)


PICTURES = Path(__file__).resolve().parent / "pictures"


def picture(name: str) -> Image.Image:
    """One of scikit-image's sample pictures, kept in sim/pictures (its README says whose each is
    and under what licence): the same pixels as `skimage.data.NAME()`, without the 200 MB
    scikit-image and scipy install for five pictures."""
    image = Image.open(PICTURES / f"{name}.png")
    image.load()
    return image


@functools.cache
def _photograph() -> Image.Image:
    return picture("astronaut").convert("RGB")


@functools.lru_cache(maxsize=16)
def person_layer(index: int) -> Image.Image:
    """The person cut out as RGBA, altered as PEOPLE[index] says; her head as in the photograph."""
    p = PEOPLE[index]
    img = _photograph().copy()
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).polygon(_OUTLINE, fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(1.2))  # a soft edge, as a lens gives
    if p.hair is not None:
        hair = Image.new("L", img.size, 0)
        d = ImageDraw.Draw(hair)
        d.rectangle((0, 0, img.width, _HAIR_ROWS), fill=255)
        x0, x1, bottom = _HAIR_SIDES
        d.rectangle((0, 0, x0, bottom), fill=255)
        d.rectangle((x1, 0, img.width, bottom), fill=255)
        hair = ImageChops.multiply(hair, mask).filter(ImageFilter.GaussianBlur(2))
        grey = img.convert("L").point(lambda v: min(255, round(v * 1.3)))
        tinted = Image.merge("RGB", [grey.point(lambda v, k=k: round(v * k)) for k in p.hair])
        img = Image.composite(tinted, img, hair)
    img = Image.merge("RGB", [band.point(lambda v, k=k: min(255, round(v * k)))
                              for band, k in zip(img.split(), p.tone, strict=True)])
    img.putalpha(mask)
    if p.width != 1.0:  # a wider or narrower face: stretch the head's columns about its centre
        w = round(img.width * p.width)
        img = img.resize((w, img.height), Image.Resampling.BICUBIC)
        shift = round(_HEAD_X * p.width - _HEAD_X)
        img = img.crop((shift, 0, shift + 512, img.height))
    if p.mirrored:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop((0, 0, 512, 512))
        img = _shift(img, 2 * _HEAD_X - 512)  # her head back at the same column
    return img


def _shift(img: Image.Image, dx: int) -> Image.Image:
    out = Image.new("RGBA", img.size, (0, 0, 0, 0))
    out.paste(img, (dx, 0))
    return out


def _place(canvas: Image.Image, layer: Image.Image, cx: float, crown: float, head: float,
           angle: float = 0.0) -> None:
    """Paste the person with their head `head` pixels tall, crown at `crown`, centred on `cx`."""
    k = head / (_CHIN - _CROWN)
    scaled = layer.resize((max(1, round(layer.width * k)), max(1, round(layer.height * k))),
                          Image.Resampling.BILINEAR)
    if angle:
        pivot = (_HEAD_X * k, (_CROWN + _CHIN) / 2 * k)
        scaled = scaled.rotate(angle, Image.Resampling.BILINEAR, center=pivot)
    canvas.paste(scaled, (round(cx - _HEAD_X * k), round(crown - _CROWN * k)), scaled)


def _eyes_closed(canvas: Image.Image, index: int, cx: float, crown: float, head: float) -> None:
    """Closed eyes: each eye painted over with the skin just below it, and a lash line."""
    k = head / (_CHIN - _CROWN)
    p = PEOPLE[index]
    d = ImageDraw.Draw(canvas)
    r = 11 * k
    for ex, ey in _EYES:
        x = _HEAD_X + (ex - _HEAD_X) * p.width * (-1 if p.mirrored else 1)
        px, py = cx + (x - _HEAD_X) * k, crown + (ey - _CROWN) * k
        skin = canvas.getpixel((round(px), round(py + 2.2 * r)))
        d.ellipse((px - r * 1.3, py - r * 0.75, px + r * 1.3, py + r * 0.75), fill=skin)
        d.arc((px - r * 1.1, py - r, px + r * 1.1, py + r * 0.4), 20, 160, fill=(60, 40, 34),
              width=max(1, round(k * 2)))


def reference_portrait(face_key: str) -> Image.Image:
    """The photo the authority holds for this resident: 358×441 on near-white, head about 62% of the height.
    A copy of the person's (made once a person: 20-50 ms each time before)."""
    return _portrait(person_of(face_key)).copy()


@functools.cache
def _portrait(person: int) -> Image.Image:
    w, h = PERMIT_PHOTO_SIZE
    img = Image.new("RGB", (w, h), AUTHORITY_BACKDROP)
    _place(img, person_layer(person), w / 2, 0.07 * h, 0.62 * h)
    return img


def scene(
    kind: str, face_key: str | None = None, width: int = 640, height: int = 480, *, seed: int = 0,
    offset: float = 0.0,
) -> Image.Image:
    """A camera frame of `kind` (see SCENE_KINDS); `seed` varies pose, light and sensor noise.

    `offset` moves the resident sideways by that fraction of the frame's width (a resident
    walking in or out: the camera emulator's sequences)."""
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}")
    key = face_key or "visitor"
    rng = random.Random(f"{key}|{kind}|{seed}")
    jx, jy, js = rng.uniform(-0.02, 0.02), rng.uniform(-0.015, 0.015), rng.uniform(0.96, 1.04)
    who = person_of(key)
    if kind == "busy_background":
        img = _brick_wall(width, height)
    elif kind == "backlit":
        img = Image.new("RGB", (width, height), (255, 255, 255))
    else:
        img = kiosk_backdrop(width, height, rng)
    cx = (0.5 + jx + offset) * width
    layer = person_layer(who) if kind != "nobody" else Image.new("RGBA", (1, 1))  # nobody: no photograph to load
    if kind in ("face", "too_dark", "too_bright", "blurred", "busy_background", "eyes_hidden"):
        _place(img, layer, cx, (0.12 + jy) * height, 0.45 * js * height)
        if kind == "eyes_hidden":
            _eyes_closed(img, who, cx, (0.12 + jy) * height, 0.45 * js * height)
    elif kind == "backlit":
        _place(img, _darker(layer, 0.45), cx, (0.12 + jy) * height, 0.45 * js * height)
    elif kind == "tilted":
        _place(img, layer, cx, (0.14 + jy) * height, 0.42 * js * height, angle=(22 if seed % 2 else -22))
    elif kind == "off_centre":
        _place(img, layer, ((0.2 if seed % 2 == 0 else 0.8) + jx) * width, (0.12 + jy) * height, 0.45 * js * height)
    elif kind == "too_far":
        _place(img, layer, cx, (0.27 + jy) * height, 0.25 * js * height)
    elif kind == "too_close":
        _place(img, layer, cx, 0.0, 0.8 * js * height)
    elif kind == "two_people":
        other = (who + 1 + person_of(key + "/companion") % (len(PEOPLE) - 1)) % len(PEOPLE)
        _place(img, layer, (0.27 + jx) * width, (0.16 + jy) * height, 0.34 * js * height)
        _place(img, person_layer(other), (0.73 + jx) * width, (0.18 + jy) * height, 0.32 * js * height)

    gain = rng.uniform(0.94, 1.04)
    if kind == "too_dark":
        gain *= 0.22
    elif kind == "too_bright":
        gain *= 1.9
    img = img.point([min(255, round(v * gain)) for v in range(256)] * 3)
    if kind == "blurred":
        img = img.filter(ImageFilter.GaussianBlur(width / 110))
    return ImageChops.add(img, sensor_noise(width, height, rng), scale=1.0, offset=-128)


def _brick_wall(width: int, height: int) -> Image.Image:
    """A brick wall behind the resident: scikit-image's `brick()` (CC0), warmed to a brick colour."""
    grey = picture("brick").convert("L").resize((width, width), Image.Resampling.BILINEAR)
    grey = grey.crop((0, 0, width, height))
    return Image.merge("RGB", [grey.point(lambda v, k=k: round(v * k)) for k in (1.0, 0.72, 0.6)])


def _darker(layer: Image.Image, k: float) -> Image.Image:
    r, g, b, a = layer.split()
    return Image.merge("RGBA", [c.point(lambda v: round(v * k)) for c in (r, g, b)] + [a])


def sensor_noise(width: int, height: int, rng: random.Random) -> Image.Image:
    """Sensor noise around 128 (uniform, about 4 levels rms), a fresh pattern per seed: a seeded tile repeated."""
    tile = Image.frombytes("L", (256, 256), rng.randbytes(256 * 256))
    tile = tile.point([128 + round((v - 128) * 7 / 128) for v in range(256)]).convert("RGB")
    noise = Image.new("RGB", (width, height))
    for y in range(0, height, 256):
        for x in range(0, width, 256):
            noise.paste(tile, (x, y))
    return noise


def kiosk_backdrop(width: int, height: int, rng: random.Random) -> Image.Image:
    """The kiosk backdrop, lit a little unevenly from above: the bilinear resize of a 64-pixel
    column, done on the column and then widened (the same pixels: each row is one colour; 0.3 ms
    a camera frame instead of 3)."""
    column = backdrop_column(rng).resize((1, height), Image.Resampling.BILINEAR)
    return column.resize((width, height), Image.Resampling.NEAREST)


def backdrop_column(rng: random.Random) -> Image.Image:
    k = rng.uniform(0.98, 1.02)
    top = tuple(min(255, round(c * k)) for c in KIOSK_BACKDROP)
    bottom = tuple(round(c * 0.95) for c in top)
    column = Image.new("RGB", (1, 64))
    for y in range(64):
        column.putpixel((0, y), tuple(round(a + (b - a) * y / 63) for a, b in zip(top, bottom, strict=True)))
    return column


# --- the face-service stand-in ------------------------------------------------------

_THUMB = 16
# Calibrated on PEOPLE, 4 camera frames each through the kiosk's crop, against all 8 portraits
# (tests/unit/test_faces.py): own portrait 0.53 or more, anyone else's -0.15 or less.
MATCH_THRESHOLD = 0.2


@dataclass(frozen=True)
class FaceSignature:
    detail: tuple[float, ...]  # zero-mean, unit-length high-pass grey thumbnail of the face
    colours: tuple[float, ...]  # mean RGB of the hair above the brows and of each cheek


@functools.cache
def _cascade() -> Any:
    import cv2

    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")


def warm_up() -> None:
    """Load the photograph and OpenCV's cascade now (0.3-0.5 s), not in the first face match's reply."""
    _photograph()
    _cascade()


def warm_references() -> None:
    """Every person's reference portrait, made now (about 0.2 s for all): the test suite's fork
    server does this once, before it forks the emulators and backends. Not their signatures:
    OpenCV's detection starts a thread pool, and the server must fork with one thread."""
    for person in range(len(PEOPLE)):
        _portrait(person)


def face_signature(img: Image.Image) -> FaceSignature | None:
    """What the stand-in compares, from a permit photo or a camera frame; None unless exactly one face."""
    import numpy

    img = img.convert("RGB")
    gray = numpy.asarray(img.convert("L"))
    found = _cascade().detectMultiScale(gray, 1.1, 5, minSize=(max(24, img.height // 8),) * 2)
    if len(found) != 1:
        return None
    x, y, w, h = (int(v) for v in found[0])
    face = img.crop((x, y, x + w, y + h)).convert("L").resize((_THUMB, _THUMB), Image.Resampling.BOX)
    detail = ImageChops.subtract(face, face.filter(ImageFilter.GaussianBlur(1.5)), 1, 128).tobytes()
    mean = sum(detail) / len(detail)
    centred = [v - mean for v in detail]
    norm = math.sqrt(sum(v * v for v in centred)) or 1.0
    # Mean colours of large areas, which a box a few pixels off hardly moves: the hair above
    # the brows, and the skin of both cheeks.
    areas = ((0.25, -0.4, 0.75, -0.08), (0.12, 0.5, 0.35, 0.7), (0.65, 0.5, 0.88, 0.7))
    colours: list[float] = []
    for a, b, c, e in areas:
        patch = img.crop((round(x + a * w), round(y + b * h), round(x + c * w), round(y + e * h)))
        colours += [float(v) for v in patch.resize((1, 1), Image.Resampling.BOX).tobytes()]
    return FaceSignature(detail=tuple(v / norm for v in centred), colours=tuple(colours))


def similarity(a: FaceSignature, b: FaceSignature) -> float:
    """Correlation of the detail thumbnails, less a penalty for different colouring."""
    detail = sum(x * y for x, y in zip(a.detail, b.detail, strict=True))
    colour = math.sqrt(sum((x - y) ** 2 for x, y in zip(a.colours, b.colours, strict=True)) / len(a.colours))
    return detail - 0.04 * colour


def same_person(live: Image.Image, reference: Image.Image) -> tuple[bool, float]:
    """(match, score): does `live` (the permit photo, or a camera frame) show the person in `reference`?"""
    return _match(face_signature(live), face_signature(reference))


def matches_reference(live: Image.Image, face_key: str) -> tuple[bool, float]:
    """same_person against this key's reference portrait, whose signature is made once a person
    (the face service compares with the photo it holds: 20-25 ms of each check before)."""
    return _match(face_signature(live), _reference_signature(person_of(face_key)))


@functools.cache
def _reference_signature(person: int) -> FaceSignature | None:
    return face_signature(_portrait(person))


def _match(a: FaceSignature | None, b: FaceSignature | None) -> tuple[bool, float]:
    if a is None or b is None:
        return False, 0.0
    score = similarity(a, b)
    return score >= MATCH_THRESHOLD, score
