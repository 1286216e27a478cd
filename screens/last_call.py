"""Screens `new_permit.last_call`, `card_rewrite.last_call`: the louder last warning before a card
left at the slot is taken back in. Red, large, with the seconds left (View.countdown) and the
sound cue (data `cue`, played through Display.on_cue).

Data `service`, `cue` ("retract_warning").
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

COUNTDOWN = "countdown.last_call"  # what the seconds left lead to (screens/closing.countdown)
COUNTDOWN_LOUD = True

def draw(c: w.Canvas) -> None:
    t = c.theme
    # Red edges: this screen is not like the one before.
    c.surface.fill(th.ERROR, pygame.Rect(0, c.body.top - t.px(30), c.surface.get_width(), t.px(24)))
    radius = t.px(110)
    top = c.body.top + t.px(60)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.ERROR)
    y = c.title("last_call.title", top=top + 2 * radius + t.px(40), color=th.ERROR)
    key = "last_call.body.rewrite" if c.data.get("service") == "card_rewrite" else "last_call.body.new"
    y = c.banner(c.t(key), y, "error")
    c.paragraph(c.t("last_call.more_time"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                t.subtitle, th.TEXT, align="center", fit=True)
