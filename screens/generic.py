"""Any screen id without a module of its own: a neutral title and the view's buttons.

The core may grow states before their screens exist; the kiosk must keep working.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    y = c.title("generic.title", top=c.body.top + int(c.body.height * 0.15))
    c.paragraph(
        c.t("generic.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        c.theme.subtitle,
        th.MUTED,
        align="center",
        fit=True,
    )
