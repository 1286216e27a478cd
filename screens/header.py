"""The band across the top of every frame (the site's name, the clock) and the new-permit
progress hint under it. The site's name and the hint are drawn into a screen's cached layer;
the clock over it every frame."""

from __future__ import annotations

import pygame

from kiosk.view import View, Waiting
from screens import theme as th
from screens import widgets as w
from screens.text import Texts

CLOCK_WIDEST = "2026-11-22 09:00"  # the room the clock takes (every digit of the font is as wide)


def fit(text: w.TextRenderer, shown: str, theme: th.Theme) -> int:
    """The size of the site's name: the clock takes the right, the name shrinks to the room left,
    never cut."""
    room = theme.header_rect().width - 2 * theme.margin - text.width(CLOCK_WIDEST, theme.header) - theme.gap
    return text.shrink(shown, theme.header, theme.px(24), room, True)


def site(text: w.TextRenderer, name: str, theme: th.Theme, surf: pygame.Surface, texts: Texts) -> None:
    band = theme.header_rect()
    surf.fill(th.HEADER_BG, band.union(theme.chrome_rect()))
    shown = name or texts.get("app.title")
    size = fit(text, shown, theme)
    top = band.centery - text.line_height(size) // 2
    canvas = w.Canvas(surf, theme, texts, text, View("", Waiting.NOTHING), band)
    canvas.line(shown, size, th.HEADER_TEXT, theme.margin, top, strong=True)


def clock(text: w.TextRenderer, now: str, theme: th.Theme, surf: pygame.Surface) -> pygame.Rect | None:
    """The clock at the band's right; where it went (the band under it is plain header colour)."""
    if not now:
        return None
    band = theme.header_rect()
    size = theme.header
    line = text.line(now, size, th.HEADER_TEXT)
    x = band.right - theme.margin - line.width
    top = band.centery - text.line_height(size) // 2
    baseline = top + (text.line_height(size) - size) // 2 + text.ascender(size)
    return surf.blit(line.surface, (x + line.left, baseline - line.top))


def progress(text: w.TextRenderer, step: int, total: int, theme: th.Theme, surf: pygame.Surface,
             texts: Texts) -> None:
    """The new permit's hint under the band: "step n of 6: ..." and a segment a step."""
    label = texts.get(f"progress.{step}")
    canvas = w.Canvas(surf, theme, texts, text, View("", Waiting.NOTHING), theme.progress_rect())
    hint(canvas, texts.get("progress.step", step=step, total=total, label=label), step, total)


def hint(c: w.Canvas, words: str, step: int, total: int) -> None:
    """A progress hint in the band under the header (the new permit's, the rewrite's): its words
    and `total` segments, the first `step` of them lit."""
    t, band = c.theme, c.theme.progress_rect()
    c = w.Canvas(c.surface, t, c.texts, c.text, c.view, band, c.rects)  # its words belong to the band
    c.surface.fill(th.ACCENT_LIGHT, band)
    bar_h = t.px(14)
    c.line(words, t.small, th.ACCENT_DARK, band.centerx, band.top + t.px(12), "center", strong=True)
    gap = t.px(12)
    seg_w = (band.width - 2 * t.margin - gap * (total - 1)) // total
    y = band.bottom - bar_h - t.px(14)
    for i in range(total):
        color = th.ACCENT if i < step else (190, 205, 228)
        rect = pygame.Rect(t.margin + i * (seg_w + gap), y, seg_w, bar_h)
        pygame.draw.rect(c.surface, color, rect, border_radius=bar_h // 2)
