"""Screen `card_rewrite.rewrite`: the card is being updated; do not pull it, do not leave.

Data `step`: "chip" | "erase" | "print" (three steps, the current one spinning; the first is
worded as "record the new validity", not as the chip); `tick` moves the spinner.
"""

from __future__ import annotations

import pygame

from screens import card_rewrite as cr
from screens import widgets as w

PROGRESS = 4
DYNAMIC = frozenset({"tick"})
STEPS = ("chip", "erase", "print")
KEY = "card_rewrite.rewrite"

layout = cr.layout


def _rows(c: w.Canvas) -> list[pygame.Rect]:
    t = c.theme
    row_h = t.px(150)
    top = c.body.bottom - len(STEPS) * row_h
    return [
        pygame.Rect(c.body.left + t.px(40), top + i * row_h, c.body.width - t.px(80), row_h) for i in range(len(STEPS))
    ]


def _current(c: w.Canvas) -> int:
    step = c.data.get("step")
    return STEPS.index(step) if step in STEPS else 0


def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    t = c.theme
    y = c.title(f"{KEY}.title", top=c.body.top + t.px(40))
    y = c.banner(c.t(f"{KEY}.body"), y, "warning")
    # The card between the message and the steps, its validity line outlined: that is what changes.
    room = _rows(c)[0].top - t.gap - y
    if room > t.px(150):
        height = min(t.px(300), room)
        card = pygame.Rect(0, 0, int(height * 1.58), height)
        card.center = (c.body.centerx, y + room // 2)
        cr.permit_card(c, card, strip=True)
    w.step_list(c, [c.t(f"{KEY}.step.{name}") for name in STEPS], _rows(c), _current(c))


def animated(c: w.Canvas) -> pygame.Rect:
    row, mark = _rows(c)[_current(c)], c.theme.px(34)
    return w.spinner_area((row.left + mark, row.centery), mark)


def animate(c: w.Canvas) -> None:
    row = _rows(c)[_current(c)]
    mark = c.theme.px(34)
    tick = c.data.get("tick")
    w.spinner(c.surface, (row.left + mark, row.centery), mark, tick if isinstance(tick, int) else None)
