"""Screen `registration.done`: declared; take your ID card. Button `confirm` (done)."""

from __future__ import annotations

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(100)
    top = c.body.top + t.px(40)
    w.check_mark(c.surface, (c.body.centerx, top + radius), radius, th.SUCCESS)
    y = c.title("reg_done.title", top=top + 2 * radius + t.px(40), color=th.SUCCESS)
    c.banner(c.t("reg_done.take_id"), y, "info")
