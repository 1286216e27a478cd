"""Screen `out_of_service`: service suspended, which devices are down (data `down`), which supplies need
staff (data `supplies`: hopper_empty, reject_bin_full, card_stuck), where to go instead."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    radius = t.px(110)
    top = c.body.top + t.px(60)
    w.alert_mark(c.surface, (c.body.centerx, top + radius), radius, th.WARNING)
    y = c.title("out_of_service.title", top=top + 2 * radius + t.px(50))
    y = c.paragraph(
        c.t("out_of_service.body"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
    )
    down = c.data.get("down") or []
    if isinstance(down, str):
        down = [down]
    if down:
        y += t.gap * 2
        c.line(c.t("out_of_service.down_label"), t.body, th.MUTED, c.body.left, y)
        y += c.text.line_height(t.body) + t.px(10)
        names = [c.t_opt(f"resident_device.{kind}") or c.t("resident_device.other") for kind in down]
        y = c.bullets(list(dict.fromkeys(names)), y)
    supplies = c.data.get("supplies") or []
    if supplies:
        y += t.gap
        c.line(c.t("out_of_service.supplies_label"), t.body, th.MUTED, c.body.left, y)
        y += c.text.line_height(t.body) + t.px(10)
        c.bullets([c.t_opt(f"out_of_service.supply.{s}") or c.t("device.other") for s in supplies], y)
