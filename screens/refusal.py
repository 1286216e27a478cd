"""Screen `refusal`: what happened and where to go instead (RULES.md reason codes).

Data: `reason` (a reason code), `available_on` (ISO date or null; REG_TOO_RECENT and
ENDORSEMENT_NOT_DUE show it), `offer` (null | the service whose `service.<name>` button is
offered: registration after NO_REGISTRATION and REG_EXPIRED). Texts: reason.<CODE>.title /
.advice / .date, offer_hint.<service>.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def reason_key(c: w.Canvas, reason: object) -> str:
    code = str(reason or "")
    return f"reason.{code}" if c.texts.has(f"reason.{code}.title") else "reason.unknown"


def draw(c: w.Canvas) -> None:
    t = c.theme
    key = reason_key(c, c.data.get("reason"))
    radius = t.px(100)
    top = c.body.top + t.px(40)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.ACCENT)
    y = c.title(f"{key}.title", top=top + 2 * radius + t.px(40))
    available_on = c.data.get("available_on")
    if available_on:
        date_text = c.t_opt(f"{key}.date", date=c.texts.date(available_on))
        if date_text:
            y = c.banner(date_text, y, "info")
    y = c.paragraph(
        c.t(f"{key}.advice"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
        fit=True,
    )
    offer = c.data.get("offer")
    if offer and y + t.gap < c.body.bottom:
        # The remedy is a service of this kiosk: its button is below, this says what it does.
        c.banner(c.t_opt(f"offer_hint.{offer}") or c.t(f"offer.{offer}"), y + t.gap, "info")
