"""Screen `card_rewrite.insert_card`: put the permit into the slot below the screen, photo up.

Data `error`: null | "not_a_permit_card" | "unreadable" (the card has been pushed back out;
others: a generic retry line). Button `cancel`.
"""

from __future__ import annotations

import pygame

from screens import card_rewrite as cr
from screens import theme as th
from screens import widgets as w

PROGRESS = 2
KEY = "card_rewrite.insert_card"

layout = cr.layout


def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    t = c.theme
    y = c.title(f"{KEY}.title")
    y = c.paragraph(
        c.t(f"{KEY}.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
    )
    y += t.gap
    error = c.data.get("error")
    if error:
        y = c.banner(c.t_opt(f"{KEY}.error.{error}") or c.t(f"{KEY}.error.other"), y, "error")
    _illustration(c, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y))


def _illustration(c: w.Canvas, area: pygame.Rect) -> None:
    """The card, photo side up, above the slot, with an arrow into the slot."""
    t = c.theme
    # As big as the room allows, the slot at the bottom: nearest the real slot under the screen.
    # Never left out (its words say which side up and where): smaller, or on the scrolled page.
    scale = max(0.45, min(1.35, area.height / t.px(700)))
    size = t.small
    # Room for the slot's label and, when it cannot go beside the card, the caption under it.
    group_h = int((t.px(278) + t.px(150)) * scale) + t.px(110) + 2 * c.text.line_height(size)
    card = pygame.Rect(0, 0, int(t.px(440) * scale), int(t.px(278) * scale))
    card.midtop = (area.centerx, max(area.top + t.px(10), area.bottom - group_h - t.px(10)))
    cr.permit_card(c, card)
    caption = c.t(f"{KEY}.photo_up")
    cap_w = c.text.width(caption, size, True)
    arrow_top = card.bottom + t.px(20)
    if card.right + t.px(24) + cap_w <= area.right:
        c.line(caption, size, th.ACCENT_DARK, card.right + t.px(24), card.centery - size, strong=True)
    else:  # no room beside the card (large text): under it
        c.line(caption, size, th.ACCENT_DARK, area.centerx, arrow_top, "center", strong=True)
        arrow_top += c.text.line_height(size)
    arrow_len = int(t.px(150) * scale)
    w.arrow_down(c.surface, area.centerx, arrow_top, arrow_len, t.px(46), th.ACCENT)
    slot = cr.slot(c, (area.centerx, arrow_top + arrow_len + t.px(50)), int(t.px(620) * scale))
    label = c.t("card_rewrite.slot")
    c.line(label, size, th.MUTED, slot.centerx, slot.bottom + t.px(12), "center")
