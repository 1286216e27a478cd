"""The header's resident controls (View.chrome: large text, language, help; kiosk/chrome.py):
one row of equal buttons under the title row, on every screen a resident sees.

They sit on the header's deep blue as white-outlined buttons, 120 px high (180 in large text),
apart from the screen's own buttons so that a finger reaching for large text never cancels a step.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygame

from kiosk.view import Button
from screens import theme as th
from screens import widgets as w


def layout(buttons: Sequence[Button], theme: th.Theme) -> dict[str, pygame.Rect]:
    if not buttons:
        return {}
    band = theme.chrome_rect()
    gap = theme.px(20)
    left, width = theme.margin // 2, theme.width - theme.margin
    each = (width - gap * (len(buttons) - 1)) // len(buttons)
    top = band.top + (band.height - theme.chrome_height) // 2
    return {b.id: pygame.Rect(left + i * (each + gap), top, each, theme.chrome_height) for i, b in enumerate(buttons)}


def paint(c: w.Canvas, button: Button, rect: pygame.Rect, pressed: bool) -> None:
    t = c.theme
    c = w.Canvas(c.surface, t, c.texts, c.text, c.view, rect.copy(), c.rects)
    box = rect.inflate(-t.px(6), -t.px(6)) if pressed else rect
    bg = th.ACCENT_DARK if pressed else th.ACCENT
    pygame.draw.rect(c.surface, bg, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ON_ACCENT, box, width=t.px(3), border_radius=t.radius)
    label = c.t(button.label)
    inner = box.inflate(-2 * t.px(12), -2 * t.px(10))
    size = t.small
    # A label is one or two lines; it shrinks to its button rather than run out of it.
    lines = c.text.wrap(label, size, inner.width, True)
    while (len(lines) > 2 or len(lines) * c.text.line_height(size) > inner.height
           or max(c.text.width(tok.strip(), size, True) for tok in w.tokens(label)) > inner.width) \
            and size > t.px(26):  # never a word broken inside ("Englis / h")
        size -= 2
        lines = c.text.wrap(label, size, inner.width, True)
    lh = c.text.line_height(size)
    c.lines(lines, size, th.ON_ACCENT, box.centerx, box.centery - len(lines) * lh // 2, "center", strong=True)
