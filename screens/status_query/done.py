"""Screen `status_query.done`: what was shown has been cleared; take the ID card. Button `confirm`."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

KEY = "status_query.done"


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(100)
    top = c.body.top + int(c.body.height * 0.1)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    y = c.title(f"{KEY}.title", top=top + 2 * radius + t.px(40))
    y = c.banner(c.t(f"{KEY}.cleared"), y, "info")
    c.paragraph(c.t(f"{KEY}.take_id"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                t.subtitle, th.TEXT, align="center", fit=True)
