"""Screen `fault`: a device or the approval system failed; go to another terminal.

Data: `reason` ("DEVICE_FAULT" | "BACKEND_UNAVAILABLE"), `card_retained` (bool), `service` (whose card
it was), optional `device` (the device kind that failed, said as what happened: `fault.what.<device>`),
optional `detail` ("decision_disagreed": the backend's decision failed the kiosk's own check, so nothing
was printed or rewritten), `referral_qr` (refusal.py), `retention_number` / `retention_qr` / `terminal`
(a kept card's record, shown instead of the referral code).
"""

from __future__ import annotations

import pygame

from screens import closing
from screens import theme as th
from screens import widgets as w
from screens.refusal import reason_key, referral, referral_room


def draw(c: w.Canvas) -> None:
    t = c.theme
    key = reason_key(c, c.data.get("reason") or "DEVICE_FAULT")
    # A kept card's number and code need the room: a smaller mark then
    numbered = bool(c.data.get("card_retained") and c.data.get("retention_number"))
    radius = t.px(60 if numbered else 100)
    top = c.body.top + t.px(20 if numbered else 40)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.ERROR)
    if c.data.get("detail") == "decision_disagreed":
        # Not "cannot reach": the approval system answered, and its answer failed the terminal's check.
        y = c.title("fault.disagreed.title", top=top + 2 * radius + t.px(40))
        qr_room = referral_room(c)
        c.paragraph(c.t("fault.disagreed.advice"),
                    pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y - qr_room),
                    t.subtitle, th.TEXT, align="center", fit=True)
        referral(c, c.body.bottom - qr_room)
        return
    y = c.title(f"{key}.title", top=top + 2 * radius + t.px(20 if numbered else 40))
    device = c.data.get("device")
    if device:
        # What happened to the resident, not the module's name (issue 13: no module names here).
        y = c.paragraph(
            c.t_opt(f"fault.what.{device}") or c.t("fault.what.other"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.body,
            th.MUTED,
            align="center",
        )
        y += t.gap
    if c.data.get("card_retained"):
        # A resident's own permit kept after a failed rewrite is not an approval withdrawn.
        kept = "fault.card_retained_rewrite" if c.data.get("service") == "card_rewrite" else "fault.card_retained"
        y = c.banner(c.t(kept), y, "warning")
        if c.data.get("retention_number"):
            # The kept card's number stands in for the referral code: one QR code on the screen.
            # The banner says what to bring; the code takes what room is left (large text scrolls).
            closing.retention_block(c, y, max(t.px(220), min(t.px(300), c.body.bottom - y - t.px(120))))
            return
    qr_room = referral_room(c)
    c.paragraph(
        c.t(f"{key}.advice"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y - qr_room),
        t.subtitle,
        th.TEXT,
        align="center",
        fit=True,
    )
    referral(c, c.body.bottom - qr_room)
