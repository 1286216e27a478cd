"""Screen `registration.proof`: show the proof's QR code to the scanner, or type its number.

Data `kind` (the proof kind chosen), `digits` (typed so far, up to 20), `problem` (null | why the
scanned code was not a proof's: a PayloadProblem value), `scanner` (the scanner is up: the QR way
is offered). Buttons `key.0`..`key.9`, `key.del`, `confirm` (a number of 8 to 20 digits), `back`,
`cancel`.
"""

from __future__ import annotations

import pygame

from kiosk.view import View
from screens import theme as th
from screens import widgets as w
from screens.new_permit import phone

DYNAMIC = frozenset({"digits"})
__all__ = ["DYNAMIC", "animate", "animated", "draw", "layout"]


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    """The phone's keypad; the registration has no progress hint, so its band goes to the body
    (in large text English with the banner the words need every pixel, and scroll)."""
    return phone.layout(view, theme, with_progress=False)


def _box(c: w.Canvas, top: int) -> pygame.Rect:
    t = c.theme
    return pygame.Rect(c.body.left, top, c.body.width, c.text.line_height(t.title) + t.px(30))


def _top(c: w.Canvas) -> int:
    t = c.theme
    y = c.body.top + c.lines_height(c.t("reg_proof.title"), t.title, c.body.width, strong=True) + t.gap
    scan = c.t("reg_proof.scan") if c.data.get("scanner") else c.t("reg_proof.no_scanner")
    y += c.lines_height(scan, t.body, c.body.width) + t.gap
    problem = c.data.get("problem")
    if problem:  # the banner's own height (widgets.Canvas.banner), not a guess: English large wraps to 3+
        message = c.t_opt(f"reg_proof.problem.{problem}") or c.t("reg_proof.problem.other")
        pad = t.px(28)
        y += c.lines_height(message, t.subtitle, c.body.width - 2 * pad, strong=True) + 2 * pad + t.gap
    return y + c.lines_height(c.t("reg_proof.type"), t.body, c.body.width) + t.px(10)


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("reg_proof.title")
    scan = c.t("reg_proof.scan") if c.data.get("scanner") else c.t("reg_proof.no_scanner")
    y = c.paragraph(scan, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.TEXT,
                    align="center") + t.gap
    problem = c.data.get("problem")
    if problem:
        message = c.t_opt(f"reg_proof.problem.{problem}") or c.t("reg_proof.problem.other")
        y = c.banner(message, y, "error")
    y = c.paragraph(c.t("reg_proof.type"), pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body,
                    th.MUTED, align="center") + t.px(10)
    box = _box(c, y)
    c.reach(box)  # the typed number goes in it: it must be on the screen (or the body scrolls)
    pygame.draw.rect(c.surface, th.PANEL, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ACCENT, box, width=t.px(5), border_radius=t.radius)


def animated(c: w.Canvas) -> pygame.Rect:
    return _box(c, _top(c))


def animate(c: w.Canvas) -> None:
    t = c.theme
    box = _box(c, _top(c))
    digits = "".join(ch for ch in str(c.data.get("digits") or "") if ch.isdigit())[:20]
    text, size, color = (digits, t.title, th.TEXT) if digits else (c.t("reg_proof.placeholder"), t.body,
                                                                   th.DISABLED_TEXT)
    c.line(text, size, color, box.centerx, box.centery - c.text.line_height(size) // 2, "center", strong=bool(digits))
