"""Screen `new_permit.phone`: the mobile number for the permit's SMS notices.

Data `digits` (str, up to 11), `error` (null | "too_short" | "not_mobile": kiosk/phone.py). Buttons
`key.0`..`key.9`, `key.del` (style KEY) as a phone keypad, `confirm` (on once a digit is typed),
`choice.no_phone` (the resident has no mobile number), `back`, `cancel`.
"""

from __future__ import annotations

import pygame

from kiosk.view import View
from screens import theme as th
from screens import widgets as w

STEP = 5
DYNAMIC = frozenset({"digits"})
# The familiar phone layout, delete at the bottom right where payment keypads have it.
GRID = (
    ("key.1", "key.2", "key.3"),
    ("key.4", "key.5", "key.6"),
    ("key.7", "key.8", "key.9"),
    (None, "key.0", "key.del"),
)


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    known = {k for row in GRID for k in row if k}
    keys = {b.id for b in view.buttons if b.id in known}
    others = [b for b in view.buttons if b.id not in known]
    rects, body = w.footer_layout(others, theme, with_progress=True)
    if not keys:
        return rects, body
    gap = theme.px(20)
    key_h = theme.key_height
    width = min(body.width, theme.px(840))
    key_w = (width - 2 * gap) // 3
    left = body.centerx - width // 2
    bottom = body.bottom
    top = bottom - len(GRID) * key_h - (len(GRID) - 1) * gap
    for r, row in enumerate(GRID):
        for col, kid in enumerate(row):
            if kid in keys:
                rects[kid] = pygame.Rect(left + col * (key_w + gap), top + r * (key_h + gap), key_w, key_h)
    return rects, pygame.Rect(body.left, body.top, body.width, top - theme.gap - body.top)


def _grouped(digits: str) -> str:
    # 3-4-4, as Chinese mobile numbers are read aloud and printed.
    return " ".join(p for p in (digits[:3], digits[3:7], digits[7:11]) if p)


def _box(c: w.Canvas) -> pygame.Rect:
    t = c.theme
    title_h = c.lines_height(c.t("phone.title"), t.title, c.body.width, strong=True) + t.gap
    return pygame.Rect(c.body.left, c.body.top + title_h, c.body.width, c.text.line_height(t.huge) + t.px(30))


def draw(c: w.Canvas) -> None:
    t = c.theme
    c.title("phone.title")
    box = _box(c)
    error = c.data.get("error")
    border = th.ERROR if error else th.ACCENT
    pygame.draw.rect(c.surface, th.PANEL, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, border, box, width=t.px(5), border_radius=t.radius)
    y = box.bottom + t.gap
    if error:
        y = c.banner(c.t_opt(f"phone.error.{error}") or c.t("phone.error.invalid"), y, "error")
    elif y < c.body.bottom:
        y = c.paragraph(
            c.t("phone.body"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.body,
            th.MUTED,
            align="center",
            fit=True,
        )
    if any(b.id == "choice.no_phone" for b in c.view.buttons) and y + t.px(10) < c.body.bottom:
        # What the "no mobile number" button means, before it is pressed.
        c.paragraph(c.t("phone.no_phone_hint"), pygame.Rect(c.body.left, y + t.px(10), c.body.width,
                                                             c.body.bottom - y - t.px(10)),
                    t.small, th.MUTED, align="center", fit=True)


def animate(c: w.Canvas) -> None:
    # The digits are drawn every frame so that a key press shows without rebuilding the screen.
    t = c.theme
    box = _box(c)
    digits = "".join(ch for ch in str(c.data.get("digits") or "") if ch.isdigit())[:11]
    if digits:
        top = box.centery - c.text.line_height(t.huge) // 2
        c.line(_grouped(digits), t.huge, th.TEXT, box.centerx, top, "center", strong=True)
    else:
        top = box.centery - c.text.line_height(t.body) // 2
        c.line(c.t("phone.placeholder"), t.body, th.DISABLED_TEXT, box.centerx, top, "center")
