"""Where a screen's buttons go by default: rows stacked up from the bottom of the content area,
the primary actions above, cancel and back together at the bottom (re-exported by widgets)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pygame

from kiosk.view import Button, ButtonStyle
from screens import theme as th


def is_secondary(button: Button) -> bool:
    return button.style == ButtonStyle.SECONDARY or button.id in ("cancel", "back")


def rows_from_bottom(
    rows: Sequence[Sequence[Button]], theme: th.Theme, bottom: int, left: int, width: int, height: int = 0
) -> tuple[dict[str, pygame.Rect], int]:
    """Rows of equal-width buttons stacked upwards from `bottom`; returns rects and the top."""
    gap = theme.gap
    h = height or theme.button_height
    rects: dict[str, pygame.Rect] = {}
    y = bottom
    for row in reversed(rows):
        y -= h
        n = len(row)
        w = (width - gap * (n - 1)) // n
        for i, b in enumerate(row):
            rects[b.id] = pygame.Rect(left + i * (w + gap), y, w, h)
        y -= gap
    return rects, y + gap


def chunk(items: Sequence[Button], n: int) -> list[list[Button]]:
    return [list(items[i : i + n]) for i in range(0, len(items), n)]


def footer_rows(buttons: Iterable[Button]) -> list[list[Button]]:
    """Primary actions each get a wide row; cancel/back share the bottom row, furthest from
    the primary so that a shaky finger does not end the session by mistake."""
    buttons = list(buttons)
    primary = [b for b in buttons if not is_secondary(b)]
    secondary = [b for b in buttons if is_secondary(b)]
    rows = [[b] for b in primary] if len(primary) <= 2 else chunk(primary, 2)
    rows += chunk(secondary, 3)
    return rows


def footer_layout(
    buttons: Sequence[Button], theme: th.Theme, with_progress: bool
) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    area = theme.content_rect(with_progress)
    rows = footer_rows(buttons)
    if not rows:
        return {}, area
    # Many buttons (an unknown screen): shrink them rather than run off the screen.
    limit = area.height * 0.6
    h = theme.button_height
    if len(rows) * (h + theme.gap) > limit:
        h = max(theme.px(90), int(limit / len(rows)) - theme.gap)
    rects, top = rows_from_bottom(rows, theme, area.bottom, area.left, area.width, h)
    body = pygame.Rect(area.left, area.top, area.width, top - theme.gap - area.top)
    return rects, body
