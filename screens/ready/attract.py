"""Screen `ready.attract`: welcome, what this terminal offers and what is unavailable.

Data `services`: [{"id": service, "available": bool}]. The one button `start` covers the
whole screen under the header (an elderly resident touches anywhere); it is drawn as a
pill at the bottom so that it reads as "touch here".
"""

from __future__ import annotations

import pygame

from kiosk.view import Button, View
from screens import theme as th
from screens import widgets as w


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    others = [b for b in view.buttons if b.id != "start"]
    rects, body = w.footer_layout(others, theme, with_progress=False)
    if any(b.id == "start" for b in view.buttons):
        top = theme.chrome_rect().bottom  # under the header's controls, never over them
        rects["start"] = pygame.Rect(0, top, theme.width, body.bottom - top)
        # The pill sits in the bottom of the start area; keep the text above it.
        body = pygame.Rect(body.left, body.top, body.width, body.height - theme.button_height - 2 * theme.gap)
    return rects, body


def paint_button(c: w.Canvas, button: Button, rect: pygame.Rect, pressed: bool = False) -> None:
    if button.id != "start":
        w.paint_button(c, button, rect, pressed)
        return
    t = c.theme
    pill = pygame.Rect(0, 0, rect.width - 2 * t.margin, t.button_height + t.px(20))
    pill.midbottom = (rect.centerx, rect.bottom - t.margin)
    w.paint_button(c, Button(button.id, button.label, button.enabled, button.style), pill, pressed)


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.body.top + t.px(30)
    card = pygame.Rect(0, 0, t.px(420), t.px(265))
    card.midtop = (c.body.centerx, y)
    w.id_card(c.surface, card, t)
    y = card.bottom + t.px(50)
    y = c.title("attract.title", top=y)
    y = c.paragraph(
        c.t("attract.subtitle"),
        pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
        t.subtitle,
        th.ACCENT_DARK,
        align="center",
        strong=True,
    )
    services = [s for s in (c.data.get("services") or []) if isinstance(s, dict) and s.get("id")]
    available = [str(s["id"]) for s in services if s.get("available")]
    unavailable = [str(s["id"]) for s in services if not s.get("available")]
    y += t.gap * 2
    if available:
        c.line(c.t("attract.available"), t.body, th.MUTED, c.body.left, y, strong=True)
        y += c.text.line_height(t.body) + t.px(10)
        y = _services(c, available, y, ok=True)
    if unavailable:
        y += t.gap
        c.line(c.t("attract.unavailable"), t.body, th.MUTED, c.body.left, y, strong=True)
        y += c.text.line_height(t.body) + t.px(10)
        _services(c, unavailable, y, ok=False)


def _services(c: w.Canvas, ids: list[str], top: int, ok: bool) -> int:
    t = c.theme
    size = t.subtitle
    lh = c.text.line_height(size)
    mark = t.px(26)
    y = top
    for sid in ids:
        center = (c.body.left + mark, y + lh // 2)
        if ok:
            w.check_mark(c.surface, center, mark, th.SUCCESS)
            text = c.t(f"service.{sid}")
            color = th.TEXT
        else:
            pygame.draw.circle(c.surface, th.DISABLED_TEXT, center, mark)
            pygame.draw.line(
                c.surface,
                th.ON_ACCENT,
                (center[0] - mark // 2, center[1]),
                (center[0] + mark // 2, center[1]),
                max(3, mark // 4),
            )
            text = c.t("attract.unavailable_item", service=c.t(f"service.{sid}"))
            color = th.DISABLED_TEXT
        # Wrapped, never cut: a long English name takes two lines (or the screen scrolls).
        left = c.body.left + 3 * mark
        y = c.paragraph(text, pygame.Rect(left, y, c.body.right - left, c.body.bottom - y), size, color)
        y += t.px(8)
    return y
