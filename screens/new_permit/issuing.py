"""Screen `new_permit.issuing`: the permit is being made; do not leave.

Data `step`: "feed" | "print" | "present"; `tick` moves the spinner of the current step.
(The chip is not mentioned: residents neither need nor understand it.)
"""

from __future__ import annotations

import pygame

from screens import widgets as w

STEP = 6
DYNAMIC = frozenset({"tick"})
STEPS = ("feed", "print", "present")


def _rows(c: w.Canvas) -> list[pygame.Rect]:
    t = c.theme
    row_h = t.px(150)
    top = c.body.top + int(c.body.height * 0.42)
    return [
        pygame.Rect(c.body.left + t.px(40), top + i * row_h, c.body.width - t.px(80), row_h) for i in range(len(STEPS))
    ]


def _current(c: w.Canvas) -> int:
    step = c.data.get("step")
    return STEPS.index(step) if step in STEPS else 0


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("issuing.title", top=c.body.top + t.px(40))
    y = c.banner(c.t("issuing.body"), y, "warning")
    # The card being made, between the message and the steps.
    room = _rows(c)[0].top - t.gap - y
    if room > t.px(150):
        height = min(t.px(300), room)
        card = pygame.Rect(0, 0, int(height * 1.58), height)
        card.center = (c.body.centerx, y + room // 2)
        w.id_card(c.surface, card, t)
    w.step_list(c, [c.t(f"issuing.step.{name}") for name in STEPS], _rows(c), _current(c))


def animated(c: w.Canvas) -> pygame.Rect:
    row, mark = _rows(c)[_current(c)], c.theme.px(34)
    return w.spinner_area((row.left + mark, row.centery), mark)


def animate(c: w.Canvas) -> None:
    row = _rows(c)[_current(c)]
    mark = c.theme.px(34)
    tick = c.data.get("tick")
    w.spinner(c.surface, (row.left + mark, row.centery), mark, tick if isinstance(tick, int) else None)
