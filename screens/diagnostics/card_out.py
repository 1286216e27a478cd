"""Screen `diagnostics.card_out`: the technician card comes back at the slot, and why.

Data `problem` (revoked | expired | locked | not_a_technician_card | unreadable | no_chip | left |
idle | ...), `lockout_s` (with locked).
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("diag.card_out.title", top=c.body.top + t.px(200))
    problem = str(c.data.get("problem") or "left")
    text = c.t_opt(f"diag.card_out.{problem}", seconds=c.data.get("lockout_s", 0)) or c.t("diag.card_out.other")
    kind = "info" if problem in ("left", "idle") else "error"
    y = c.banner(text, y + t.gap, kind)
    c.paragraph(c.t("diag.card_out.take"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                t.subtitle, th.TEXT, align="center")
