"""Screen `diagnostics.pin`: the technician's PIN on the keypad.

Data `typed` (how many digits; the PIN itself never reaches a view), `wrong` (bool), `tries_left`,
`card_id`, `role`. Buttons `key.0`..`key.9`, `key.del`, `confirm`, `cancel` (the phone keypad's layout).
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w
from screens.new_permit.phone import layout as _phone_layout

layout = _phone_layout


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("diag.pin.title")
    y = c.paragraph(c.t("diag.pin.card", card=c.data.get("card_id", ""), role=c.data.get("role") or "-"),
                    pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.MUTED, align="center")
    box = pygame.Rect(c.body.left, y + t.gap, c.body.width, c.text.line_height(t.huge) + t.px(30))
    wrong = bool(c.data.get("wrong"))
    pygame.draw.rect(c.surface, th.PANEL, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ERROR if wrong else th.ACCENT, box, width=t.px(5), border_radius=t.radius)
    typed = int(c.data.get("typed") or 0)
    r = t.px(16)
    for i in range(typed):
        pygame.draw.circle(c.surface, th.TEXT, (box.centerx + (i - (typed - 1) / 2) * 4 * r, box.centery), r)
    y = box.bottom + t.gap
    if wrong:
        c.banner(c.t("diag.pin.wrong", left=c.data.get("tries_left", 0)), y, "error")
