"""Screen `new_permit.take_card`: take the permit from the card slot below the screen."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 6


COUNTDOWN = "countdown.take_card"  # what the seconds left lead to (screens/closing.countdown)

def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(90)
    top = c.body.top + t.px(40)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    y = c.title("take_card.title", top=top + 2 * radius + t.px(40))
    y = c.paragraph(
        c.t("take_card.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
    )
    # The slot is under the screen: a card half out of a slot and arrows pointing down to it.
    slot_y = c.body.bottom - t.px(60)
    slot = pygame.Rect(0, 0, t.px(640), t.px(44))
    slot.center = (c.body.centerx, slot_y)
    card = pygame.Rect(0, 0, t.px(420), t.px(230))
    card.midbottom = (slot.centerx, slot.centery)
    arrow_len = min(t.px(320), card.top - t.px(30) - y - t.gap)
    arrow_top = card.top - t.px(30) - arrow_len
    if arrow_len > t.px(80):
        for dx in (-t.px(200), 0, t.px(200)):
            w.arrow_down(c.surface, c.body.centerx + dx, arrow_top, arrow_len, t.px(50), th.ACCENT)
    pygame.draw.rect(c.surface, (228, 240, 252), card, border_radius=t.px(16))
    pygame.draw.rect(c.surface, th.ACCENT, card, width=t.px(5), border_radius=t.px(16))
    pygame.draw.rect(c.surface, th.ILLUSTRATION_DARK, slot, border_radius=t.px(22))
