"""What the registration screens share: a title with a paragraph, a grid of answers, a framed box."""

from __future__ import annotations

import math
from collections.abc import Callable

import pygame

from kiosk.view import Button, View
from screens import theme as th
from screens import widgets as w


def is_choice(b: Button) -> bool:
    return b.id.startswith("choice.")


Layout = Callable[[View, th.Theme], tuple[dict[str, pygame.Rect], pygame.Rect]]


def choice_layout(title_room: int, cols: int = 2, large_room: int | None = None) -> Layout:
    """A layout: the `choice.*` buttons in a grid under `title_room` px of title, the rest in the footer.
    `large_room`: the title's room in large text, when 1.5x `title_room` is not enough (a two-line
    English title over a two-line hint ran into the first answer).

    Large text's cells are at least 1.5x the normal ones (issue 13's touch targets): when that many
    rows do not fit, the grid runs on below the body, which then holds title and choices and
    scrolls (the Display's page, screens/scroll.py: the choices are `ON_PAGE`) instead of shrinking."""

    def cells(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect, int]:
        choices = [b for b in view.buttons if is_choice(b)]
        rects, body = w.footer_layout([b for b in view.buttons if not is_choice(b)], theme, with_progress=False)
        if not choices:
            return rects, body, 0
        # large text: a title 1.5x as big needs 1.5x the room (or more: large_room)
        top_h = theme.big(large_room if theme.large and large_room is not None else title_room)
        area = pygame.Rect(body.left, body.top + top_h, body.width, body.height - top_h)
        n_cols = min(cols, len(choices))
        n_rows = math.ceil(len(choices) / n_cols)
        gap = theme.px(20)
        cell_h = min(theme.big(200), (area.height - gap * (n_rows - 1)) // n_rows)
        if theme.large:
            normal = cells(view, th.Theme(theme.width, theme.height))[2]
            cell_h = max(cell_h, math.ceil(normal * th.LARGE), theme.px(th.MIN_TARGET))
        cell_w = (area.width - gap * (n_cols - 1)) // n_cols
        for i, b in enumerate(choices):
            row, col = divmod(i, n_cols)
            rects[b.id] = pygame.Rect(area.left + col * (cell_w + gap), area.top + row * (cell_h + gap), cell_w, cell_h)
        if max(rects[b.id].bottom for b in choices) > body.bottom:
            return rects, body, cell_h  # the body (title and choices) scrolls
        return rects, pygame.Rect(body.left, body.top, body.width, top_h), cell_h

    def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
        rects, body, _ = cells(view, theme)
        return rects, body

    return layout


def draw_choices(c: w.Canvas) -> None:
    """Say where the choices reach (Canvas.reach): a grid that runs below the body makes it scroll."""
    for b in c.view.buttons:
        if is_choice(b) and b.id in c.rects and c.rects[b.id].top < c.body.bottom:
            c.reach(c.rects[b.id])  # (a grid under a body of the title alone does not scroll it)


def paint_choice(c: w.Canvas, button: Button, rect: pygame.Rect, pressed: bool = False) -> None:
    """An answer: a panel with the label and, where the texts have one, a line on what it means."""
    if not is_choice(button):
        w.paint_button(c, button, rect, pressed)
        return
    t = c.theme
    bg = th.ACCENT_LIGHT if pressed else th.PANEL
    box = rect.inflate(-t.px(6), -t.px(6)) if pressed else rect
    pygame.draw.rect(c.surface, bg, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ACCENT, box, width=t.px(4), border_radius=t.radius)
    inner = box.inflate(-t.px(24), -t.px(20))
    label = w.button_label(c, button)
    hint = c.t_opt(f"{button.label}_hint")
    # Label and hint shrink together to the cell (large text, long English), never out of it.
    size, hint_size = t.subtitle, t.small
    while True:
        label_h = c.lines_height(label, size, inner.width, strong=True)
        hint_h = c.lines_height(hint, hint_size, inner.width) if hint else 0
        if label_h + hint_h <= inner.height or size <= t.px(30):
            break
        size, hint_size = max(t.px(30), int(size * 0.9)), max(t.px(26), int(hint_size * 0.9))
    y = inner.centery - (label_h + hint_h) // 2
    y = c.paragraph(label, pygame.Rect(inner.left, y, inner.width, label_h), size, th.ACCENT_DARK, "center",
                    strong=True, fit=True)
    if hint:
        c.paragraph(hint, pygame.Rect(inner.left, y, inner.width, inner.bottom - y), hint_size, th.MUTED, "center",
                    fit=True)


def title_and_body(c: w.Canvas, key: str) -> int:
    """The title `key.title` and the paragraph `key.body` under it; returns the y below them."""
    t = c.theme
    y = c.title(f"{key}.title")
    body = c.t_opt(f"{key}.body")
    if body:
        y = c.paragraph(body, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.MUTED,
                        align="center", fit=True)
    return y + t.gap


def framed(c: w.Canvas, text: str, top: int, size: int | None = None) -> int:
    """`text` in an accented box from `top`, shrunk to fit the body; returns the y below it."""
    t = c.theme
    pad = t.px(28)
    size = size or t.subtitle
    room = c.body.width - 2 * pad
    while size > t.small and c.lines_height(text, size, room, strong=True) > c.body.bottom - top - 2 * pad:
        size = int(size * 0.9)
    height = min(c.body.bottom - top - 2 * pad, c.lines_height(text, size, room, strong=True))
    box = pygame.Rect(c.body.left, top, c.body.width, max(0, height) + 2 * pad)
    pygame.draw.rect(c.surface, th.ACCENT_LIGHT, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, th.ACCENT, box, width=t.px(4), border_radius=t.radius)
    c.paragraph(text, box.inflate(-2 * pad, -2 * pad), size, th.TEXT, strong=True, fit=True)
    return box.bottom + t.gap
