"""Help (View.help): a panel over the dimmed step with what this step asks of the resident, the
nearest service centre (name, address, hours) and the hotline from config, a "call staff"
button and one big close button. Not a trap: closing it leaves the step exactly as it was.

Drawn once into a cached surface (the panel's words do not change while it is open).
"""

from __future__ import annotations

import pygame

from kiosk.view import Help, View
from screens import theme as th
from screens import widgets as w
from screens.text import Texts
from screens.timeout_warning import Panel


def help_key(texts: Texts, step: str) -> str:
    """The step's own help text; a step without one (an unknown state) explains the kiosk in general."""
    key = f"help.step.{step}"
    return key if texts.has(key) else "help.step.default"


def build(help_view: Help, theme: th.Theme, texts: Texts, text: w.TextRenderer, view: View) -> Panel:
    top = theme.chrome_rect().bottom
    rect = pygame.Rect(theme.margin // 2, top, theme.width - theme.margin, theme.height - top - theme.margin // 2)
    surf = pygame.Surface(rect.size, 0, pygame.display.get_surface())
    surf.fill(th.PANEL)
    pygame.draw.rect(surf, th.ACCENT, surf.get_rect(), width=theme.px(8))
    pad = theme.px(40)
    inner = pygame.Rect(pad, pad, rect.width - 2 * pad, rect.height - 2 * pad)
    staff, close = help_view.buttons
    # Close at the bottom right, where every footer's primary is; staff beside it.
    local, buttons_top = w.rows_from_bottom([[staff, close]], theme, inner.bottom, inner.left, inner.width)
    body = pygame.Rect(inner.left, inner.top, inner.width, buttons_top - theme.gap - inner.top)
    c = w.Canvas(surf, theme, texts, text, view, body, local)
    y = c.title("help.title")
    rest = pygame.Rect(body.left, y, body.width, body.bottom - y)
    parts = [c.t(help_key(texts, help_view.step))]
    if help_view.centre_name:
        parts += [c.t("help.centre", name=help_view.centre_name),
                  c.t("help.address", address=help_view.centre_address),
                  c.t("help.hours", hours=help_view.centre_hours)]
    parts.append(c.t("help.hotline", hotline=help_view.hotline))
    if help_view.staff_called:
        parts.append(c.t("help.staff_coming"))
    # One paragraph per part, each wrapped; the whole shrinks (to the smallest legible size) if needed.
    size = theme.body
    # Large text's floor is its small size, then normal text's body size: help is read, not cut.
    floor = theme.px(42) if theme.large else theme.px(34)
    while size > floor and _height(c, parts, size, rest.width) > rest.height:
        size = max(floor, int(size * 0.92))
    for i, part in enumerate(parts):
        color = th.TEXT if i == 0 else th.ACCENT_DARK
        y = c.paragraph(part, pygame.Rect(rest.left, y, rest.width, body.bottom - y), size, color, strong=i > 0)
        y += theme.px(16)
    for b in help_view.buttons:
        w.paint_button(c, b, local[b.id])
    rects = {bid: r.move(rect.topleft) for bid, r in local.items()}
    return Panel(surf, rect, rects, pygame.Rect(0, 0, 0, 0))


def _height(c: w.Canvas, parts: list[str], size: int, width: int) -> int:
    return sum(c.lines_height(p, size, width, strong=i > 0) + c.theme.px(16) for i, p in enumerate(parts))
