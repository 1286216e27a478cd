"""Screen `registration.promise`: the electronic relationship promise letter (SH-REG-2) in full.

Data `relationship`, `address` (the proof's), `name` (the resident's, as the letter is theirs);
buttons `confirm` (I promise), `back`, `cancel`.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("reg_promise.title")
    relationship = c.t_opt(f"reg_relative.{c.data.get('relationship')}") or ""
    letter = c.t("reg_promise.letter", name=c.data.get("name") or "", relationship=relationship,
                 address=c.data.get("address") or "")
    box = pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y)
    pygame.draw.rect(c.surface, th.PANEL, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.BORDER, box, width=t.px(3), border_radius=t.radius)
    c.paragraph(letter, box.inflate(-t.px(48), -t.px(40)), t.body, th.TEXT, fit=True)
