"""The face detector of the production kiosk: OpenCV's Haar cascades (`opencv-python-headless` < 5).

A `kiosk.photo.FaceFinder`: frontal faces, then the eyes inside each face (which gives
the head's roll), with the boxes widened to `kiosk.photo`'s crown-to-chin convention. A
frame in which no upright face is found is searched again turned by ±`tilt_search`
degrees, so that a strongly leaning head is reported as one (TILTED) instead of as nobody.

OpenCV is imported when the first frame is searched or `warm_up` is called, not when this
module is: `import cv2` (numpy included) and loading the three cascades cost about 0.5 s
that the kiosk's start-up need not wait for (in production mode the composition root warms
the detector up on a thread of its own). The cascades ship inside the wheel (`cv2.data.haarcascades`); nothing is
downloaded.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from kiosk.photo import Box, Face

# A Haar frontal-face box spans about brow to chin and cheek to cheek; the whole head
# (hair and ears included) is about this much larger, measured on real portraits.
_ABOVE = 0.50  # crown above the box's top, fraction of the box's height
_BELOW = 0.12  # chin below the box's bottom
_SIDES = 0.14  # each side


@dataclass
class HaarFaceDetector:
    work_width: int = 400  # faces are searched on the frame scaled to this width
    min_face: float = 0.09  # smallest face box searched, fraction of the frame's height
    scale_step: float = 1.15  # between searched sizes; 1.1 finds a little more at 1.5 times the cost
    neighbours: int = 6  # detections that must agree; fewer finds more faces and more false ones
    tilt_search: float = 25.0  # degrees tried either way when nothing is found upright (0: off)
    _cascades: tuple[Any, Any, Any] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # One search at a time: a CascadeClassifier is not safe to use from two threads at once, and
    # the live preview's guidance and a capture's check run side by side on the executor (two
    # searches at once gave a spurious "no face" now and then under load)
    _searching: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def warm_up(self) -> None:
        """Import OpenCV and load the cascades now (about 0.5 s), so that the first photo does not wait."""
        self._load()

    def detect(self, img: Image.Image) -> list[Box]:
        return [f.box for f in self.find(img)]

    def find(self, img: Image.Image) -> list[Face]:
        _, np = _cv()
        gray = np.asarray(img.convert("L"))
        with self._searching:
            faces = self._find(gray, 0.0)
            if not faces and self.tilt_search:
                for angle in (self.tilt_search, -self.tilt_search):
                    faces = self._find(gray, angle)
                    if faces:
                        break
        return faces

    def _find(self, gray: Any, angle: float) -> list[Face]:
        cv2, _ = _cv()
        face_cc, eye_cc, glasses_cc = self._load()
        h, w = gray.shape
        if angle:
            turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            gray = cv2.warpAffine(gray, turn, (w, h), borderMode=cv2.BORDER_REPLICATE)
        k = min(1.0, self.work_width / w)
        small = cv2.resize(gray, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else gray
        side = max(20, round(self.min_face * small.shape[0]))
        found = face_cc.detectMultiScale(small, self.scale_step, self.neighbours, minSize=(side, side))
        out = []
        for x, y, fw, fh in (tuple(int(v) for v in f) for f in found):
            x0, y0, x1, y1 = x / k, y / k, (x + fw) / k, (y + fh) / k
            eyes = _eyes(cv2, gray, (x0, y0, x1, y1), eye_cc, glasses_cc)
            roll = angle
            if len(eyes) == 2:
                (ax, ay), (bx, by) = sorted(((e[0] + e[2]) / 2, (e[1] + e[3]) / 2) for e in eyes)
                roll += math.degrees(math.atan2(by - ay, bx - ax))
            box = _head((x0, y0, x1, y1))
            if angle:
                box = _unturn(box, angle, w, h)
                eyes = tuple(_unturn(e, angle, w, h) for e in eyes)
            out.append(Face(_clamp(box, w, h), eyes, roll))
        return _outermost_dropped(out)

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:  # analysis runs on a worker thread; load the cascades once
            if self._cascades is None:
                self._cascades = _loaded_cascades()
            return self._cascades


@functools.cache
def _loaded_cascades() -> tuple[Any, Any, Any]:
    """The three cascades from the wheel, read once per process (they are read-only once loaded)."""
    cv2, _ = _cv()
    base = cv2.data.haarcascades
    cascades = tuple(cv2.CascadeClassifier(base + name)
                     for name in ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml",
                                  "haarcascade_eye_tree_eyeglasses.xml"))
    if any(c.empty() for c in cascades):
        raise RuntimeError("OpenCV's Haar cascades are missing from the installed wheel")
    return cascades[0], cascades[1], cascades[2]


def _outermost_dropped(faces: list[Face]) -> list[Face]:
    """Without a box around another one's centre: the cascade's false face spanning a whole figure."""

    def inside(inner: Box, outer: Box) -> bool:
        cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
        smaller = (inner[2] - inner[0]) < (outer[2] - outer[0])
        return smaller and outer[0] < cx < outer[2] and outer[1] < cy < outer[3]

    return [f for f in faces if not any(inside(g.box, f.box) for g in faces)]


def _cv() -> tuple[Any, Any]:
    import cv2
    import numpy

    return cv2, numpy


def _eyes(cv2: Any, gray: Any, face: tuple[float, float, float, float], *cascades: Any) -> tuple[Box, ...]:
    """Up to one eye on each half of the face's upper part; glasses get the second cascade."""
    x0, y0, x1, y1 = (round(v) for v in face)
    fw, fh = x1 - x0, y1 - y0
    top, bottom = y0 + round(0.15 * fh), y0 + round(0.58 * fh)
    region = gray[max(0, top):bottom, max(0, x0):x1]
    if region.size == 0:
        return ()
    side = max(8, round(fw * 0.12))
    for cascade in cascades:
        found = cascade.detectMultiScale(region, 1.1, 4, minSize=(side, side), maxSize=(fw // 2, fw // 2))
        left = [e for e in found if e[0] + e[2] / 2 < fw / 2]
        right = [e for e in found if e[0] + e[2] / 2 >= fw / 2]
        picked = [max(group, key=lambda e: e[2]) for group in (left, right) if len(group)]
        if len(picked) == 2:
            break
    return tuple(
        (int(x0 + ex), int(max(0, top) + ey), int(x0 + ex + ew), int(max(0, top) + ey + eh))
        for ex, ey, ew, eh in picked
    )


def _head(face: tuple[float, float, float, float]) -> Box:
    x0, y0, x1, y1 = face
    fw, fh = x1 - x0, y1 - y0
    return (round(x0 - _SIDES * fw), round(y0 - _ABOVE * fh), round(x1 + _SIDES * fw), round(y1 + _BELOW * fh))


def _unturn(box: Box, angle: float, w: int, h: int) -> Box:
    """A box found in the frame turned by `angle` (OpenCV's sense), as the bounding box in the frame."""
    a = math.radians(angle)
    cx, cy = w / 2, h / 2
    left, top, right, bottom = box
    xs, ys = [], []
    for x, y in ((left, top), (right, top), (left, bottom), (right, bottom)):
        dx, dy = x - cx, y - cy
        xs.append(cx + dx * math.cos(a) - dy * math.sin(a))
        ys.append(cy + dx * math.sin(a) + dy * math.cos(a))
    return round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))


def _clamp(box: Box, w: int, h: int) -> Box:
    left, top, right, bottom = box
    return max(0, left), max(0, top), min(w, right), min(h, bottom)
