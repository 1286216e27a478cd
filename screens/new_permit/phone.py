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


# Large text: keys 1.5x as high do not fit four rows; four columns of three rows do.
GRID_LARGE = (
    ("key.1", "key.2", "key.3", "key.del"),
    ("key.4", "key.5", "key.6", "key.0"),
    ("key.7", "key.8", "key.9", None),
)


def layout(view: View, theme: th.Theme, with_progress: bool = True) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    """The keypad above the footer; `with_progress`: room is kept for the progress hint (a screen
    without one, as the registration's, gives that band to its body)."""
    known = {k for row in GRID for k in row if k}
    keys = {b.id for b in view.buttons if b.id in known}
    others = [b for b in view.buttons if b.id not in known]
    # Under two rows of footer (confirm; no mobile number, back or cancel) the 4-by-3 keypad leaves
    # the body room for its words (the phone's hint, an error, the technician's wrong-PIN banner),
    # which the 3-by-4 pushed onto a scrolling page.
    grid = GRID_LARGE if theme.large or len(w.footer_rows(others)) > 1 else GRID
    if theme.large and others:
        # One row for the rest (cancel at the left, confirm at the right): the keys need the height.
        area = theme.content_rect(with_progress)
        order = sorted(others, key=lambda b: (not w.is_secondary(b), b.id != "cancel"))
        rects, top = w.rows_from_bottom([order], theme, area.bottom, area.left, area.width)
        body = pygame.Rect(area.left, area.top, area.width, top - theme.gap - area.top)
    else:
        rects, body = w.footer_layout(others, theme, with_progress=with_progress)
    if not keys:
        return rects, body
    gap = theme.px(20)
    # Large text's keys: 1.5x the 120 px floor (180), so that the number and its words keep room.
    key_h = theme.big(th.MIN_TARGET) if theme.large else theme.key_height
    cols = len(grid[0])
    width = min(body.width, theme.px(840)) if cols == 3 else body.width
    key_w = (width - (cols - 1) * gap) // cols
    left = body.centerx - width // 2
    bottom = body.bottom
    top = bottom - len(grid) * key_h - (len(grid) - 1) * gap
    for r, row in enumerate(grid):
        for col, kid in enumerate(row):
            if kid in keys:
                rects[kid] = pygame.Rect(left + col * (key_w + gap), top + r * (key_h + gap), key_w, key_h)
    return rects, pygame.Rect(body.left, body.top, body.width, top - theme.gap - body.top)


def _grouped(digits: str) -> str:
    # 3-4-4, as Chinese mobile numbers are read aloud and printed.
    return " ".join(p for p in (digits[:3], digits[3:7], digits[7:11]) if p)


def _box(c: w.Canvas) -> pygame.Rect:
    t = c.theme
    title_h = c.lines_height(c.t("phone.title"), _title_size(t), c.body.width, strong=True) + t.gap
    return pygame.Rect(c.body.left, c.body.top + title_h, c.body.width, c.text.line_height(_digit_size(t)) + t.px(30))


def _digit_size(t: th.Theme) -> int:
    # The typed number as big as the title in large text (the keys need the rest of the height).
    return t.title if t.large else t.huge


def _title_size(t: th.Theme) -> int:
    return t.subtitle if t.large else t.title


def draw(c: w.Canvas) -> None:
    t = c.theme
    c.paragraph(c.t("phone.title"), c.body, _title_size(t), th.TEXT, align="center", strong=True)
    box = _box(c)
    error = c.data.get("error")
    border = th.ERROR if error else th.ACCENT
    c.reach(box)  # the typed number goes in it: it must be on the screen (or the body scrolls)
    pygame.draw.rect(c.surface, th.PANEL, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, border, box, width=t.px(5), border_radius=t.radius)
    y = box.bottom + t.gap
    message = (c.t_opt(f"phone.error.{error}") or c.t("phone.error.invalid")) if error else ""
    pad = t.px(28)
    boxed = bool(error) and not t.large and (
        c.lines_height(message, t.subtitle, c.body.width - 2 * pad, strong=True) + 2 * pad <= c.body.bottom - y)
    if error and not boxed:
        # No room for a banner's box over the keys (large text, a long message over the 4x3 keypad):
        # the same words in the error colour, fitted, never cut off behind a scroll.
        c.paragraph(message, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.ERROR,
                    align="center", strong=True, fit=True)
    elif error:
        y = c.banner(message, y, "error")
    else:  # always said: without room the screen scrolls, never drops it
        y = c.paragraph(
            c.t("phone.body"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.body,
            th.MUTED,
            align="center",
            fit=True,
        )
    hint = c.t("phone.no_phone_hint")
    room = c.body.bottom - y - t.px(10)
    if any(b.id == "choice.no_phone" for b in c.view.buttons) and (
            t.large or c.lines_height(hint, t.small, c.body.width) <= room):
        # What the "no mobile number" button means, before it is pressed. In standard text only
        # where it fits whole: under an error message it would be cut or push the screen to scroll
        # (the button's own words still say it).
        c.paragraph(hint, pygame.Rect(c.body.left, y + t.px(10), c.body.width, room), t.small, th.MUTED,
                    align="center", fit=True)


def animated(c: w.Canvas) -> pygame.Rect:
    return _box(c)


def animate(c: w.Canvas) -> None:
    # The digits are drawn every frame so that a key press shows without rebuilding the screen.
    t = c.theme
    box = _box(c)
    digits = "".join(ch for ch in str(c.data.get("digits") or "") if ch.isdigit())[:11]
    if digits:
        size = _digit_size(t)
        top = box.centery - c.text.line_height(size) // 2
        c.line(_grouped(digits), size, th.TEXT, box.centerx, top, "center", strong=True)
    else:
        top = box.centery - c.text.line_height(t.body) // 2
        c.line(c.t("phone.placeholder"), t.body, th.DISABLED_TEXT, box.centerx, top, "center")
