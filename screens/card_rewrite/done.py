"""Screen `card_rewrite.done`: the card shows the new validity; endorse again next year.

Data `valid_from`, `valid_until` (YYYY-MM-DD), `printed` (the validity as the card now shows it,
"YYYY.MM.DD-YYYY.MM.DD"). Button `confirm` (label "done" via label."card_rewrite.done".confirm).
"""

from __future__ import annotations

import pygame

from screens import card_rewrite as cr
from screens import theme as th
from screens import widgets as w

PROGRESS = 5
KEY = "card_rewrite.done"

layout = cr.layout


def draw(c: w.Canvas) -> None:
    cr.progress(c, PROGRESS)
    t = c.theme
    radius = t.px(90)
    top = c.body.top + t.px(10)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    y = c.title(f"{KEY}.title", top=top + 2 * radius + t.px(30), color=th.SUCCESS)
    valid_from, valid_until = c.data.get("valid_from"), c.data.get("valid_until")
    if valid_from and valid_until:
        y = _period(c, y, c.t(f"{KEY}.period", start=c.texts.date(valid_from), end=c.texts.date(valid_until)))
    printed = c.data.get("printed")
    if printed:
        y = _printed(c, y, str(printed))
    y += t.gap
    # The next endorsement: within the 30 days before the new expiry date.
    reminder = c.t(f"{KEY}.reminder", date=c.texts.date(valid_until)) if valid_until else c.t("done.reminder")
    y = c.banner(reminder, y, "info")
    if y < c.body.bottom:
        c.paragraph(
            c.t(f"{KEY}.take_card"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.subtitle,
            th.TEXT,
            align="center",
            fit=True,
        )


def _period(c: w.Canvas, top: int, period: str) -> int:
    """The new validity in words under its label; returns the bottom."""
    t = c.theme
    c.line(c.t(f"{KEY}.validity"), t.body, th.MUTED, c.body.centerx, top, "center")
    y = top + c.text.line_height(t.body)
    # One line, smaller rather than a date broken in two (large text, long words).
    size = t.subtitle
    size = c.text.shrink(period, size, t.small, c.body.width, True)
    y = c.paragraph(
        period,
        pygame.Rect(c.body.left, y, c.body.width, 2 * c.text.line_height(size)),
        size,
        th.TEXT,
        "center",
        strong=True,
        fit=True,
    )
    return y + t.px(16)


def _printed(c: w.Canvas, top: int, printed: str) -> int:
    """The validity as the card prints it, in a strip like the card's; returns the bottom."""
    t = c.theme
    c.line(c.t(f"{KEY}.printed"), t.body, th.MUTED, c.body.centerx, top, "center")
    y = top + c.text.line_height(t.body) + t.px(8)
    pad = t.px(20)
    strip = pygame.Rect(c.body.left + t.px(60), y, c.body.width - t.px(120), c.text.line_height(t.title) + 2 * pad)
    pygame.draw.rect(c.surface, th.PANEL, strip, border_radius=t.px(12))
    pygame.draw.rect(c.surface, th.ACCENT, strip, width=t.px(5), border_radius=t.px(12))
    c.paragraph(printed, strip.inflate(-2 * pad, -2 * pad), t.title, th.TEXT, "center", strong=True, fit=True)
    return strip.bottom + t.gap
