"""Screen `diagnostics.card_in`: the technician card is being read. No data, no buttons."""

from __future__ import annotations

from screens import widgets as w


def draw(c: w.Canvas) -> None:
    c.title("diag.card_in.title", top=c.body.top + c.theme.px(300))
    w.spinner(c.surface, (c.body.centerx, c.body.top + c.theme.px(700)), c.theme.px(90), None)
