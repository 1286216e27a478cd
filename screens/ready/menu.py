"""Screen `ready.menu`: one tile per service (buttons `service.*`, style TILE); `back`.

A disabled tile stays visible, greyed, with "not available", so a resident learns that the service
exists but not here today.
"""

from __future__ import annotations

import math

import pygame

from kiosk.view import Button, ButtonStyle, View
from screens import theme as th
from screens import widgets as w


def _is_tile(b: Button) -> bool:
    return b.style == ButtonStyle.TILE or b.id.startswith("service.")


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    tiles = [b for b in view.buttons if _is_tile(b)]
    rects, body = w.footer_layout([b for b in view.buttons if not _is_tile(b)], theme, with_progress=False)
    if not tiles:
        return rects, body
    title_h = theme.px(200 if theme.large else 170)
    area = pygame.Rect(body.left, body.top + title_h, body.width, body.height - title_h)
    cols = 2 if len(tiles) > 1 else 1
    n_rows = math.ceil(len(tiles) / cols)
    gap = theme.gap
    tile_h = min(theme.big(480), (area.height - gap * (n_rows - 1)) // n_rows)
    tile_w = (area.width - gap * (cols - 1)) // cols
    for i, b in enumerate(tiles):
        row, col = divmod(i, cols)
        rects[b.id] = pygame.Rect(area.left + col * (tile_w + gap), area.top + row * (tile_h + gap), tile_w, tile_h)
    return rects, pygame.Rect(body.left, body.top, body.width, title_h)


def paint_button(c: w.Canvas, button: Button, rect: pygame.Rect, pressed: bool = False) -> None:
    if not _is_tile(button):
        w.paint_button(c, button, rect, pressed)
        return
    t = c.theme
    if not button.enabled:
        bg, fg, border, sub = th.DISABLED_BG, th.DISABLED_TEXT, th.DISABLED_BG, th.DISABLED_TEXT
    else:
        bg = th.ACCENT_LIGHT if pressed else th.PANEL
        fg, border, sub = th.ACCENT_DARK, th.ACCENT, th.MUTED
    box = rect.inflate(-t.px(8), -t.px(8)) if pressed else rect
    pygame.draw.rect(c.surface, bg, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, border, box, width=t.px(6), border_radius=t.radius)
    pad = t.px(28)
    inner = box.inflate(-2 * pad, -2 * pad)
    label = w.button_label(c, button)
    name = button.id.split(".", 1)[1] if "." in button.id else button.id
    detail = c.t("menu.unavailable") if not button.enabled else c.t_opt(f"service_desc.{name}") or ""
    # Shrink a long label (English) rather than break a word or fill the tile; then the detail
    # line, to large text's smallest size: both fit the tile, nothing is cut.
    for detail_size in (t.body, t.small):
        detail_h = c.lines_height(detail, detail_size, inner.width, not button.enabled) if detail else 0
        size = t.title
        while size > t.small and (
            c.lines_height(label, size, inner.width, strong=True) + t.px(16) + detail_h > inner.height
            or len(lines := c.text.wrap(label, size, inner.width, True)) > 2
            or (len(lines) > 1 and len(lines[-1].strip()) <= 1)  # one orphaned character
            or max(c.text.width(tok.strip(), size, True) for tok in w.tokens(label)) > inner.width
        ):
            size = int(size * 0.92)
        label_h = c.lines_height(label, size, inner.width, strong=True)
        if label_h + t.px(16) + detail_h <= inner.height:
            break
    y = inner.centery - (label_h + t.px(16) + detail_h) // 2
    y = c.paragraph(label, pygame.Rect(inner.left, y, inner.width, label_h), size, fg, "center", strong=True)
    if detail:
        c.paragraph(
            detail,
            pygame.Rect(inner.left, y + t.px(16), inner.width, inner.bottom - y - t.px(16)),
            detail_size,
            sub,
            "center",
            strong=not button.enabled,
            fit=True,
        )


def draw(c: w.Canvas) -> None:
    # The tiles start at a fixed height: a long title shrinks into the space above them.
    t = c.theme
    area = pygame.Rect(c.body.left, c.body.top + t.px(20), c.body.width, c.body.height - t.px(20) - t.gap)
    c.paragraph(c.t("menu.title"), area, t.title, th.TEXT, "center", strong=True, fit=True)
