"""Synthetic residents' faces for the simulators, and a stand-in for the backend's face service.

Every face is drawn from a key string (the simulated resident's `face` in a scenario):
the key seeds skin tone, face shape, hair style and colour, eye spacing and size, brows,
nose, mouth, glasses, beard and moles, so that one key always gives the same person and
different keys give clearly different people. `reference_portrait` is the photo the
authority holds (358×441, white backdrop, studio framing); `scene` is what the kiosk's
camera sees (640×480 on the kiosk's light blue-grey backdrop), in the good case and in
every case the photo checks must refuse.

`same_person` stands in for the real face-comparison service. It is honest: it never
sees a key, it compares pixels. A camera frame is first cropped as the kiosk crops it;
then each image's head is located by the kiosk's own backdrop-silhouette detector, the
backdrop is blanked out, and the two heads are compared by three measures: normalised
cross-correlation of a high-pass 24×32 grey thumbnail (where the eyes, brows, nose,
mouth, glasses and hairline are, insensitive to exposure), the distance between the
mean colours of a 3×4 grid (skin, hair, beard), and the head's height-to-width ratio.
So the simulated backend accepts a live photo only when the camera really showed that
resident's face; a scenario that shows someone else's face, nobody, or two people fails
the way the real service would make it fail. The threshold is calibrated on these
synthetic faces (150 keys: own photo scores 0.50 or more, anyone else's 0.40 or less;
tests/unit/test_faces.py checks 50 keys against each other); it says nothing about real
faces, and a caller comparing many photos can keep `face_signature`s and use `similarity`.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

from kiosk.photo import PERMIT_PHOTO_SIZE, PlainBackgroundDetector, portrait
from sim import faces as _faces
from sim.faces import AUTHORITY_BACKDROP, kiosk_backdrop, sensor_noise

# The backdrops and the first scene kinds are the real-photograph faces' (sim/faces.py): a scenario
# can switch between the two kinds of face without its scenes changing meaning.
SCENE_KINDS = _faces.SCENE_KINDS[: _faces.SCENE_KINDS.index("too_close") + 1]

_SKIN = ((255, 224, 196), (241, 194, 160), (224, 172, 135), (198, 140, 100), (161, 110, 75), (110, 74, 50))
_HAIR = (
    (22, 18, 18),
    (40, 30, 26),
    (62, 42, 30),
    (98, 66, 40),
    (128, 56, 32),
    (150, 146, 142),
    (196, 164, 98),
)
_HAIR_WEIGHTS = (30, 20, 16, 10, 6, 10, 4)
_IRIS = ((40, 26, 18), (70, 44, 26), (20, 16, 14), (96, 80, 40), (60, 90, 120))
_CLOTHES = (
    (30, 38, 64),
    (24, 24, 28),
    (96, 96, 100),
    (110, 30, 40),
    (30, 80, 50),
    (150, 110, 70),
    (70, 40, 100),
)
_FRAMES = ((20, 20, 20), (92, 56, 30), (180, 150, 60), (150, 30, 40))
_STYLES = ("short", "side_part", "fringe", "bob", "bun", "buzz", "bald", "curly")


@dataclass(frozen=True)
class FaceParams:
    """One synthetic person; lengths are fractions of the face's height or width."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    style: str
    hair_volume: float  # hair above the forehead, fraction of the head height
    hairline: float  # forehead height, fraction of the face height
    part_slant: float
    face_ratio: float  # face width / face height
    squareness: float  # superellipse exponent of the outline
    jaw_taper: float
    eye_y: float
    eye_spacing: float
    eye_size: float
    eye_open: float
    iris: tuple[int, int, int]
    brow_thick: float
    brow_tilt: float
    nose_len: float
    nose_w: float
    mouth_w: float
    lip: float
    smile: float
    ear: float
    glasses: str  # "", "round", "square"
    frame: tuple[int, int, int]
    beard: bool
    mole: tuple[float, float] | None
    clothes: tuple[int, int, int]
    shoulders: float  # shoulder width / face width


def face_params(face_key: str) -> FaceParams:
    rng = random.Random(int.from_bytes(hashlib.sha256(face_key.encode()).digest()[:8], "big"))
    t = rng.random() * (len(_SKIN) - 1)
    lo, hi = _SKIN[int(t)], _SKIN[min(int(t) + 1, len(_SKIN) - 1)]
    f = t - int(t)
    skin = tuple(
        max(0, min(255, round(a + (b - a) * f + rng.uniform(-6, 6)))) for a, b in zip(lo, hi, strict=True)
    )
    style = rng.choice(_STYLES)
    hair = rng.choices(_HAIR, weights=_HAIR_WEIGHTS)[0]
    volume = {"bald": 0.0, "buzz": 0.03, "bun": rng.uniform(0.2, 0.26), "curly": rng.uniform(0.14, 0.2)}.get(
        style, rng.uniform(0.08, 0.15)
    )
    hairline = {"fringe": rng.uniform(0.22, 0.27), "bob": rng.uniform(0.18, 0.26)}.get(
        style, rng.uniform(0.08, 0.17)
    )
    glasses = rng.choices(("", "round", "square"), weights=(60, 20, 20))[0]
    return FaceParams(
        skin=skin,  # type: ignore[arg-type]
        hair=hair,
        style=style,
        hair_volume=volume,
        hairline=hairline,
        part_slant=rng.uniform(-0.12, 0.12) if style == "side_part" else rng.uniform(-0.02, 0.02),
        face_ratio=rng.uniform(0.64, 0.8),
        squareness=rng.uniform(2.0, 3.4),
        jaw_taper=rng.uniform(0.0, 0.35),
        eye_y=rng.uniform(0.42, 0.5),
        eye_spacing=rng.uniform(0.18, 0.25),
        eye_size=rng.uniform(0.13, 0.19),
        eye_open=rng.uniform(0.35, 0.6),
        iris=rng.choice(_IRIS),
        brow_thick=rng.uniform(0.018, 0.045),
        brow_tilt=rng.uniform(-0.25, 0.25),
        nose_len=rng.uniform(0.17, 0.25),
        nose_w=rng.uniform(0.15, 0.25),
        mouth_w=rng.uniform(0.3, 0.46),
        lip=rng.uniform(0.02, 0.05),
        smile=rng.uniform(-0.01, 0.04),
        ear=rng.uniform(0.12, 0.19),
        glasses=glasses,
        frame=rng.choice(_FRAMES),
        beard=rng.random() < 0.18,
        mole=(rng.uniform(-0.3, 0.3), rng.uniform(0.5, 0.75)) if rng.random() < 0.3 else None,
        clothes=rng.choice(_CLOTHES),
        shoulders=rng.uniform(2.1, 2.5),
    )


def _shade(c: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (min(255, round(c[0] * k)), min(255, round(c[1] * k)), min(255, round(c[2] * k)))


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def draw_person(img: Image.Image, p: FaceParams, cx: float, crown: float, head_h: float) -> None:
    """Draw a head-and-shoulders figure whose head spans `crown`..`crown + head_h` at centre `cx`."""
    d = ImageDraw.Draw(img)
    hair_h = head_h * p.hair_volume
    face_h = head_h - hair_h
    top = crown + hair_h  # top of the face (forehead)
    chin = crown + head_h
    a = face_h * p.face_ratio / 2
    b = face_h / 2
    fy = top + b

    # Body and neck first: everything else is drawn over them.
    sw = 2 * a * p.shoulders
    sh_top = chin + 0.2 * head_h
    d.ellipse((cx - sw / 2, sh_top, cx + sw / 2, sh_top + sw * 0.9), fill=p.clothes)
    neck_w = a * 0.9
    d.rectangle(
        (cx - neck_w / 2, chin - 0.15 * face_h, cx + neck_w / 2, sh_top + 0.12 * head_h),
        fill=_shade(p.skin, 0.86),
    )
    d.polygon(
        [
            (cx - neck_w / 2, sh_top + 0.02 * head_h),
            (cx + neck_w / 2, sh_top + 0.02 * head_h),
            (cx, sh_top + 0.22 * head_h),
        ],
        fill=_shade(p.skin, 0.86),
    )

    cap = (cx - a * 1.07, crown, cx + a * 1.07, top + face_h * 0.62)
    ears = _ears(p, cx, a, top, face_h)
    if p.style == "bob":
        _fill_ears(d, ears, p.skin)
        d.rounded_rectangle(
            (cx - a * 1.22, crown, cx + a * 1.22, chin - 0.1 * face_h), radius=a * 0.9, fill=p.hair
        )
    elif p.style == "bald":
        _fill_ears(d, ears, p.skin)
        for side in (-1, 1):
            d.ellipse(
                (
                    cx + side * a * 0.97 - a * 0.1,
                    top + 0.3 * face_h,
                    cx + side * a * 0.97 + a * 0.1,
                    top + 0.55 * face_h,
                ),
                fill=p.hair,
            )
    else:
        if p.style == "curly":
            r = a * 0.22
            for k in range(11):
                ang = math.pi * (1 + k / 10)
                ex = cx + math.cos(ang) * a * 1.05
                ey = (crown + top + face_h * 0.62) / 2 + math.sin(ang) * (
                    (top + face_h * 0.62 - crown) / 2 - r
                )
                d.ellipse((ex - r, ey - r, ex + r, ey + r), fill=p.hair)
        hair = p.hair if p.style != "buzz" else _mix(p.hair, p.skin, 0.35)
        d.ellipse(cap, fill=hair)
        _fill_ears(d, ears, p.skin)
    if p.style == "bun":
        r = 0.11 * head_h
        d.ellipse((cx - r, crown, cx + r, crown + 2 * r), fill=p.hair)

    outline = _outline(p, cx, fy, a, b)
    d.polygon(outline, fill=p.skin)
    if p.style != "bald":
        _front_hair(img, p, cx, a, cap, top, face_h)
    _features(d, p, cx, a, top, face_h, chin)


def _ears(
    p: FaceParams, cx: float, a: float, top: float, face_h: float
) -> list[tuple[float, float, float, float]]:
    ey = top + face_h * (p.eye_y + 0.04)
    eh, ew = face_h * p.ear, face_h * p.ear * 0.55
    return [
        (cx + s * a * 0.97 - ew / 2, ey - eh / 2, cx + s * a * 0.97 + ew / 2, ey + eh / 2) for s in (-1, 1)
    ]


def _fill_ears(
    d: ImageDraw.ImageDraw, ears: list[tuple[float, float, float, float]], skin: tuple[int, int, int]
) -> None:
    for e in ears:
        d.ellipse(e, fill=_shade(skin, 0.93))


def _outline(p: FaceParams, cx: float, fy: float, a: float, b: float) -> list[tuple[float, float]]:
    pts = []
    e = 2 / p.squareness
    for k in range(64):
        th = 2 * math.pi * k / 64
        c, s = math.cos(th), math.sin(th)
        x = a * math.copysign(abs(c) ** e, c)
        y = b * math.copysign(abs(s) ** e, s)
        if y > 0:
            x *= 1 - p.jaw_taper * (y / b) ** 2
        pts.append((cx + x, fy + y))
    return pts


def _front_hair(
    img: Image.Image,
    p: FaceParams,
    cx: float,
    a: float,
    cap: tuple[float, float, float, float],
    top: float,
    face_h: float,
) -> None:
    """Hair over the forehead: the cap's area above the hairline, pasted through a mask."""
    w, h = img.size
    cap_mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(cap_mask).ellipse(cap, fill=255)
    above = Image.new("L", (w, h), 0)
    base = top + face_h * p.hairline
    line = [
        (cx + a * 1.2 * u, base + face_h * (p.part_slant * u - 0.05 * (1 - u * u)))
        for u in (i / 12 - 1 for i in range(25))
    ]
    ImageDraw.Draw(above).polygon([(cx - a * 1.3, 0), (cx + a * 1.3, 0), *reversed(line)], fill=255)
    colour = p.hair if p.style != "buzz" else _mix(p.hair, p.skin, 0.35)
    img.paste(colour, mask=ImageChops.multiply(cap_mask, above))


def _features(
    d: ImageDraw.ImageDraw, p: FaceParams, cx: float, a: float, top: float, face_h: float, chin: float
) -> None:
    fw = 2 * a
    ey = top + face_h * p.eye_y
    ew = fw * p.eye_size
    eh = ew * p.eye_open
    dx = fw * p.eye_spacing
    brow = _shade(p.hair, 0.7) if sum(p.hair) < 400 else _shade(p.hair, 0.55)
    bt = face_h * p.brow_thick
    for s in (-1, 1):
        ex = cx + s * dx
        d.ellipse((ex - ew / 2, ey - eh / 2, ex + ew / 2, ey + eh / 2), fill=(244, 244, 238))
        r = eh * 0.48
        d.ellipse((ex - r, ey - r, ex + r, ey + r), fill=p.iris)
        d.ellipse((ex - r / 2, ey - r / 2, ex + r / 2, ey + r / 2), fill=(10, 10, 10))
        d.arc(
            (ex - ew / 2, ey - eh / 2, ex + ew / 2, ey + eh / 2),
            180,
            360,
            fill=_shade(p.skin, 0.5),
            width=max(1, round(eh * 0.15)),
        )
        by = ey - eh / 2 - face_h * 0.06
        inner, outer = ex - s * ew * 0.6, ex + s * ew * 0.65
        tilt = p.brow_tilt * ew * 0.5
        d.polygon(
            [(inner, by + tilt), (outer, by - tilt), (outer, by - tilt + bt * 0.7), (inner, by + tilt + bt)],
            fill=brow,
        )

    nose_top, nose_bot = ey + face_h * 0.04, ey + face_h * p.nose_len
    nw = fw * p.nose_w
    dark = _shade(p.skin, 0.8)
    d.polygon(
        [
            (cx - nw * 0.12, nose_top),
            (cx + nw * 0.12, nose_top),
            (cx + nw / 2, nose_bot),
            (cx - nw / 2, nose_bot),
        ],
        fill=_shade(p.skin, 0.92),
    )
    for s in (-1, 1):
        nx = cx + s * nw * 0.22
        d.ellipse((nx - nw * 0.12, nose_bot - nw * 0.1, nx + nw * 0.12, nose_bot + nw * 0.04), fill=dark)

    my = nose_bot + (chin - nose_bot) * 0.38
    mw = fw * p.mouth_w
    lt = face_h * p.lip
    curve = face_h * p.smile
    lips = (min(255, round(p.skin[0] * 0.95)), round(p.skin[1] * 0.6), round(p.skin[2] * 0.62))
    upper = [
        (cx - mw / 2, my - curve),
        (cx - mw / 4, my - lt * 0.8),
        (cx, my - lt * 0.6),
        (cx + mw / 4, my - lt * 0.8),
        (cx + mw / 2, my - curve),
        (cx, my + curve * 0.3),
    ]
    lower = [
        (cx - mw / 2, my - curve),
        (cx, my + curve * 0.3),
        (cx + mw / 2, my - curve),
        (cx + mw / 4, my + lt),
        (cx - mw / 4, my + lt),
    ]
    d.polygon(upper, fill=lips)
    d.polygon(lower, fill=_shade(lips, 1.08))
    d.line(
        [(cx - mw / 2, my - curve), (cx, my + curve * 0.3), (cx + mw / 2, my - curve)],
        fill=_shade(lips, 0.55),
        width=max(1, round(lt * 0.3)),
    )

    if p.beard:
        d.polygon(
            [
                (cx - mw * 0.6, my - lt * 0.9),
                (cx + mw * 0.6, my - lt * 0.9),
                (cx + mw * 0.45, my - lt * 2.2),
                (cx - mw * 0.45, my - lt * 2.2),
            ],
            fill=p.hair,
        )
        d.polygon(
            [
                (cx - mw * 0.55, my + lt * 1.4),
                (cx + mw * 0.55, my + lt * 1.4),
                (cx + mw * 0.3, chin - 1),
                (cx - mw * 0.3, chin - 1),
            ],
            fill=p.hair,
        )
    if p.mole is not None:
        mx, mv = cx + p.mole[0] * fw, top + p.mole[1] * face_h
        r = max(1.0, face_h * 0.012)
        d.ellipse((mx - r, mv - r, mx + r, mv + r), fill=(70, 45, 35))
    if p.glasses:
        lw = max(1, round(face_h * 0.014))
        gw, gh = ew * 1.7, ew * 1.25
        for s in (-1, 1):
            ex = cx + s * dx
            box = (ex - gw / 2, ey - gh / 2, ex + gw / 2, ey + gh / 2)
            if p.glasses == "round":
                d.ellipse(box, outline=p.frame, width=lw)
            else:
                d.rounded_rectangle(box, radius=gh * 0.2, outline=p.frame, width=lw)
            d.line(
                [(ex + s * gw / 2, ey - gh * 0.2), (cx + s * a * 0.98, ey - gh * 0.1)], fill=p.frame, width=lw
            )
        d.line(
            [(cx - dx + gw / 2, ey - gh * 0.15), (cx + dx - gw / 2, ey - gh * 0.15)], fill=p.frame, width=lw
        )


def reference_portrait(face_key: str) -> Image.Image:
    """The photo the authority holds for this resident: 358×441 on white, head about 62% of the height."""
    w, h = PERMIT_PHOTO_SIZE
    img = Image.new("RGB", (w, h), AUTHORITY_BACKDROP)
    head_h = 0.62 * h
    draw_person(img, face_params(face_key), w / 2, 0.07 * h, head_h)
    return img


def scene(
    kind: str, face_key: str | None = None, width: int = 640, height: int = 480, *, seed: int = 0
) -> Image.Image:
    """A camera frame of `kind` (see SCENE_KINDS); `seed` varies pose, light and sensor noise."""
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}")
    key = face_key or "visitor"
    rng = random.Random(f"{key}|{kind}|{seed}")
    img = kiosk_backdrop(width, height, rng)
    jx, jy, js = rng.uniform(-0.02, 0.02), rng.uniform(-0.015, 0.015), rng.uniform(0.96, 1.04)
    person = face_params(key)
    if kind in ("face", "too_dark", "too_bright", "blurred"):
        _place(img, person, 0.5 + jx, 0.12 + jy, 0.45 * js)
    elif kind == "off_centre":
        _place(img, person, (0.2 if seed % 2 == 0 else 0.8) + jx, 0.12 + jy, 0.45 * js)
    elif kind == "too_far":
        _place(img, person, 0.5 + jx, 0.3 + jy, 0.16 * js)
    elif kind == "too_close":
        _place(img, person, 0.5 + jx, 0.03, 0.8 * js)
    elif kind == "two_people":
        _place(img, person, 0.25 + jx, 0.16 + jy, 0.32 * js)
        _place(img, face_params(key + "/companion"), 0.75 + jx, 0.18 + jy, 0.3 * js)

    gain = rng.uniform(0.94, 1.04)
    if kind == "too_dark":
        gain *= 0.22
    elif kind == "too_bright":
        gain *= 1.9
    img = img.point([min(255, round(v * gain)) for v in range(256)] * 3)
    if kind == "blurred":
        img = img.filter(ImageFilter.GaussianBlur(width / 110))
    return ImageChops.add(img, sensor_noise(width, height, rng), scale=1.0, offset=-128)


def _place(img: Image.Image, p: FaceParams, cx: float, crown: float, head: float) -> None:
    w, h = img.size
    draw_person(img, p, cx * w, crown * h, head * h)


# --- the face-service stand-in ------------------------------------------------------

# Finer than the kiosk's own check: the box is found on a 213-wide grid (a third of 640).
_DETECTOR = PlainBackgroundDetector(work_width=213)
_THUMB = (24, 32)
_COLOUR_CELLS = (3, 4)
_BACKDROP_DIFF = 40
# Calibrated on 150 synthetic faces: own photo 0.50 or more, anyone else's 0.40 or less.
MATCH_THRESHOLD = 0.45


@dataclass(frozen=True)
class FaceSignature:
    detail: tuple[float, ...]  # zero-mean, unit-length high-pass gray thumbnail of the head
    colours: bytes  # mean RGB of a 3×4 grid over the head (skin, hair, beard where they are)
    aspect: float  # head height / width


def face_signature(img: Image.Image) -> FaceSignature | None:
    """What the stand-in compares, from a permit photo or a camera frame; None unless exactly one head.

    A camera frame is first cropped as the kiosk would crop it, so that both sides are
    compared at the same framing.
    """
    img = img.convert("RGB")
    if abs(img.width / img.height - PERMIT_PHOTO_SIZE[0] / PERMIT_PHOTO_SIZE[1]) > 0.02:
        boxes = _DETECTOR.detect(img)
        if len(boxes) != 1:
            return None
        photo = portrait(img.width, img.height, img.tobytes(), boxes[0])
        img = Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)
    boxes = _DETECTOR.detect(img)
    if len(boxes) != 1:
        return None
    left, top, right, bottom = boxes[0]
    head = _without_backdrop(img, boxes[0])
    gray = head.resize(_THUMB, Image.Resampling.BOX).convert("L")
    # High-pass: the features' positions and shapes, not the overall light.
    detail = ImageChops.subtract(gray, gray.filter(ImageFilter.GaussianBlur(1.5)), 1, 128).tobytes()
    mean = sum(detail) / len(detail)
    centred = [v - mean for v in detail]
    norm = math.sqrt(sum(v * v for v in centred)) or 1.0
    return FaceSignature(
        detail=tuple(v / norm for v in centred),
        colours=head.resize(_COLOUR_CELLS, Image.Resampling.BOX).tobytes(),
        aspect=(bottom - top) / max(1, right - left),
    )


def _without_backdrop(img: Image.Image, box: tuple[int, int, int, int]) -> Image.Image:
    """The head crop with backdrop pixels set to mid-grey, so the two backdrops do not count."""
    w = img.width
    corners = [ImageStat.Stat(img.crop(c)).mean for c in ((0, 0, 8, 8), (w - 8, 0, w, 8))]
    backdrop = tuple(round((a + b) / 2) for a, b in zip(*corners, strict=True))
    crop = img.crop(box)
    r, g, b = ImageChops.difference(crop, Image.new("RGB", crop.size, backdrop)).split()
    mask = ImageChops.lighter(ImageChops.lighter(r, g), b).point(lambda v: 255 if v > _BACKDROP_DIFF else 0)
    out = Image.new("RGB", crop.size, (128, 128, 128))
    out.paste(crop, mask=mask)
    return out


def similarity(a: FaceSignature, b: FaceSignature) -> float:
    """Correlation of the detail thumbnails, less penalties for different colouring and head shape."""
    detail = sum(x * y for x, y in zip(a.detail, b.detail, strict=True))
    colour = math.sqrt(sum((x - y) ** 2 for x, y in zip(a.colours, b.colours, strict=True)) / len(a.colours))
    shape = abs(math.log(a.aspect / b.aspect))
    return detail - 0.03 * colour - 12 * shape


def same_person(live: Image.Image, reference: Image.Image) -> tuple[bool, float]:
    """(match, score): does `live` (the permit photo, or a camera frame) show the person in `reference`?"""
    a, b = face_signature(live), face_signature(reference)
    if a is None or b is None:
        return False, 0.0
    score = similarity(a, b)
    return score >= MATCH_THRESHOLD, score
