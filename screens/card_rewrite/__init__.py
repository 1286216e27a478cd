"""Screens of the card-face rewrite: notice → insert_card → read_chip → check_endorsement
→ rewrite → verify → return_card → done.

After the yearly endorsement passed, the validity printed on the card's rewritable strip is out of
date: the resident inserts the card into the slot below the screen, the kiosk erases and reprints
the validity and hands the card back. The words say "card", never "chip".

The rewrite has its own progress hint (five steps, its own labels): the Display's hint belongs to
the new permit (registry.STEPS), so these screens draw theirs in the cached layer with `progress`,
in the same look, and lay out their buttons under it with `layout`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pygame

from kiosk.view import View
from screens import header
from screens import theme as th
from screens import widgets as w

STEPS = 5  # notice, insert the card, checks, update, take the card back
PREFIX = "card_rewrite"


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    """The footer, with the body under the progress hint."""
    return w.footer_layout(view.buttons, theme, with_progress=True)


def progress(c: w.Canvas, step: int) -> None:
    """The hint band under the header: "step n of 5: ..." and five segments (as the Display's)."""
    label = c.t(f"{PREFIX}.progress.{step}")
    header.hint(c, c.t("progress.step", step=step, total=STEPS, label=label), step, STEPS)


def marked_items(c: w.Canvas, texts: Sequence[str], top: int, kind: str = "check", size: int | None = None) -> int:
    """One line (or a few) per text, each after a round mark: a green tick or an amber "!"."""
    t = c.theme
    size = size or t.body
    mark = t.px(24)
    indent = 3 * mark
    y = top
    for text in texts:
        center = (c.body.left + mark, y + c.text.line_height(size) // 2)
        if kind == "check":
            w.check_mark(c.surface, center, mark, th.SUCCESS)
        else:
            w.alert_mark(c.surface, center, mark, th.WARNING)
        y = c.paragraph(
            text,
            pygame.Rect(c.body.left + indent, y, c.body.width - indent, max(0, c.body.bottom - y)),
            size,
            th.TEXT,
        )
        y += t.px(14)
    return y


def items_height(c: w.Canvas, texts: Sequence[str], size: int, width: int = 0) -> int:
    """The height `marked_items` takes for these texts in a column `width` wide (default: the body)."""
    indent = 3 * c.theme.px(24)
    width = width or c.body.width
    return sum(c.lines_height(text, size, width - indent) + c.theme.px(14) for text in texts)


def permit_card(c: w.Canvas, rect: pygame.Rect, strip: bool = False) -> None:
    """The residence permit drawn with shapes; `strip` outlines the validity line at the bottom
    (the part of the card that is rewritten)."""
    t = c.theme
    w.id_card(c.surface, rect, t)
    if strip:
        band = pygame.Rect(
            rect.left + rect.width * 0.05,
            rect.bottom - rect.height * 0.21,
            rect.width * 0.9,
            rect.height * 0.17,
        )
        pygame.draw.rect(c.surface, th.ACCENT, band, width=t.px(5), border_radius=t.px(8))


def slot(c: w.Canvas, center: tuple[int, int], width: int) -> pygame.Rect:
    """The card slot below the screen: a dark bar with a light mouth."""
    t = c.theme
    rect = pygame.Rect(0, 0, width, t.px(56))
    rect.center = center
    pygame.draw.rect(c.surface, th.ILLUSTRATION_DARK, rect, border_radius=t.px(26))
    mouth = rect.inflate(-t.px(80), -t.px(36))
    pygame.draw.rect(c.surface, (30, 38, 52), mouth, border_radius=mouth.height // 2)
    return rect


def draw_busy(c: w.Canvas, name: str, step: int) -> None:
    """A busy screen of the rewrite: title, spinner (drawn by animate), "do not pull the card"."""
    progress(c, step)
    t = c.theme
    c.title(f"{PREFIX}.{name}.title", top=c.body.top + int(c.body.height * 0.12))
    (_, cy), radius = w.spinner_geometry(c)
    y = cy + radius + t.px(80)
    if y < c.body.bottom:
        y = c.banner(c.t(f"{PREFIX}.keep_card"), y, "warning")
    if y < c.body.bottom:
        c.paragraph(
            c.t(f"{PREFIX}.{name}.body"),
            pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y),
            t.subtitle,
            th.MUTED,
            align="center",
            fit=True,
        )
