"""Quality checks and crop for the permit photo, in pure pillow.

A frame from the camera is checked before anything is sent to the backend: exposure
(mean luminance and clipped highlights), exactly one face, its size and position, its lean
and both eyes (when the detector reports them: kiosk.face_haar does), light from behind,
sharpness (an edge measure on the face, normalised by its contrast so that lighting does
not move the threshold) and a plain light backdrop. An accepted frame is cropped around the
face to the permit photo (358×441 px: 26×32 mm at 350 dpi). `PhotoProblem` is the one list
of what can be wrong, which screens put into words (screens/i18n: photo.problem.*).

Photos live in memory only: nothing here touches the disk.

Face boxes are `(left, top, right, bottom)` in frame pixels, as pillow's `crop` takes
them, and cover the whole head: crown (hair included) to chin, side to side. A detector
plug-in whose boxes cover less (OpenCV's Haar cascades box eyebrows to mouth) must widen
them to that convention before returning them. The default detector is the pure-pillow
stand-in (kiosk.face_silhouette); the composition root passes kiosk.face_haar's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from kiosk.face_silhouette import PlainBackgroundDetector
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
_MIN_SHARPNESS = 0.12
_SHARPNESS_HEIGHT = 48  # the face is measured at this height, so distance does not matter
_MAX_ROLL = 12.0  # degrees; a leaning head makes a permit photo the authority rejects
_BACKLIT_FACE = 90.0  # a face darker than this in a frame too bright overall: light from behind
_BACKLIT_RATIO = 0.35  # skin darker than this share of a bright backdrop is lit from behind
_BACKLIT_BACKDROP = 235.0  # a backdrop this bright (a window, a lamp) can backlight a face
_MIN_BACKDROP_LUMA = 120.0  # the backdrop must be light
_MAX_BACKDROP_TEXTURE = 3.0  # see `background`
_BACKDROP_WIDTH = 160
_LIFT = [round(255 * (v / 255) ** 0.5) for v in range(256)]

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
    # Only with a detector that reports eyes and roll (a FaceFinder: kiosk.face_haar).
    EYES_HIDDEN = "eyes_hidden"  # eyes closed, covered, sunglasses, hair over them
    TILTED = "tilted"  # head leaning to one side
    # With any detector.
    BACKLIT = "backlit"  # a bright window or lamp behind a face that is too dark
    BACKGROUND = "background"  # not a plain light backdrop (things or people behind)


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
class Face:
    """A face as a detector that looks closer reports it.

    `eyes`: eye boxes in frame pixels (None: the detector does not look for eyes);
    `roll`: the head's lean in degrees, positive clockwise as seen in the frame (None: not measured).
    """

    box: Box
    eyes: tuple[Box, ...] | None = None
    roll: float | None = None


@runtime_checkable
class FaceFinder(FaceDetector, Protocol):
    """A detector that also reports eyes and roll; `check_photo` then checks them too."""

    def find(self, img: Image.Image) -> list[Face]: ...


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
        return PhotoCheck(PhotoProblem.BACKLIT if _dark_face(img, gray, detector) else PhotoProblem.TOO_BRIGHT, None)

    faces = detector.find(img) if isinstance(detector, FaceFinder) else [Face(b) for b in detector.detect(img)]
    if not faces:
        return PhotoCheck(PhotoProblem.NO_FACE, None)
    if len(faces) > 1:
        return PhotoCheck(PhotoProblem.TWO_FACES, None)
    face = faces[0]
    box = face.box
    left, top, right, bottom = box

    head = (bottom - top) / height
    if head < _MIN_HEAD:
        return PhotoCheck(PhotoProblem.TOO_SMALL, box)
    if head > _MAX_HEAD:
        return PhotoCheck(PhotoProblem.TOO_LARGE, box)
    cx, cy = (left + right) / 2 / width, (top + bottom) / 2 / height
    if abs(cx - 0.5) > _MAX_OFF_CENTRE_X or not _CENTRE_Y_RANGE[0] <= cy <= _CENTRE_Y_RANGE[1]:
        return PhotoCheck(PhotoProblem.OFF_CENTRE, box)
    if face.roll is not None and abs(face.roll) > _MAX_ROLL:
        return PhotoCheck(PhotoProblem.TILTED, box)

    face_gray = gray.crop(box)
    face_luma, (luma, busy) = ImageStat.Stat(gray.crop(_skin(box))).mean[0], background(gray, box)
    if luma > _BACKLIT_BACKDROP and face_luma < _BACKLIT_RATIO * luma:
        return PhotoCheck(PhotoProblem.BACKLIT, box)
    if face_luma < _MIN_FACE_LUMA:
        return PhotoCheck(PhotoProblem.TOO_DARK, box)
    if sharpness(face_gray) < _MIN_SHARPNESS:
        return PhotoCheck(PhotoProblem.BLURRED, box)
    # After light and sharpness: a dark or blurred face hides its eyes from the detector too.
    if face.eyes is not None and len(face.eyes) < 2:
        return PhotoCheck(PhotoProblem.EYES_HIDDEN, box)
    if luma < _MIN_BACKDROP_LUMA or busy > _MAX_BACKDROP_TEXTURE:
        return PhotoCheck(PhotoProblem.BACKGROUND, box)
    return PhotoCheck(None, box)


def _dark_face(img: Image.Image, gray: Image.Image, detector: FaceDetector) -> bool:
    """A frame too bright overall whose one face is dark: a light behind the resident.

    The face is looked for with the shadows lifted (gamma 0.5), as a camera's backlight
    compensation would show it: a detector misses many faces that dark."""
    boxes = detector.detect(img.point(_LIFT * 3))
    return len(boxes) == 1 and ImageStat.Stat(gray.crop(_skin(boxes[0]))).mean[0] < _BACKLIT_FACE


def _skin(box: Box) -> Box:
    """The skin, not the hair: the middle of a head box, from the brows to the mouth."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    return left + w // 4, top + 2 * h // 5, right - w // 4, bottom - h // 6


def background(gray: Image.Image, box: Box) -> tuple[float, float]:
    """(mean luminance, texture) of the backdrop: above the head and beside it, clear of the shoulders.

    Texture is the mean absolute difference from a blurred copy at a 160-pixel width: an
    unevenly lit plain backdrop reads about 1, things, stripes or people behind read 4 and up.
    """
    w, h = gray.size
    k = _BACKDROP_WIDTH / w
    small = gray.resize((_BACKDROP_WIDTH, max(1, round(h * k))), Image.Resampling.BOX)
    left, top, right, bottom = (round(v * k) for v in box)
    margin = round((right - left) * 0.35)
    mask = Image.new("L", small.size, 0)
    draw = ImageDraw.Draw(mask)
    if top > 1:
        draw.rectangle((0, 0, small.width, top - 2), fill=255)
    draw.rectangle((0, 0, left - margin, bottom), fill=255)
    draw.rectangle((right + margin, 0, small.width, bottom), fill=255)
    if mask.getbbox() is None:
        return 255.0, 0.0  # the head fills the frame: nothing to judge (the size check refuses it)
    detail = ImageChops.difference(small, small.filter(ImageFilter.BoxBlur(3)))
    return ImageStat.Stat(small, mask).mean[0], ImageStat.Stat(detail, mask).mean[0]


def sharpness(face: Image.Image) -> float:
    """Edge energy of a grayscale face crop relative to its contrast (real faces about 0.05 blurred, 0.15+ sharp).

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
    # Level 1: 4% larger than level 3 (250 kB against 241 kB for a 358x441 portrait) in 11 ms
    # instead of 15 (6: 230 kB in 41 ms); the resident waits for it after the photo is taken.
    Image.frombytes("RGB", (photo.width, photo.height), photo.rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
