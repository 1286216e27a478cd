"""Screenshots of the glass, and the QR codes on it, for the scenario runner and its checks."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import zxingcpp


def save_pages(display: Any, stem: str | Path) -> list[str]:
    """A screen whose body scrolls: a PNG of each further page (`stem.pageN.png`) as a resident
    scrolling down sees it, the display back at the top after. [] for a screen that fits."""
    paths: list[str] = []
    for n, glass in enumerate(itertools.islice(display.pages(), 1, None), 2):
        paths.append(f"{stem}.page{n}.png")
        pygame.image.save(glass, paths[-1])
    return paths


def decode_png(png: Path) -> list[str]:
    """Every QR code zxing-cpp finds in a saved picture of the screen (as a phone reads a photo of it)."""
    from PIL import Image

    with Image.open(png) as image:
        found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found]


def decode_glass(surface: pygame.Surface) -> list[str]:
    """Every QR code zxing-cpp finds on a surface (the glass), read in memory: the pixels of its
    screenshot, without writing and reading back a PNG (about 110 ms a shot)."""
    grey = pygame.surfarray.pixels_red(pygame.transform.grayscale(surface))  # [x, y], a view
    found = zxingcpp.read_barcodes(np.ascontiguousarray(grey.T), formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in found]
