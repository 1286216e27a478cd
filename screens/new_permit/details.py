"""Screen `new_permit.details`: confirm what the permit will carry (SH-PMT-4).

Data: `name`, `sex` ("M"/"F"), `nation`, `birth` (YYYY-MM-DD), `id_number` (masked by the
core), `id_address`, `residence_address`, `photo` (kiosk.view.Photo or null), `id_photo` (the ID card's
photo decoded by the WLT plug-in, or null).
Buttons: `confirm`, `back` (retake the photo), `cancel`.
"""

from __future__ import annotations

import pygame

from kiosk.view import Photo, View
from screens import theme as th
from screens import widgets as w

STEP = 4
SHORT_FIELDS = ("name", "sex", "nation", "birth")
# Sex and ethnicity are one word each: one row for both leaves the addresses room to wrap.
ROWS = (("name",), ("sex", "nation"), ("birth",))
LONG_FIELDS = ("id_number", "id_address", "residence_address")


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    """All buttons in one row (cancel, retake, confirm): the addresses need the height."""
    area = theme.content_rect(with_progress=True)
    order = sorted(view.buttons, key=lambda b: (not w.is_secondary(b), b.id != "cancel"))
    if not order:
        return {}, area
    rows = [order] if len(order) <= 3 else w.footer_rows(order)
    rects, top = w.rows_from_bottom(rows, theme, area.bottom, area.left, area.width)
    return rects, pygame.Rect(area.left, area.top, area.width, top - theme.gap - area.top)


def _value(c: w.Canvas, key: str) -> str:
    value = c.data.get(key)
    if value is None or value == "":
        return "—"
    if key == "sex":
        return c.t_opt(f"sex.{value}") or str(value)
    if key == "birth":
        return c.texts.date(value)
    return str(value)


def _rows(c: w.Canvas, left_w: int, label_w: int) -> list[tuple[str, ...]]:
    """ROWS, with a pair split in two rows where it does not fit side by side (longer words)."""
    t = c.theme
    out: list[tuple[str, ...]] = []
    for keys in ROWS:
        cell_w = left_w // len(keys)
        fits = all(
            (label_w if n == 0 else c.text.width(c.t(f"field.{k}"), t.body) + t.px(24))
            + c.text.width(_value(c, k), t.subtitle, True)
            <= cell_w
            for n, k in enumerate(keys)
        )
        out.extend([keys] if fits or len(keys) == 1 else [(k,) for k in keys])
    return out


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("details.title")
    label_size, value_size = t.body, t.subtitle
    photo_w, photo_h = t.px(280), t.px(350)
    photo_box = pygame.Rect(c.body.right - photo_w, y, photo_w, photo_h)
    photo = c.data.get("photo")
    if isinstance(photo, Photo):
        pygame.draw.rect(c.surface, th.PANEL, photo_box)
        c.photo(photo, photo_box)
        pygame.draw.rect(c.surface, th.ILLUSTRATION_DARK, photo_box, width=t.px(3))
    else:
        w.placeholder_person(c.surface, photo_box, t)
    id_photo = c.data.get("id_photo")
    if isinstance(id_photo, Photo):
        # The ID card's own photo beside the new one: the resident (and anyone helping)
        # sees at a glance that the card read is theirs.
        id_w, id_h = t.px(136), t.px(168)
        id_box = pygame.Rect(photo_box.right - id_w, photo_box.bottom + t.px(16), id_w, id_h)
        pygame.draw.rect(c.surface, th.PANEL, id_box)
        c.photo(id_photo, id_box)
        pygame.draw.rect(c.surface, th.ILLUSTRATION_DARK, id_box, width=t.px(2))
        caption = c.t("details.id_photo")
        cap_w = c.text.width(caption, t.body)
        c.line(caption, t.body, th.MUTED, id_box.left - t.px(16) - cap_w, id_box.centery - t.body // 2)
        photo_box = photo_box.union(id_box)

    labels = {k: c.t(f"field.{k}") for k in SHORT_FIELDS}
    label_w = max(c.text.width(v, label_size) for v in labels.values()) + t.px(24)
    left_w = c.body.width - photo_w - t.gap
    lh = c.text.line_height(value_size)
    row = y
    for keys in _rows(c, left_w, label_w):
        cell_w = left_w // len(keys)
        # A long name (a Uyghur name of 12 characters) wraps onto more lines: shown whole, never cut.
        own = [c.text.width(labels[k], label_size) + t.px(24) if n else label_w for n, k in enumerate(keys)]
        row_h = max(c.lines_height(_value(c, k), value_size, cell_w - own[n], strong=True) for n, k in enumerate(keys))
        for n, key in enumerate(keys):
            x = c.body.left + n * cell_w
            c.line(labels[key], label_size, th.MUTED, x, row + (lh - c.text.line_height(label_size)) // 2)
            c.paragraph(
                _value(c, key),
                pygame.Rect(x + own[n], row, cell_w - own[n], row_h),
                value_size,
                th.TEXT,
                strong=True,
            )
        row += row_h + t.px(12)
    y = max(row, photo_box.bottom) + t.gap

    # Each long field gets the height it needs; when they cannot all fit, they share
    # the room in proportion (and shrink) rather than the last one being cut off.
    label_h = c.text.line_height(t.body)
    gap = t.px(12)
    need = {k: label_h + c.lines_height(_value(c, k), t.subtitle, c.body.width, strong=True) + gap for k in LONG_FIELDS}
    room = c.body.bottom - y
    total = sum(need.values())
    for key in LONG_FIELDS:
        share = need[key] if total <= room else room * need[key] // total
        _stacked(c, key, y, share)
        y += share


def _stacked(c: w.Canvas, key: str, top: int, room: int) -> None:
    """Label above a value that may wrap; shrinks the value rather than overflow `room`."""
    t = c.theme
    label_h = c.text.line_height(t.body)
    room = max(room, label_h + c.text.line_height(t.subtitle))  # never dropped: the screen scrolls
    c.line(c.t(f"field.{key}"), t.body, th.MUTED, c.body.left, top)
    rect = pygame.Rect(c.body.left, top + label_h, c.body.width, room - label_h - t.px(12))
    c.paragraph(_value(c, key), rect, t.subtitle, th.TEXT, strong=True, fit=True)
