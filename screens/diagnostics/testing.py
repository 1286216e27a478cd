"""Screen `diagnostics.testing`: self-tests running. Data `testing` ("device.test" now), `tests`."""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w
from screens.diagnostics.board import device_name


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("diag.testing.title", top=c.body.top + t.px(200))
    now = str(c.data.get("testing") or "")
    if now:
        device, _, test = now.partition(".")
        words = c.t("diag.testing.now", device=device_name(c, device), test=c.t_opt(f"diag.test.{test}") or test)
        y = c.paragraph(words, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.subtitle, th.ACCENT_DARK,
                        "center", strong=True) - c.text.line_height(t.subtitle)
    w.spinner(c.surface, (c.body.centerx, y + t.px(300)), t.px(90), None)
