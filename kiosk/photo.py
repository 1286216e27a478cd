"""Quality checks and crop for the permit photo, in pure pillow.

A frame from the camera is checked before anything is sent to the backend: exposure
(mean luminance and clipped highlights), exactly one face, its size and position, and
sharpness (an edge measure on the face, normalised by its contrast so that lighting does
not move the threshold). An accepted frame is cropped around the face to the permit photo
(358×441 px: 26×32 mm at 350 dpi).

Photos live in memory only: nothing here touches the disk.

Face boxes are `(left, top, right, bottom)` in frame pixels, as pillow's `crop` takes
them, and cover the whole head: crown (hair included) to chin, side to side. A detector
plug-in whose boxes cover less (OpenCV's Haar cascades box eyebrows to mouth) must widen
them to that convention before returning them.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from PIL import Image, ImageChops, ImageFilter, ImageOps, ImageStat

from kiosk.view import Photo

Box = tuple[int, int, int, int]

PERMIT_PHOTO_SIZE = (358, 441)  # 26×32 mm at 350 dpi

# The head's share of the permit photo's height, and the gap above the crown: about what
# the second-generation ID photo asks for (head about 207 px wide on a 358 px photo).
_HEAD_IN_PHOTO = 0.62
_CROWN_MARGIN = 0.06

# Acceptance limits, as fractions of the frame. The upper size limit is what still lets
# the permit crop fit inside the frame without padding.
_MIN_MEAN_LUMA = 60.0
_MAX_MEAN_LUMA = 235.0
_MAX_CLIPPED = 0.30  # share of pixels at 250 or more
_MIN_FACE_LUMA = 50.0  # a backlit face on a bright backdrop
_MIN_HEAD = 0.30
_MAX_HEAD = 0.62
_MAX_OFF_CENTRE_X = 0.12
_CENTRE_Y_RANGE = (0.18, 0.58)
_MIN_SHARPNESS = 0.17
_SHARPNESS_HEIGHT = 48  # the face is measured at this height, so distance does not matter

_RUN = re.compile(b"\x01+")
_LAPLACIAN = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)


class PhotoProblem(StrEnum):
    NO_FACE = "no_face"
    TWO_FACES = "two_faces"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    BLURRED = "blurred"
    OFF_CENTRE = "off_centre"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class PhotoCheck:
    problem: PhotoProblem | None
    # The one face when there is exactly one (also with a size or position problem, so the
    # screen can say which way to move); None otherwise.
    face_box: Box | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class FaceDetector(Protocol):
    def detect(self, img: Image.Image) -> list[Box]: ...


@dataclass(frozen=True)
class PlainBackgroundDetector:
    """Finds heads as silhouettes against the kiosk's plain backdrop.

    A stand-in until an OpenCV Haar-cascade plug-in is added: it does not recognise a face
    at all, it finds head-and-shoulders shapes that differ from the backdrop colour. It
    works because the kiosk photographs against a plain backdrop; it is fooled by a
    patterned backdrop, a coat the colour of the backdrop, long hair hiding the neck, or two
    people whose shoulders touch (seen as one person). The backdrop colour is the most
    common colour on the top and side borders, so a body cut by the bottom edge or a head
    touching the top does not shift it.
    """

    work_width: int = 96  # the silhouette is found on a frame scaled down to this width
    threshold: int = 32  # largest channel difference from the backdrop still counted as backdrop
    min_head: float = 0.05  # smaller heads (fraction of frame height) are noise

    def detect(self, img: Image.Image) -> list[Box]:
        width, height = img.size
        sw = min(self.work_width, width)
        sh = max(1, round(height * sw / width))
        small = img.convert("RGB").resize((sw, sh), Image.Resampling.BOX)
        mask = _foreground(small, _backdrop(small), self.threshold)
        sx, sy = width / sw, height / sh
        boxes: list[Box] = []
        for rows in _components(mask, sw, sh):
            left, top, right, bottom = _head(rows)
            h, w = bottom - top + 1, right - left + 1
            if h < max(3, self.min_head * sh) or not 0.8 <= h / w <= 2.4:
                continue
            boxes.append(
                (round(left * sx), round(top * sy), round((right + 1) * sx), round((bottom + 1) * sy))
            )
        return boxes


def _backdrop(small: Image.Image) -> tuple[int, int, int]:
    """Most common (quantised) colour on the top and side borders, averaged over its pixels."""
    w, h = small.size
    px = small.load()
    assert px is not None  # an RGB image always loads

    def rgb(x: int, y: int) -> tuple[int, int, int]:
        value = px[x, y]
        assert isinstance(value, tuple)
        return value[0], value[1], value[2]

    border = [rgb(x, 0) for x in range(w)]
    border += [rgb(0, y) for y in range(1, h)] + [rgb(w - 1, y) for y in range(1, h)]
    buckets = Counter((r >> 4, g >> 4, b >> 4) for r, g, b in border)
    best = buckets.most_common(1)[0][0]
    chosen = [p for p in border if (p[0] >> 4, p[1] >> 4, p[2] >> 4) == best]
    n = len(chosen)
    return (sum(p[0] for p in chosen) // n, sum(p[1] for p in chosen) // n, sum(p[2] for p in chosen) // n)


def _foreground(small: Image.Image, backdrop: tuple[int, int, int], threshold: int) -> bytes:
    diff = ImageChops.difference(small, Image.new("RGB", small.size, backdrop))
    r, g, b = diff.split()
    biggest = ImageChops.lighter(ImageChops.lighter(r, g), b)
    return biggest.point(lambda v: 1 if v > threshold else 0).tobytes()


def _components(mask: bytes, w: int, h: int) -> list[dict[int, tuple[int, int]]]:
    """4-connected foreground regions, each as {row: (leftmost x, rightmost x)}.

    Labelled run by run (a row holds a handful of runs), not pixel by pixel: pure Python
    stays fast at any working size.
    """
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    runs: list[tuple[int, int, int]] = []  # (row, first x, last x), index = run label
    previous: list[int] = []
    for y in range(h):
        row = mask[y * w : (y + 1) * w]
        current = []
        for m in _RUN.finditer(row):
            x0, x1 = m.start(), m.end() - 1
            label = len(runs)
            runs.append((y, x0, x1))
            parent.append(label)
            for other in previous:
                _, p0, p1 = runs[other]
                if p0 <= x1 and x0 <= p1:
                    ra, rb = find(label), find(other)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
            current.append(label)
        previous = current
    regions: dict[int, dict[int, tuple[int, int]]] = {}
    for label, (y, x0, x1) in enumerate(runs):
        rows = regions.setdefault(find(label), {})
        lo_hi = rows.get(y)
        rows[y] = (x0, x1) if lo_hi is None else (min(lo_hi[0], x0), max(lo_hi[1], x1))
    return list(regions.values())


def _head(rows: dict[int, tuple[int, int]]) -> Box:
    """The head of a head-and-shoulders silhouette: from its top down to where it narrows to the neck.

    Walking down, the width grows over the head, shrinks to the neck, then grows again
    at the shoulders; the chin is the first row after the widest head row that is about as
    narrow as the neck. With no neck in sight the head is taken as at most 1.4 times as
    tall as it is wide.
    """
    ys = sorted(rows)  # contiguous: a 4-connected region has no empty row inside it
    widths = [rows[y][1] - rows[y][0] + 1 for y in ys]
    peak, peak_i, neck_i = 0, 0, None
    for i, wi in enumerate(widths):
        if neck_i is None:
            if wi >= peak:
                peak, peak_i = wi, i
            elif wi <= 0.75 * peak:
                neck_i = i
        elif wi < widths[neck_i]:
            neck_i = i
        elif wi > 1.5 * widths[neck_i]:
            break
    if neck_i is None:
        last = min(len(ys) - 1, round(1.4 * peak))
    else:
        neck = widths[neck_i]
        last = next(i for i in range(peak_i, neck_i + 1) if widths[i] <= 1.2 * neck)
    head_rows = ys[: last + 1]
    left = min(rows[y][0] for y in head_rows)
    right = max(rows[y][1] for y in head_rows)
    return left, ys[0], right, ys[last]


_DEFAULT_DETECTOR = PlainBackgroundDetector()


def check_photo(
    width: int, height: int, rgb: bytes, detector: FaceDetector = _DEFAULT_DETECTOR
) -> PhotoCheck:
    img = Image.frombytes("RGB", (width, height), rgb)
    gray = img.convert("L")
    mean = ImageStat.Stat(gray).mean[0]
    if mean < _MIN_MEAN_LUMA:
        return PhotoCheck(PhotoProblem.TOO_DARK, None)
    clipped = sum(gray.histogram()[250:]) / (width * height)
    if mean > _MAX_MEAN_LUMA or clipped > _MAX_CLIPPED:
        return PhotoCheck(PhotoProblem.TOO_BRIGHT, None)

    faces = detector.detect(img)
    if not faces:
        return PhotoCheck(PhotoProblem.NO_FACE, None)
    if len(faces) > 1:
        return PhotoCheck(PhotoProblem.TWO_FACES, None)
    box = faces[0]
    left, top, right, bottom = box

    head = (bottom - top) / height
    if head < _MIN_HEAD:
        return PhotoCheck(PhotoProblem.TOO_SMALL, box)
    if head > _MAX_HEAD:
        return PhotoCheck(PhotoProblem.TOO_LARGE, box)
    cx, cy = (left + right) / 2 / width, (top + bottom) / 2 / height
    if abs(cx - 0.5) > _MAX_OFF_CENTRE_X or not _CENTRE_Y_RANGE[0] <= cy <= _CENTRE_Y_RANGE[1]:
        return PhotoCheck(PhotoProblem.OFF_CENTRE, box)

    face = gray.crop(box)
    if ImageStat.Stat(face).mean[0] < _MIN_FACE_LUMA:
        return PhotoCheck(PhotoProblem.TOO_DARK, box)
    if sharpness(face) < _MIN_SHARPNESS:
        return PhotoCheck(PhotoProblem.BLURRED, box)
    return PhotoCheck(None, box)


def sharpness(face: Image.Image) -> float:
    """Edge energy of a grayscale face crop relative to its contrast (about 0.1 blurred, 0.2+ sharp).

    The crop is first scaled to a fixed, small height: a near and a far face are then
    measured alike, and sensor noise (which would read as fine detail) is averaged away.
    The Laplacian's spread is divided by the crop's 5-95 percentile range so that a dim or
    low-contrast face is not mistaken for a blurred one.
    """
    w, h = face.size
    if w < 3 or h < 3:
        return 0.0
    scaled = face.resize((max(3, round(w * _SHARPNESS_HEIGHT / h)), _SHARPNESS_HEIGHT), Image.Resampling.BOX)
    contrast = _percentile(scaled, 0.95) - _percentile(scaled, 0.05)
    if contrast < 4:
        return 0.0
    edges = scaled.filter(_LAPLACIAN).crop((1, 1, scaled.width - 1, scaled.height - 1))
    return ImageStat.Stat(edges).stddev[0] / contrast


def _percentile(gray: Image.Image, q: float) -> int:
    hist = gray.histogram()
    target = q * sum(hist)
    seen = 0
    for value, count in enumerate(hist):
        seen += count
        if seen >= target:
            return value
    return 255


def portrait(width: int, height: int, rgb: bytes, face_box: Box) -> Photo:
    """The permit photo: the frame cropped around the head to 358×441 and scaled to it.

    Where the crop would leave the frame it is shifted back in; where it is larger than the
    frame (a head too large, which `check_photo` refuses) the frame is padded with its own
    top-edge colour, the backdrop.
    """
    img = Image.frombytes("RGB", (width, height), rgb)
    pw, ph = PERMIT_PHOTO_SIZE
    left, top, right, bottom = face_box
    crop_h = (bottom - top) / _HEAD_IN_PHOTO
    crop_w = crop_h * pw / ph
    x0 = (left + right) / 2 - crop_w / 2
    y0 = top - _CROWN_MARGIN * crop_h
    x0 = _fit(x0, crop_w, width)
    y0 = _fit(y0, crop_h, height)
    pad = max(0, -x0, -y0, x0 + crop_w - width, y0 + crop_h - height)
    if pad > 0:
        p = int(pad) + 1
        edge = ImageStat.Stat(img.crop((0, 0, width, 1))).mean
        img = ImageOps.expand(img, border=p, fill=tuple(int(c) for c in edge))
        x0, y0 = x0 + p, y0 + p
    out = img.resize((pw, ph), Image.Resampling.LANCZOS, box=(x0, y0, x0 + crop_w, y0 + crop_h))
    return Photo(pw, ph, out.tobytes())


def _fit(start: float, size: float, limit: int) -> float:
    """Shift a span to lie inside [0, limit] when it fits, else centre it on the frame."""
    if size > limit:
        return (limit - size) / 2
    return min(max(start, 0.0), limit - size)


def to_png(photo: Photo) -> bytes:
    buf = io.BytesIO()
    # Level 3 compresses a camera photo as well as the default level 6 in less than half the time.
    Image.frombytes("RGB", (photo.width, photo.height), photo.rgb).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
