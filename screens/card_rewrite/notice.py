"""Screen `card_rewrite.notice`: what the card-face update does and when it cannot be done here.

No data. Buttons `confirm` (label "start" via label."card_rewrite.notice".confirm), `cancel`.
"""

from __future__ import annotations

import pygame

from screens import card_rewrite as cr
from screens import theme as th
from screens import widgets as w

PROGRESS = 1
ITEMS = ("passed", "free", "minute", "returned")
LIMITS = ("not_passed", "not_due", "address")
KEY = "card_rewrite.notice"

layout = cr.layout


def _texts(c: w.Canvas, short: bool) -> tuple[str, tuple[str, ...], str, tuple[str, ...]]:
    """Intro, items, the heading of what is not possible, the limits; `short`: the fewer words
    of large-text mode (which always uses them)."""

    def get(key: str) -> str:
        return c.texts.get(key, c.large or short)

    return (
        get(f"{KEY}.intro"),
        tuple(get(f"{KEY}.item.{k}") for k in ITEMS),
        get(f"{KEY}.limits"),
        tuple(get(f"{KEY}.limit.{k}") for k in LIMITS),
    )


def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    t = c.theme
    top = c.title(f"{KEY}.title")
    pad = t.px(24)
    inner_w = c.body.width - 2 * pad

    def box_height(heading: str, limits: tuple[str, ...], size: int) -> int:
        return c.lines_height(heading, size, inner_w, strong=True) + cr.items_height(c, limits, size, inner_w) + 2 * pad

    # What the service does, then what cannot be done here in a pale amber box. When it all does
    # not fit (long words): one size smaller, then the short wording, then both.
    for short, size in ((False, t.body), (False, t.small), (True, t.body), (True, t.small)):
        intro, items, heading, limits = _texts(c, short)
        intro_size = t.subtitle if size == t.body else t.body
        need = (
            c.lines_height(intro, intro_size, c.body.width)
            + t.px(20)
            + cr.items_height(c, items, size)
            + t.gap
            + box_height(heading, limits, size)
        )
        if top + need <= c.body.bottom:
            break
    y = c.paragraph(intro, pygame.Rect(c.body.left, top, c.body.width, c.body.bottom - top), intro_size, th.TEXT)
    y += t.px(20)
    y = cr.marked_items(c, items, y, "check", size)
    y += t.gap - t.px(14)
    box = pygame.Rect(c.body.left, y, c.body.width, box_height(heading, limits, size))
    if box.bottom > c.body.bottom:
        return
    pygame.draw.rect(c.surface, th.WARNING_LIGHT, box, border_radius=t.radius)
    y = c.paragraph(
        heading,
        pygame.Rect(box.left + pad, box.top + pad, inner_w, box.height - pad),
        size,
        th.WARNING,
        strong=True,
    )
    inner = w.Canvas(c.surface, t, c.texts, c.text, c.view, box.inflate(-2 * pad, -2 * pad), c.rects)
    cr.marked_items(inner, limits, y, "alert", size)
