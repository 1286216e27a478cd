"""Screen `new_permit.read_id`: place the ID card on the reader (drawn with shapes).

Data `error`: null | read_failed | unknown_card | reader_fault; button `cancel`.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 2


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("read_id.title")
    y = c.paragraph(
        c.t("read_id.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
    )
    y += t.gap
    error = c.data.get("error")
    message = c.t_opt(f"read_id.error.{error}") if error else None
    if error and message is None:
        message = c.t("read_id.error.other")
    if message:
        y = c.banner(message, y, "error")
    _illustration(c, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y))


def _illustration(c: w.Canvas, area: pygame.Rect) -> None:
    """The card above the reader with an arrow: put it down flat, here."""
    t = c.theme
    # Never left out (its label says where the card goes): smaller, or on the scrolled page.
    scale = max(0.45, min(1.0, area.height / t.px(760)))
    card = pygame.Rect(0, 0, int(t.px(440) * scale), int(t.px(278) * scale))
    card.midtop = (area.centerx, area.top + t.px(10))
    w.id_card(c.surface, card, t)
    arrow_top = card.bottom + t.px(20)
    arrow_len = int(t.px(140) * scale)
    w.arrow_down(c.surface, area.centerx, arrow_top, arrow_len, t.px(46), th.ACCENT)
    reader = pygame.Rect(0, 0, int(t.px(620) * scale), int(t.px(200) * scale))
    reader.midtop = (area.centerx, arrow_top + arrow_len + t.px(20))
    pygame.draw.rect(c.surface, th.ILLUSTRATION_DARK, reader, border_radius=t.px(30))
    pad = reader.inflate(-t.px(60), -t.px(50))
    pygame.draw.rect(c.surface, (52, 64, 84), pad, border_radius=t.px(20))
    pygame.draw.rect(c.surface, th.ACCENT_LIGHT, pad, width=t.px(4), border_radius=t.px(20))
    label = c.t("read_id.reader")
    c.line(label, t.small, th.ON_ACCENT, pad.centerx, pad.centery - c.text.line_height(t.small) // 2, "center")
