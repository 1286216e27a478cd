"""Camera frames of a QR code held up to the scanning camera: a sheet of paper on a desk, with the
code drawn by segno (`make_qr`: plain `make` picks Micro QR for short data, which zbar cannot
read) and what a real camera does to it: rotation, blur, sensor noise, low contrast, a code
partly outside the picture. Deterministic for a given seed.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import segno
from PIL import Image, ImageChops, ImageFilter


@dataclass(frozen=True)
class QrView:
    rotation: float = 0.0  # degrees, counter-clockwise
    blur: float = 0.0  # Gaussian blur radius in pixels
    noise: float = 0.0  # sensor noise, peak levels (0-255 scale) either side
    contrast: float = 1.0  # 1: black on white paper; 0.2: dark grey on light grey
    partial: float = 0.0  # fraction of the code's width (quiet zone included) beyond the right edge
    size: float = 0.55  # the code's side (quiet zone included) as a fraction of the frame height
    brightness: float = 1.0  # the whole picture's gain


BORDER = 4  # modules of quiet zone, as the standard asks


@functools.lru_cache(maxsize=32)
def _modules(payload: bytes | str) -> Image.Image:
    """The code one pixel per module, quiet zone included, white 255 and black 0."""
    qr = segno.make_qr(payload)
    rows = [[0 if dark else 255 for dark in row] for row in qr.matrix]
    n = len(rows)
    side = n + 2 * BORDER
    img = Image.new("L", (side, side), 255)
    img.putdata([255] * side * BORDER + [v for row in rows for v in [255] * BORDER + row + [255] * BORDER]
                + [255] * side * BORDER)
    return img


def render(payload: bytes | str, width: int = 640, height: int = 480, view: QrView | None = None,
           seed: int = 0) -> Image.Image:
    """An RGB frame showing `payload`'s QR code as `view` says."""
    view = view or QrView()
    rng = random.Random(f"qr|{seed}")
    side = max(8, round(height * view.size))
    code = _modules(payload).resize((side, side), Image.Resampling.NEAREST)
    # The code's dark and light as the camera sees them at this contrast, around mid grey.
    lo, hi = (round(128 + (v - 128) * view.contrast) for v in (16, 240))
    code = code.point(lambda v: hi if v else lo)
    frame = Image.new("L", (width, height), round(100 + 40 * view.contrast))  # the desk
    angle = view.rotation + rng.uniform(-0.5, 0.5)  # nobody holds a sheet perfectly still
    rotated = code.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0)
    mask = Image.new("L", code.size, 255).rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=0)
    x = round((width - rotated.width) / 2 + rng.uniform(-4, 4))
    if view.partial > 0:  # against the right edge, that fraction of it beyond
        x = width - round(rotated.width * (1 - view.partial))
    y = round((height - rotated.height) / 2 + rng.uniform(-4, 4))
    frame.paste(rotated, (x, y), mask)
    if view.brightness != 1.0:
        frame = frame.point(lambda v: min(255, round(v * view.brightness)))
    if view.blur > 0:
        frame = frame.filter(ImageFilter.GaussianBlur(view.blur))
    if view.noise > 0:
        frame = ImageChops.add(frame, _noise(width, height, view.noise, rng), scale=1.0, offset=-128)
    return frame.convert("RGB")


def _noise(width: int, height: int, amplitude: float, rng: random.Random) -> Image.Image:
    """Uniform noise of +-amplitude around 128, fresh per seed."""
    raw = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    scale = amplitude / 128
    return raw.point([max(0, min(255, 128 + round((v - 128) * scale))) for v in range(256)])


def hard_views(count: int = 40, seed: int = 2026) -> list[QrView]:
    """The benchmark's frames: every one noisy or low-contrast, most also rotated or blurred, some
    partly out of the picture. Fixed by `seed`, so both decoders see the same frames."""
    rng = random.Random(seed)
    views = []
    for i in range(count):
        views.append(QrView(
            rotation=rng.uniform(-40, 40) if i % 4 else 0.0,
            blur=rng.uniform(0.6, 2.0) if i % 3 else 0.0,
            noise=rng.uniform(18, 45),
            contrast=rng.uniform(0.18, 0.45),
            partial=0.08 if i % 10 == 9 else 0.0,
            size=rng.uniform(0.4, 0.7),
            brightness=rng.uniform(0.8, 1.15),
        ))
    return views
