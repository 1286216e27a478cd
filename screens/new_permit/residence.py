"""Screen `new_permit.residence`: do you still live at the registered address? (SH-PMT-3)

Data `address`; buttons `answer.yes`, `answer.no` (two big answers side by side, each
with a plain-words hint under it), `cancel` at the bottom.
"""

from __future__ import annotations

import pygame

from kiosk.view import Button, View
from screens import theme as th
from screens import widgets as w

STEP = 2
ANSWERS = ("answer.yes", "answer.no")


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    answers = [b for b in view.buttons if b.id in ANSWERS]
    rects, body = w.footer_layout([b for b in view.buttons if b.id not in ANSWERS], theme, with_progress=True)
    if answers:
        height = theme.big(260)  # large text: 1.5x the answers (issue 13)
        row, top = w.rows_from_bottom([answers], theme, body.bottom, body.left, body.width, height)
        rects.update(row)
        body = pygame.Rect(body.left, body.top, body.width, top - theme.gap * 2 - body.top)
    return rects, body


def paint_button(c: w.Canvas, button: Button, rect: pygame.Rect, pressed: bool = False) -> None:
    hint = c.t_opt(f"residence.hint.{button.id.split('.')[-1]}") if button.id in ANSWERS else None
    w.paint_button(c, button, rect, pressed, caption=hint)


def draw(c: w.Canvas) -> None:
    draw_question(c, "residence")


def draw_question(c: w.Canvas, key: str) -> None:
    """The question, the address in a box, and what a move means; texts under `key`."""
    t = c.theme
    y = c.title(f"{key}.title")
    # A paragraph, not a line: English in large text needs two.
    y = c.paragraph(c.t(f"{key}.address_label"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                    t.body, th.MUTED) + t.px(10)
    address = str(c.data.get("address") or "")
    pad = t.px(32)
    room = pygame.Rect(c.body.left + pad, y + pad, c.body.width - 2 * pad, c.body.bottom - y - 2 * pad)
    size = t.title
    while size > t.body and c.lines_height(address, size, room.width, strong=True) > room.height:
        size = int(size * 0.9)
    height = min(room.height, c.lines_height(address, size, room.width, strong=True))
    box = pygame.Rect(c.body.left, y, c.body.width, height + 2 * pad)
    pygame.draw.rect(c.surface, th.ACCENT_LIGHT, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ACCENT, box, width=t.px(4), border_radius=t.radius)
    c.paragraph(address, box.inflate(-2 * pad, -2 * pad), size, th.TEXT, strong=True, fit=True)
    y = box.bottom + t.gap
    if True:  # always said: without room it scrolls (screens/scroll.py), never dropped
        c.paragraph(
            c.t(f"{key}.body"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.body,
            th.MUTED,
            fit=True,
        )
