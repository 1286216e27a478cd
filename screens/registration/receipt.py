"""Screen `registration.receipt`: the receipt to photograph, until the resident taps done.

Data `receipt_number` (drawn as a QR code, screens/qr.py, and as text), `declared`,
`permit_possible_on` (add_months(declared, 6)), `valid_through` (add_months(declared, 12) - 1 day),
`seconds_left` (the screen's countdown, `timeouts.receipt`); button `confirm` (done).
"""

from __future__ import annotations

import pygame

from screens import qr
from screens import theme as th
from screens import widgets as w

DYNAMIC = frozenset({"seconds_left"})


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("reg_receipt.title", color=th.SUCCESS)
    number = str(c.data.get("receipt_number") or "")
    if number:
        code = qr.picture(c.text, number, max(4, t.px(520) // qr.modules(c.text, number)))
        c.surface.blit(code, code.get_rect(midtop=(c.body.centerx, y)))
        y += code.get_height() + t.px(10)
        c.line(number, t.subtitle, th.TEXT, c.body.centerx, y, "center", strong=True)
        y += c.text.line_height(t.subtitle) + t.gap
    for key, field in (("reg_receipt.declared", "declared"), ("reg_receipt.permit_possible_on", "permit_possible_on"),
                       ("reg_receipt.valid_through", "valid_through")):
        # Wrapped in large text rather than run off the screen; the screen scrolls if need be.
        y = c.paragraph(f"{c.t(key)}  {c.texts.date(c.data.get(field) or '—')}",
                        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.TEXT, "center")
        y += t.px(8)
    y += t.gap
    if True:  # always said (never dropped for want of room)
        c.paragraph(c.t("reg_receipt.photograph"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
                    t.body, th.MUTED, align="center", fit=True)


def animated(c: w.Canvas) -> pygame.Rect:
    # The countdown's line at the body's bottom (shrunk, it is no taller than at t.small).
    height = c.text.line_height(c.theme.small)
    return pygame.Rect(c.body.left, c.body.bottom - height, c.body.width, height)


def animate(c: w.Canvas) -> None:
    # The countdown changes every second: drawn over the cached frame, so the code is not redrawn.
    t = c.theme
    text = c.t("reg_receipt.countdown", seconds=int(c.data.get("seconds_left") or 0))
    size = t.small
    size = c.text.shrink(text, size, t.px(30), c.body.width)  # one line, shrunk to the width (large text, English)
    c.line(text, size, th.MUTED, c.body.centerx, c.body.bottom - c.text.line_height(size), "center")
