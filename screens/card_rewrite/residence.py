"""Screen `card_rewrite.residence`: do you still live at the address your card holds? (SH-PMT-3,
SH-END-5: a resident who moved reports it at a service centre; the card face is not rewritten.)

Data `address` (the residence address on the card's chip); buttons `answer.yes`, `answer.no`,
`cancel` (which gives the card back first).
"""

from __future__ import annotations

import pygame

from kiosk.view import View
from screens import card_rewrite as cr
from screens import theme as th
from screens import widgets as w
from screens.new_permit import residence as question

PROGRESS = 3
paint_button = question.paint_button


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    return question.layout(view, theme)


def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    question.draw_question(c, "card_rewrite.residence")
