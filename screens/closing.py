"""What the screens that end a session share (issue 13): the countdown band of a screen that moves
on by itself, and a QR code with its number in digits (a retention record, a referral).

The countdown is drawn every frame over the cached layer (View.countdown is not in the cache
key), so its tick costs one line of text.
"""

from __future__ import annotations

from dataclasses import replace

import pygame

from screens import qr
from screens import theme as th
from screens import widgets as w


def countdown(c: w.Canvas, band: pygame.Rect, seconds: int, key: str = "countdown.left", *,
              loud: bool = False) -> None:
    """The seconds left, in the words of the screen's module (`COUNTDOWN`: what happens then);
    `loud` (the last warning before a retract): larger and red."""
    t = c.theme
    size, colour = (t.subtitle, th.ERROR) if loud else (t.body, th.MUTED)
    text = c.t(key, seconds=max(0, int(seconds)))
    # Long words (English in large text) step down until the line fits the band's width, never
    # below normal text's size: the band is one line high, and its line stays inside it.
    floor = min(size, replace(t, large=False).body)
    while size > floor and c.text.width(text, size, True) > band.width:
        size = max(floor, int(size * 0.92))
    top = band.centery - c.text.line_height(size) // 2
    replace(c, body=band).line(text, size, colour, band.centerx, top, "center", strong=True)


def qr_block(c: w.Canvas, payload: str, top: int, side: int, caption: str | None = None) -> int:
    """The QR code of `payload`, about `side` px, centred at `top`; its caption (digits) under it.
    Returns the bottom."""
    code = qr.picture(c.text, payload, max(3, side // qr.modules(c.text, payload)))
    rect = code.get_rect(midtop=(c.body.centerx, top))
    c.surface.blit(code, rect)
    # A code below the body's bottom (a kept card's, under the banner in large text) makes the body
    # scroll as words would; it was drawn over the countdown band, and no reader could decode it.
    c.reach(rect)
    y = top + code.get_height() + c.theme.px(8)
    if caption:
        c.line(caption, c.theme.subtitle, th.TEXT, c.body.centerx, y, "center", strong=True)
        y += c.text.line_height(c.theme.subtitle)
    return y + c.theme.gap


def grouped(number: str) -> str:
    """Digits in fours, as read out on the phone to the service centre."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def retention_block(c: w.Canvas, top: int, side: int) -> int:
    """A kept card's number: QR code, digits, the terminal; or, without a record, nothing."""
    payload, number = c.data.get("retention_qr"), c.data.get("retention_number")
    if not payload or not number:
        return top
    y = c.paragraph(c.t("kept.number", number=grouped(str(number)), terminal=str(c.data.get("terminal") or "")),
                    pygame.Rect(c.body.left, top, c.body.width, c.body.bottom - top), c.theme.body, th.TEXT,
                    align="center", strong=True)
    return qr_block(c, str(payload), y + c.theme.px(8), side)
