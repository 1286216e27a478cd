"""The stand-in face detector: heads as silhouettes against the kiosk's plain backdrop, in pure pillow.

`kiosk.photo`'s default detector (and the one `[devices.camera] detector = "silhouette"`
picks); the production kiosk uses kiosk.face_haar. Boxes follow kiosk.photo's convention.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from PIL import Image, ImageChops

Box = tuple[int, int, int, int]  # as kiosk.photo.Box: (left, top, right, bottom), crown to chin

_RUN = re.compile(b"\x01+")


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
