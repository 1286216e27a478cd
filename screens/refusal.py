"""Screen `refusal`: what happened and where to go instead (RULES.md reason codes).

Data: `reason` (a reason code), `available_on` (ISO date or null; REG_TOO_RECENT and
ENDORSEMENT_NOT_DUE show it), `offer` (null | the service whose `service.<name>` button is
offered: registration after NO_REGISTRATION and REG_EXPIRED), `referral_qr` (the QR payload with the
reason code and the date to come back: docs/protocols/resident-qr.md). Texts: reason.<CODE>.title /
.advice / .date, offer_hint.<service>.
"""

from __future__ import annotations

import pygame

from screens import closing
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
    qr_room = referral_room(c)
    y = c.paragraph(
        c.t(f"{key}.advice"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y - qr_room),
        t.subtitle,
        th.TEXT,
        align="center",
        fit=True,
    )
    offer = c.data.get("offer")
    if offer and y + t.gap < c.body.bottom - qr_room:
        # The remedy is a service of this kiosk: its button is below, this says what it does.
        y = c.banner(c.t_opt(f"offer_hint.{offer}") or c.t(f"offer.{offer}"), y + t.gap, "info")
    referral(c, c.body.bottom - qr_room)


QR_SIDE = 260  # px at 1080 wide: a phone camera reads it from arm's length


def _caption_height(c: w.Canvas) -> int:
    # As many lines as the caption wraps to (English in large text takes three).
    lines = len(c.text.wrap(c.t("referral.caption"), c.theme.small, c.body.width))
    return max(2, lines) * c.text.line_height(c.theme.small)


def referral_room(c: w.Canvas) -> int:
    """The room the referral QR code takes at the bottom of the body (0 without one)."""
    if not c.data.get("referral_qr"):
        return 0
    return c.theme.px(QR_SIDE + 40) + _caption_height(c) + c.theme.gap


def referral(c: w.Canvas, top: int) -> None:
    """The QR code with the reason code and the date to come back, to photograph and take away."""
    payload = c.data.get("referral_qr")
    if not payload:
        return
    caption = pygame.Rect(c.body.left, top, c.body.width, _caption_height(c))
    c.paragraph(c.t("referral.caption"), caption, c.theme.small, th.MUTED, align="center", fit=True)
    closing.qr_block(c, str(payload), caption.bottom, c.theme.px(QR_SIDE))
