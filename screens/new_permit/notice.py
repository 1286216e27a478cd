"""Screen `new_permit.notice`: what the instant new permit needs (SH-PMT-3); `confirm`, `cancel`."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 1
ITEMS = ("id_card", "registration", "address", "photo", "free")


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("notice.title")
    y = c.paragraph(
        c.t("notice.intro"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.subtitle, th.TEXT
    )
    y += t.px(20)
    mark = t.px(24)
    size = t.body
    for item in ITEMS:
        w.check_mark(c.surface, (c.body.left + mark, y + c.text.line_height(size) // 2), mark, th.SUCCESS)
        indent = 3 * mark
        y = c.paragraph(
            c.t(f"notice.item.{item}"),
            pygame.Rect(c.body.left + indent, y, c.body.width - indent, c.body.bottom - y),
            size,
            th.TEXT,
        )
        y += t.px(18)
    y += t.gap
    if y < c.body.bottom:
        c.banner(c.t("notice.outro"), y, "info")
