"""Write the kiosk's boot warm-up file (screens/warm_text.json), or check that it is current.

  python -m sim.warm_text [--check] [--out screens/warm_text.json]

Draws every screen in both languages and both text sizes, as the gallery and the frame
benchmark do (the screen tests' representative views, with and without the header's controls,
the idle-warning overlay, the photo screen with its live-preview data), and writes which
translations the screens wrapped and measured, at which sizes and widths (screens/warm.py).
Run it after changing a translation or a screen's layout; `--check` exits 1 when the file
differs from what the screens lay out now.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = (("zh", False), ("zh", True), ("en", False), ("en", True))


def views() -> Iterator[Any]:
    """Every representative view of every screen, as the kiosk may show it."""
    from kiosk import chrome
    from kiosk.session import Session
    from tests.unit.test_screen_overflow import LONG_CASES, registration_cases
    from tests.unit.test_screens import CASES, OVERLAY, PHOTO_BUTTONS, PREVIEW_DATA, view_of

    cases = [(s, b, d) for s, b, d in [*CASES, *LONG_CASES, *registration_cases()] if s != "no_such_screen.yet"]
    extra = [view_of("new_permit.photo", PHOTO_BUTTONS, {"attempt": 1, "max_attempts": 3}, overlay=OVERLAY),
             view_of("new_permit.photo", PHOTO_BUTTONS,
                     dict(PREVIEW_DATA, countdown=None, guidance="ok", retake=False))]
    for lang, large in VARIANTS:
        for screen, buttons, data in cases:
            view = replace(view_of(screen, buttons, data), lang=lang, large_text=large)
            yield view
            yield replace(view, chrome=chrome.chrome_buttons(screen, Session(large_text=large)))
        for view in extra:
            yield replace(view, lang=lang, large_text=large)


def plan_now() -> Any:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    from kiosk.config import load_kiosk_config
    from kiosk.fonts import find_cjk_font
    from screens import warm
    from screens.display import Display

    config = load_kiosk_config()
    display = Display((config.display.width, config.display.height),
                      font=find_cjk_font(config.display.font or None), lang=config.display.lang)
    try:
        every = list(views())
        for view in every:
            display.render(view)
        # After boot each screen starts from the page heights the warm-up sets, not from where the
        # views drawn before it left them, and may measure other sizes on the way: each view is drawn
        # again from those, and what it lays out is added.
        heights = dict(display.page_factor)
        for view in every:
            display._layers.clear()
            display.page_factor.clear()
            display.page_factor.update(heights)
            display.render(view)
        display.page_factor.clear()
        display.page_factor.update(heights)
        return warm.record(display)
    finally:
        display.close()


def main(argv: list[str] | None = None) -> int:
    from screens import warm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=warm.WARM_FILE)
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is not what the screens lay out now")
    args = ap.parse_args(argv)
    body = warm.to_json(plan_now())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != body:
            print(f"{args.out} is stale: run python -m sim.warm_text", file=sys.stderr)
            return 1
        print(f"{args.out}: current")
        return 0
    args.out.write_text(body, encoding="utf-8")
    plan = warm.load(args.out)
    print(f"{args.out}: {len(plan.wraps)} wraps, {len(plan.widths)} widths, {len(plan.pages)} page heights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
