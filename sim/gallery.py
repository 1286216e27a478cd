"""The screen gallery: every screen x zh/en x normal/large text as one contact sheet per service.

  python -m sim.gallery [--out docs/screens] [--scale 0.25]

The views are the screen tests' representative views (tests/unit/test_screens.py CASES, the
same list sim.bench_frames draws, and the registration's and longest-name views of
tests/unit/test_screen_overflow.py), each with the header's controls the presenter adds. Each
sheet is a PNG: one row per view, four columns (中文, 中文 大字版, English, English large text),
with the screen id over each row. Needs only the venv and a CJK font (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = (("zh", False), ("zh", True), ("en", False), ("en", True))
COMMON = ("boot", "self_test", "recovery", "out_of_service", "refusal", "fault", "goodbye")


def sheet_of(screen: str) -> str:
    """The contact sheet a screen belongs to: its service, or "common" for the shared screens."""
    head = screen.split(".", 1)[0]
    return "common" if screen in COMMON or "." not in screen else head


def run(out: Path, scale: float) -> dict[str, Any]:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    import pygame

    from kiosk import chrome
    from kiosk.config import load_kiosk_config
    from kiosk.fonts import find_cjk_font
    from kiosk.session import Session
    from screens.display import Display
    from tests.unit.test_screen_overflow import LONG_CASES, registration_cases
    from tests.unit.test_screens import CASES, view_of

    config = load_kiosk_config()
    size = (config.display.width, config.display.height)
    display = Display(size, font=find_cjk_font(config.display.font or None), lang="zh")
    groups: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for screen, buttons, data in [*CASES, *LONG_CASES, *registration_cases()]:
        if screen == "no_such_screen.yet":
            continue
        groups[sheet_of(screen)].append((screen, view_of(screen, buttons, data)))
    thumb = (int(size[0] * scale), int(size[1] * scale))
    pad, label_h = 16, 40
    label_font = display.text.font
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for name, views in sorted(groups.items()):
        sheet = pygame.Surface((pad + len(VARIANTS) * (thumb[0] + pad), pad + len(views) * (thumb[1] + label_h + pad)))
        sheet.fill((230, 233, 238))
        for row, (screen, view) in enumerate(views):
            y = pad + row * (thumb[1] + label_h + pad)
            label_font.render_to(sheet, (pad, y + 6), screen, (17, 24, 39), size=26)
            for col, (lang, large) in enumerate(VARIANTS):
                v = replace(view, lang=lang, large_text=large,
                            chrome=chrome.chrome_buttons(screen, Session(large_text=large)))
                display.render(v)
                shot = pygame.transform.smoothscale(display.screen, thumb)
                sheet.blit(shot, (pad + col * (thumb[0] + pad), y + label_h))
        path = out / f"{name}.png"
        pygame.image.save(sheet, str(path))
        written[name] = {"path": str(path), "views": len(views), "bytes": path.stat().st_size}
    display.close()
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/screens", help="folder for the contact sheets (default docs/screens)")
    ap.add_argument("--scale", type=float, default=0.25, help="thumbnail scale of the 1080x1920 screen")
    args = ap.parse_args(argv)
    if not 0.05 <= args.scale <= 1.0:
        print("--scale: between 0.05 and 1", file=sys.stderr)
        return 2
    written = run(Path(args.out), args.scale)
    for info in written.values():
        print(f"{info['path']}: {info['views']} screens x 4 variants, {info['bytes'] // 1024} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
