"""Screen `kept`: the kiosk kept a card (not taken in time, a rewrite or device fault). Its
retention number as a QR code and in digits, and what to bring to the service centre.

Data `retention_number` (digits, or null when the record could not be written), `retention_qr`
(the payload: docs/protocols/resident-qr.md), `terminal`, `service`, `reason`, `id_card_used`.
"""

from __future__ import annotations

import pygame

from screens import closing
from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(80)
    top = c.body.top + t.px(20)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.WARNING)
    service = "rewrite" if c.data.get("service") == "card_rewrite" else "new"
    y = c.title(f"kept.title.{service}", top=top + 2 * radius + t.px(30))
    y = c.banner(c.t(f"kept.what.{service}"), y, "warning")
    # The code shrinks to the room left (the header's controls, the countdown band), never under a
    # size a phone reads from arm's length; what still does not fit scrolls (large text).
    room = c.body.bottom - y - t.px(330)
    y = closing.retention_block(c, y, max(t.px(260), min(t.px(420), room)))
    c.paragraph(c.t("kept.bring" if c.data.get("retention_number") else "kept.bring_no_number"),
                pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.TEXT,
                align="center", fit=True)
