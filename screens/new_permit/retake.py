"""Screen `new_permit.retake`: the photo did not match the ID card's photo the first time
(FACE_MISMATCH); one more photo is offered before the refusal. No data. Buttons `confirm`
(labelled `button.retake`), `cancel`.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 3


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(100)
    top = c.body.top + t.px(40)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.WARNING)
    y = c.title("retake.title", top=top + 2 * radius + t.px(40))
    y = c.paragraph(c.t("retake.body"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                    t.subtitle, th.TEXT, align="center")
    y += t.gap
    tips = ("light", "glasses", "hat")  # large text says the same, only larger
    c.bullets([c.t(f"retake.tip.{k}") for k in tips], y)
