"""Screen `goodbye`: thanks, take your ID card; a line for the outcome (data `outcome`)."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(110)
    top = c.body.top + int(c.body.height * 0.12)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.ACCENT)
    y = c.title("goodbye.title", top=top + 2 * radius + t.px(50))
    y = c.banner(c.t("goodbye.take_id"), y, "warning")
    outcome = c.data.get("outcome")
    line = c.t_opt(f"goodbye.outcome.{outcome}") if outcome else None
    if line:
        c.paragraph(
            line,
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.subtitle,
            th.TEXT,
            align="center",
            fit=True,
        )
