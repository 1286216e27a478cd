"""Screen `new_permit.done`: success; the permit number, its validity, the yearly endorsement.

Data `permit_number`, `valid_until` (YYYY-MM-DD), `no_phone` (the resident has no mobile number: where
to learn the endorsement's result instead of the SMS); button `confirm` (label: done).
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 6


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(100)
    top = c.body.top + t.px(20)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    y = c.title("done.title", top=top + 2 * radius + t.px(40), color=th.SUCCESS)
    for key, value in (
        ("done.permit_number", str(c.data.get("permit_number") or "—")),
        ("done.valid_until", c.texts.date(c.data.get("valid_until") or "—")),
    ):
        c.line(c.t(key), t.body, th.MUTED, c.body.centerx, y, "center")
        y += c.text.line_height(t.body)
        y = c.paragraph(
            value,
            pygame.Rect(c.body.left, y, c.body.width, c.text.line_height(t.title)),
            t.title,
            th.TEXT,
            "center",
            strong=True,
            fit=True,
        )
        y += t.px(20)
    y += t.gap
    y = c.banner(c.t("done.reminder"), y, "info")
    if c.data.get("no_phone") and y < c.body.bottom:
        # No mobile number: SH-END-4's SMS will not come; say where the resident learns the result.
        y = c.paragraph(c.t("done.no_phone"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                        t.body, th.WARNING, align="center", strong=True, fit=True) + t.gap
    if y < c.body.bottom:
        c.paragraph(
            c.t("done.take_id"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.subtitle,
            th.TEXT,
            align="center",
            fit=True,
        )
