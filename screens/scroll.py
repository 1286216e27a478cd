"""A screen whose words do not fit its body scrolls instead of cutting them (issue 13: large
text says the same, only larger, so a long text must wrap or scroll, never be cut).

The Display draws a screen's body as usual and watches every line (widgets.WATCH). When a line
ran out of its box or a fitted paragraph dropped lines, the body is drawn again on a taller page
and shown through a window, with two buttons under it to move the page. The scroll position is
the Display's own (a presentation detail, no intent reaches the core); a new screen starts at
the top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pygame

from kiosk.view import Button, ButtonStyle
from screens import theme as th
from screens import widgets as w

UP = Button("scroll.up", "scroll.up", style=ButtonStyle.SECONDARY)
DOWN = Button("scroll.down", "scroll.down", style=ButtonStyle.SECONDARY)
# The page's height in windows, tried in turn until everything fits: the first that holds the body
# is the shortest, so that a screen which anchors something to its body's bottom (a QR code) does not
# leave a window or two of blank page above it.
TALL = (1.25, 1.5, 2.0, 3.0, 4.0)


@dataclass
class Page:
    surface: pygame.Surface  # page y 0 is the window's top
    window: pygame.Rect  # where on the frame the visible part goes
    rects: dict[str, pygame.Rect]  # the scroll buttons
    tall: int  # the body's height the screen drew the page with (its animation uses the same)
    factor: int = 0  # its index in TALL (the next drawing of the same screen starts from it)

    def max_offset(self) -> int:
        return max(0, self.surface.get_height() - self.window.height)

    def step(self) -> int:
        return max(1, int(self.window.height * 0.8))


def overflows(lines: list[w.Drawn], body: pygame.Rect) -> bool:
    # A bold glyph's ink may overhang its measured width a little. A line of the body (its own box
    # or a box within the body) must stay in the body; one of a band above (a progress hint) in its band.
    inside = body.inflate(12, 8)
    return any(d.cut or not d.box.inflate(12, 8).contains(d.rect)
               or (d.box.colliderect(body) and not inside.contains(d.rect)) for d in lines)


def paged(frame: pygame.Surface, theme: th.Theme, body: pygame.Rect,
          draw: Callable[[pygame.Surface, pygame.Rect], None],
          surface: Callable[[int], pygame.Surface] | None = None, start: int = 0) -> Page | None:
    """Draw the body on a taller page (draw(surface, body) as the screen would); None if even the
    tallest page does not hold it (then the frame keeps the first drawing). `surface(height)`: a
    surface of the frame's width to draw each try on (screens/layer.Surfaces.page); the page kept
    is the body's part of the last one drawn, not a copy. `start`: the index in TALL this screen's page took
    last time (Page.factor): the search begins one below it, so that words as long as last time
    take two tries (too short, then the one that holds them) rather than one per shorter page."""
    strip = theme.big(th.MIN_TARGET) + theme.gap
    window = pygame.Rect(body.left, body.top, body.width, body.height - strip)
    if window.height < theme.px(200):
        return None
    base = len(w.AUDIT) if w.AUDIT is not None else 0

    def attempt(i: int) -> tuple[bool, tuple[pygame.Rect, pygame.Surface, list[w.Drawn], list[w.Deferred]]]:
        if w.AUDIT is not None:
            del w.AUDIT[base:]  # only the drawing kept, the last one made, stays in the overflow test's audit
        tall = pygame.Rect(body.left, body.top, body.width, int(window.height * TALL[i]))
        size = (frame.get_width(), tall.bottom)
        surf = surface(tall.bottom) if surface is not None else pygame.Surface(size, 0, frame)
        surf.fill(th.BACKGROUND, tall)  # only the page is kept: the rows above it are never read
        w.WATCH, w.DEFER = [], []  # the text is drawn only on the page that is kept
        try:
            draw(surf, tall)
            lines, deferred = w.WATCH, w.DEFER
        finally:
            w.WATCH, w.DEFER = None, None
        # Ink down to the page's very bottom: something (a QR code) ran off it (its last rows tell).
        edge = pygame.Rect(tall.left, tall.bottom - 2, tall.width, 2)
        fits = i == len(TALL) - 1 or not (overflows(lines, tall) or ink_bottom(surf, edge) >= tall.bottom - 1)
        return fits, (tall, surf, lines, deferred)

    i = max(0, min(start, len(TALL) - 1) - 1)
    fits, drawn = attempt(i)
    if fits and i > 0:
        # Shorter words than last time: down while the page still holds them; the last that did is
        # drawn again when a shorter try was drawn over it.
        j = i - 1
        while j >= 0:
            shorter, tried = attempt(j)
            if not shorter:
                break
            i, drawn, j = j, tried, j - 1
        if j >= 0:
            fits, drawn = attempt(i)
    while not fits:
        i += 1
        fits, drawn = attempt(i)
    tall, surf, lines, deferred = drawn
    w.replay(deferred)
    # Down to the last ink, not only the last line of text: a QR code or a mark drawn below the
    # words is on the page too (a kept card's code was cut off the page in large text).
    # (Only the rows below the last line and the window need looking at: the rest is in the max.)
    low = max([d.rect.bottom for d in lines] + [window.bottom])
    below = pygame.Rect(tall.left, low, tall.width, tall.bottom - low)
    bottom = max(low, ink_bottom(surf, below) if below.height > 0 else low) + theme.gap
    height = min(tall.bottom, bottom) - body.top
    # The page is that part of the surface drawn on (the display's page surface, then the layer's).
    page = surf.subsurface(pygame.Rect(body.left, body.top, body.width, height))
    gap = theme.gap
    each = (body.width - gap) // 2
    top = window.bottom + gap
    rects = {UP.id: pygame.Rect(body.left, top, each, strip - gap),
             DOWN.id: pygame.Rect(body.left + each + gap, top, each, strip - gap)}
    return Page(page, window, rects, tall.height, i)


def ink_bottom(surf: pygame.Surface, area: pygame.Rect) -> int:
    """The lowest row within `area` holding anything but the background."""
    sub = surf.subsurface(area.clip(surf.get_rect()))
    # One vectorised pass over the pixels (numpy comes with opencv): a mask's bounding rects took
    # ~35 ms of CPU per page of a scrolling screen's first frame, this ~3.5 ms, the same row.
    pixels = pygame.surfarray.pixels2d(sub)  # [x, y], locks the surface until deleted
    try:
        rows = np.flatnonzero((pixels != sub.map_rgb(th.BACKGROUND)).any(axis=0))
    finally:
        del pixels
    return area.top + int(rows[-1]) + 1 if rows.size else area.top


def buttons(page: Page, offset: int) -> tuple[Button, ...]:
    return (Button(UP.id, UP.label, enabled=offset > 0, style=UP.style),
            Button(DOWN.id, DOWN.label, enabled=offset < page.max_offset(), style=DOWN.style))


def show(screen: pygame.Surface, page: Page, offset: int) -> None:
    offset = max(0, min(offset, page.max_offset()))
    area = pygame.Rect(0, offset, page.window.width, min(page.window.height, page.surface.get_height() - offset))
    screen.fill(th.BACKGROUND, page.window)
    screen.blit(page.surface, page.window.topleft, area)


def paint_buttons(c: w.Canvas, page: Page, offset: int) -> None:
    strip = pygame.Rect(page.window.left, page.window.bottom, page.window.width,
                        max(r.bottom for r in page.rects.values()) - page.window.bottom)
    c.surface.fill(th.BACKGROUND, strip)
    pygame.draw.line(c.surface, th.BORDER, strip.topleft, strip.topright, c.theme.px(3))
    for b in buttons(page, offset):
        rect = page.rects[b.id]
        w.paint_button(w.Canvas(c.surface, c.theme, c.texts, c.text, c.view, rect.copy(), c.rects), b, rect)


def draw_page(c: w.Canvas, draw: Callable[[w.Canvas], None],
              paint: Callable[[w.Canvas, Button, pygame.Rect, bool], None], on_page: frozenset[str]) -> None:
    """The body on its page as the screen draws it, with the buttons that lie in it (`on_page`)."""
    draw(c)
    for b in c.view.buttons:
        if b.id in on_page:
            paint(replace(c, body=c.rects[b.id].copy()), b, c.rects[b.id], False)


def shifted(page: Page, offset: int, rects: dict[str, pygame.Rect]) -> dict[str, pygame.Rect]:
    """Where the page's buttons are on the glass, scrolled by `offset`: the part inside the window
    (a button scrolled out of it is not there to touch)."""
    out = {}
    for key, rect in rects.items():
        seen = rect.move(0, -offset).clip(page.window)
        if seen.height > 0:
            out[key] = seen
    return out
