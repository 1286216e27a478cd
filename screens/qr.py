"""QR codes on the screens (a registration receipt, a kept card's number, a referral, the points
notice): one encoder and one picture.

The encoder is zxing-cpp's (error correction M, always a full QR symbol: Micro QR, which plain
encoders pick for short data, is skipped by many phone readers). It encodes in about 0.25 ms;
segno's pure-Python mask search took 4 ms, twice in each drawing of an end screen. The picture is
black modules on white with the standard's quiet zone, drawn once at one pixel a module and
scaled without smoothing (a fill per dark module was about 1 ms a drawing). Both are kept for the
session in the text renderer's memo (the payload is the resident's), and go with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pygame
import zxingcpp

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def matrix(payload: str) -> np.ndarray:
    """The code's modules, True where dark, [row, column], without the quiet zone."""
    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    return np.asarray(code.to_image(scale=1, add_quiet_zones=False)) < 128


def _picture(dark: np.ndarray, module_px: int) -> pygame.Surface:
    n = dark.shape[0] + 2 * QUIET_ZONE
    grey = np.full((n, n), 255, np.uint8)
    grey[QUIET_ZONE:n - QUIET_ZONE, QUIET_ZONE:n - QUIET_ZONE][dark] = 0
    small = pygame.surfarray.make_surface(np.repeat(grey.T[:, :, None], 3, axis=2))  # [x, y]
    return pygame.transform.scale(small, (n * module_px, n * module_px))


def modules(text: Any, payload: str) -> int:
    """How many modules across the code of `payload` is, its quiet zone included. `text`: the
    display's text renderer, whose memo keeps the encoding for the session."""
    dark: np.ndarray = text.memo(("qr", payload), lambda: matrix(payload))
    return int(dark.shape[0]) + 2 * QUIET_ZONE


def picture(text: Any, payload: str, module_px: int) -> pygame.Surface:
    """The code of `payload` at `module_px` pixels a module, quiet zone included."""
    dark: np.ndarray = text.memo(("qr", payload), lambda: matrix(payload))
    return text.memo(("qr", payload, module_px), lambda: _picture(dark, module_px))  # type: ignore[no-any-return]
