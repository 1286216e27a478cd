"""Finding a CJK font at start: the screens (pygame.freetype) and the card face (pillow) use the same file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# (path, face index): Noto's .ttc keeps Simplified Chinese at index 2.
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0


def find_cjk_font(configured: str | None = None, index: int = 0) -> FontFile:
    if configured:
        if Path(configured).is_file():
            return FontFile(configured, index)
        raise FontMissing(f"display.font: the configured font {configured!r} does not exist")
    for path, idx in CANDIDATES:
        if Path(path).is_file():
            return FontFile(path, idx)
    raise FontMissing(
        "No CJK font is installed, so Chinese text cannot be drawn. "
        "Install one (apt-get install fonts-wqy-microhei) or set display.font in config/kiosk.toml."
    )
