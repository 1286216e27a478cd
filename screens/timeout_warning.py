"""The idle warning (View.overlay): a panel over the dimmed screen with a countdown; the same
panel asks cancel's confirmation (`cancel_confirm.title`, overlay kind `cancel`), without a countdown.

The panel (frame, title, buttons) is drawn once into a small cached surface; the number and
the sentence with the seconds are drawn every frame over it, so the countdown costs two
cached blits a frame. Button rects are in window coordinates: touches are tested on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

from kiosk.view import Button, OverlayKind, View
from screens import theme as th
from screens import widgets as w
from screens.text import Texts


@dataclass
class Panel:
    surface: pygame.Surface
    rect: pygame.Rect
    rects: dict[str, pygame.Rect]
    countdown: pygame.Rect  # where the seconds go, in window coordinates


def panel_rect(theme: th.Theme) -> pygame.Rect:
    width = theme.width - 2 * theme.margin
    height = int(theme.height * (0.6 if theme.large else 0.46))
    rect = pygame.Rect(0, 0, width, height)
    rect.center = (theme.width // 2, theme.height // 2)
    return rect


def build(buttons: tuple[Button, ...], theme: th.Theme, texts: Texts, text: w.TextRenderer, view: View) -> Panel:
    rect = panel_rect(theme)
    surf = pygame.Surface(rect.size, 0, pygame.display.get_surface())
    surf.fill(th.PANEL)
    pygame.draw.rect(surf, th.ACCENT, surf.get_rect(), width=theme.px(8))
    pad = theme.px(48)
    inner = pygame.Rect(pad, pad, rect.width - 2 * pad, rect.height - 2 * pad)
    # Side by side, the primary (continue) on the right as in every footer.
    secondary = [b for b in buttons if w.is_secondary(b)]
    primary = [b for b in buttons if not w.is_secondary(b)]
    rows = [secondary + primary] if len(buttons) <= 3 else w.chunk(list(buttons), 2)
    local, top = w.rows_from_bottom(rows, theme, inner.bottom, inner.left, inner.width)
    body = pygame.Rect(inner.left, inner.top, inner.width, top - theme.gap - inner.top)
    c = w.Canvas(surf, theme, texts, text, view, body, local)
    kind = view.overlay.kind if view.overlay is not None else OverlayKind.IDLE
    if kind is OverlayKind.CANCEL:
        y = c.title("cancel_confirm.title")
        c.paragraph(c.t("cancel_confirm.body"), pygame.Rect(body.left, y, body.width, body.bottom - y),
                    theme.subtitle, th.TEXT, align="center", fit=True)
    else:
        y = c.title("overlay.title")
    for b in buttons:
        if b.id in local:
            w.paint_button(c, b, local[b.id])
    countdown = pygame.Rect(body.left, y, body.width, body.bottom - y).move(rect.topleft)
    rects = {bid: r.move(rect.topleft) for bid, r in local.items()}
    return Panel(surf, rect, rects, countdown)


def draw_countdown(c: w.Canvas, panel: Panel, seconds_left: int) -> None:
    t = c.theme
    seconds = max(0, int(seconds_left))
    area = panel.countdown
    number_size = t.px(150)
    c.line(str(seconds), number_size, th.ERROR, area.centerx, area.top, "center", strong=True)
    y = area.top + c.text.line_height(number_size)
    c.paragraph(
        c.t("overlay.body", seconds=seconds),
        pygame.Rect(area.left, y, area.width, area.bottom - y),
        t.subtitle,
        th.TEXT,
        align="center",
        fit=True,
    )
