"""Screen `fault`: a device or the approval system failed; go to another terminal.

Data: `reason` ("DEVICE_FAULT" | "BACKEND_UNAVAILABLE"), `card_retained` (bool), `service` (whose card it was), optional
`device` (the device kind that failed), optional `detail` ("decision_disagreed": the backend's
decision failed the kiosk's own check, so nothing was printed or rewritten).
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w
from screens.refusal import reason_key


def draw(c: w.Canvas) -> None:
    t = c.theme
    key = reason_key(c, c.data.get("reason") or "DEVICE_FAULT")
    radius = t.px(100)
    top = c.body.top + t.px(40)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.ERROR)
    if c.data.get("detail") == "decision_disagreed":
        # Not "cannot reach": the approval system answered, and its answer failed the terminal's check.
        y = c.title("fault.disagreed.title", top=top + 2 * radius + t.px(40))
        c.paragraph(c.t("fault.disagreed.advice"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                    t.subtitle, th.TEXT, align="center", fit=True)
        return
    y = c.title(f"{key}.title", top=top + 2 * radius + t.px(40))
    device = c.data.get("device")
    if device:
        name = c.t_opt(f"device.{device}") or c.t("device.other")
        y = c.paragraph(
            c.t("fault.device", device=name),
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
    c.paragraph(
        c.t(f"{key}.advice"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
        fit=True,
    )
