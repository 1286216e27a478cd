"""Screen `diagnostics.free_path`: the technician card is at the slot, to free the card path for
the printer's feed test or test print. No data, no buttons."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("diag.free_path.title", top=c.body.top + t.px(300))
    c.paragraph(c.t("diag.free_path.body"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                t.subtitle, th.TEXT, align="center")
