"""The one overflow checker (issue 13): every line of text a frame drew lies inside its box, none
was cut for want of room, and the font has every glyph of it.

`screens.widgets.AUDIT` collects the lines as they are drawn (`Drawn`: the text, where it went,
the box it had to stay in). The screen test (tests/unit/test_screen_overflow.py) draws every
representative view with it; the scenario runner's `--variant` (sim/runner.py) wraps the kiosk's
display with `CheckedDisplay`, so that every frame of a whole session is checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pygame
import pygame.freetype

from kiosk.fonts import FontFile
from kiosk.view import View
from screens import widgets as w

INK = (12, 8)  # a bold glyph's ink may overhang its box by a few px


class GlyphCheck:
    """Which characters the kiosk's font has no glyph for (asked once per character)."""

    def __init__(self, font: FontFile) -> None:
        pygame.freetype.init()
        self.face = pygame.freetype.Font(font.path, 0, font_index=font.index)
        self._known: dict[str, bool] = {" ": True, "\n": True}

    def missing(self, text: str) -> str:
        new = sorted(set(text) - self._known.keys())
        if new:
            for ch, m in zip(new, self.face.get_metrics("".join(new), size=40), strict=True):
                self._known[ch] = m is not None
        return "".join(sorted(ch for ch in set(text) if not self._known[ch]))


def problems(drawn: Iterable[w.Drawn], glyphs: GlyphCheck, size: tuple[int, int], where: str) -> list[str]:
    """What is wrong with these drawn lines, in words (empty: nothing)."""
    window = pygame.Rect((0, 0), size)
    out: list[str] = []
    for d in drawn:
        at = f"{where}: {d.text!r}"
        if d.cut:
            out.append(f"{at} cut (no room)")
        elif not d.box.inflate(*INK).contains(d.rect):
            out.append(f"{at} {d.rect} outside its box {d.box}")
        elif not window.inflate(*INK).contains(d.rect) and d.box.bottom <= size[1]:
            out.append(f"{at} {d.rect} off the screen (not on a scrolled page)")
        gone = glyphs.missing(d.text)
        if gone:
            out.append(f"{at} no glyph for {gone!r}")
    return out


@dataclass
class FrameAudit:
    """What the checked frames of a run found: the report's `overflow` part."""

    frames: int = 0
    lines: int = 0
    problems: list[str] = field(default_factory=list)
    screens: set[str] = field(default_factory=set)

    def as_report(self) -> dict[str, Any]:
        return {"frames_checked": self.frames, "lines_checked": self.lines, "problems": self.problems[:200],
                "problem_count": len(self.problems), "screens_with_problems": sorted(self.screens)}


class CheckedDisplay:
    """The kiosk's display with every frame's text checked as it is drawn; all else passes through.

    Only lines drawn in a frame are seen: a screen's layer is drawn once and then blitted, so each
    screen is checked when it is built and its moving parts (countdowns, the clock) every frame."""

    def __init__(self, display: Any, font: FontFile) -> None:
        self._display = display
        self._glyphs = GlyphCheck(font)
        self.audit = FrameAudit()
        self._seen: set[tuple[str, str, tuple[int, int, int, int], tuple[int, int, int, int], bool]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._display, name)

    def render(self, view: View) -> None:
        w.AUDIT = []
        try:
            self._display.render(view)
            drawn = w.AUDIT
        finally:
            w.AUDIT = None
        self.audit.frames += 1
        self.audit.lines += len(drawn)
        fresh = []
        for d in drawn:  # the same line in the same place was checked already (a countdown's frames)
            key = (view.screen_id, d.text, tuple(d.rect), tuple(d.box), d.cut)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(d)
        size = "large" if view.large_text else "normal"
        found = problems(fresh, self._glyphs, self._display.size, f"{view.screen_id} {view.lang or '-'} {size}")
        if found:
            self.audit.problems += found
            self.audit.screens.add(view.screen_id)
