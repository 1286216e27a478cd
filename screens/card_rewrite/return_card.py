"""Screen `card_rewrite.return_card`: take the card back from the slot below the screen.

Data `rewritten` (bool): true → the card has been updated; false → it has not been changed and
the reason follows on the next screen. No buttons.
"""

from __future__ import annotations

import pygame

from screens import card_rewrite as cr
from screens import theme as th
from screens import widgets as w

PROGRESS = 5
KEY = "card_rewrite.return_card"

layout = cr.layout


COUNTDOWN = "countdown.take_card"  # what the seconds left lead to (screens/closing.countdown)

def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    t = c.theme
    rewritten = c.data.get("rewritten") is True
    radius = t.px(80)
    top = c.body.top + t.px(20)
    if rewritten:
        w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    else:
        w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.ACCENT)
    y = c.title(f"{KEY}.title", top=top + 2 * radius + t.px(30))
    key, kind = ("rewritten", "success") if rewritten else ("unchanged", "info")
    y = c.banner(c.t(f"{KEY}.{key}"), y, kind)
    y = c.paragraph(
        c.t(f"{KEY}.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
    )
    # The slot is under the screen: the card half out of it, arrows pointing down to it.
    slot_y = c.body.bottom - t.px(50)
    card = pygame.Rect(0, 0, t.px(420), t.px(230))
    card.midbottom = (c.body.centerx, slot_y)
    arrow_len = min(t.px(260), card.top - t.px(30) - y - t.gap)
    if arrow_len > t.px(80):
        arrow_top = card.top - t.px(30) - arrow_len
        for dx in (-t.px(200), 0, t.px(200)):
            w.arrow_down(c.surface, c.body.centerx + dx, arrow_top, arrow_len, t.px(50), th.ACCENT)
    if card.top >= y:
        cr.permit_card(c, card, strip=rewritten)
        cr.slot(c, (c.body.centerx, slot_y), t.px(640))
