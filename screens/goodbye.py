"""Screen `goodbye`: what happened, truthfully (issue 13). A tick only when the resident was served;
"take your ID card" only when one was read.

Data `ending` (kiosk/flows/closing_views.EndingKind: issued, registered, card_rewritten, info_shown,
refused, fault, cancelled, timed_out, card_kept, nothing_done), `outcome` (the session's outcome),
`id_card_used` (bool), `service`. Texts goodbye.heading.<ending>, goodbye.outcome.<ending>.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

SERVED = frozenset({"issued", "registered", "card_rewritten", "info_shown"})


COUNTDOWN = "countdown.goodbye"  # what the seconds left lead to (screens/closing.countdown)

def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(110)
    top = c.body.top + int(c.body.height * 0.12)
    ending = str(c.data.get("ending") or "nothing_done")
    if ending in SERVED:
        w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.ACCENT)
    else:
        colour = th.WARNING if ending in ("card_kept", "fault") else th.MUTED
        w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, colour)
    y = c.title(f"goodbye.heading.{ending}" if c.texts.has(f"goodbye.heading.{ending}") else "goodbye.title",
                top=top + 2 * radius + t.px(50))
    if c.data.get("id_card_used"):
        y = c.banner(c.t("goodbye.take_id"), y, "warning")
    # A new permit's kept card was never the resident's: nothing to collect, the issue is void.
    new_card = ending == "card_kept" and c.data.get("service") == "new_permit"
    line = c.t_opt("goodbye.outcome.card_kept_new" if new_card else f"goodbye.outcome.{ending}")
    if line:
        c.paragraph(
            line,
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.subtitle,
            th.TEXT,
            align="center",
            fit=True,
        )
