"""Drawing helpers shared by the screens: the canvas, buttons, layout, the busy screen.

Text rendering and its caches are in screens/textrender.py, the LRU in screens/lru.py, the
shapes in screens/shapes.py; their names are re-exported here (screens use `w.<name>`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pygame

from kiosk.view import Button, ButtonStyle, Photo, View
from screens import theme as th
from screens.footer import chunk, footer_layout, footer_rows, is_secondary, rows_from_bottom
from screens.lru import Lru
from screens.shapes import alert_mark, arrow_down, check_mark, id_card, placeholder_person, spinner
from screens.text import Texts
from screens.textrender import GLYPH_CACHE, LINE_CACHE_BYTES, Line, TextRenderer, tokens

__all__ = [
    "AUDIT", "DEFER", "GLYPH_CACHE", "LINE_CACHE_BYTES", "WATCH", "Canvas", "Deferred", "Drawn", "Line",
    "Lru", "TextRenderer", "alert_mark", "animate_spinner", "animated_spinner", "arrow_down", "button_label",
    "check_mark", "chunk", "draw_busy", "footer_layout", "footer_rows", "id_card", "is_secondary",
    "paint_button", "placeholder_person", "replay", "rows_from_bottom", "spinner", "spinner_area",
    "spinner_geometry", "step_list", "tokens",
]


@dataclass(frozen=True)
class Drawn:
    """One line of text as drawn, for the overflow test: it must lie inside `box` (its canvas's
    body: the screen's free area, a button, a band) and its font must have every glyph."""

    text: str
    rect: pygame.Rect
    box: pygame.Rect
    cut: bool = False  # a fitted paragraph ran out of room and dropped this line
    size: int = 0  # the font size
    top: int = 0  # the top of its line box: a paragraph's lines advance by their line height
    paragraph: int = 0  # the wrapped paragraph (or button label) it is a line of; 0: a line on its own


_paragraphs = itertools.count(1)
_PARAGRAPH = 0  # the paragraph being laid out (Canvas.lines), for the line spacing test


# Set to a list by the overflow test (tests/unit/test_screen_overflow.py); None in the kiosk.
AUDIT: list[Drawn] | None = None
# Set to a list by the Display while it draws a screen's body, to learn whether it fits or must
# scroll (screens/scroll.py).
WATCH: list[Drawn] | None = None


# Set to a list by the Display while it draws a screen's body the first time: the lines are laid
# out and watched but not drawn yet (the drawing is replay()ed once the body is known to fit).
# A body that must scroll is drawn again on a taller page, so its first drawing's text would have
# been rasterised for nothing: on a screen of text, half of its first frame.
DEFER: list[Deferred] | None = None


@dataclass(frozen=True)
class Deferred:
    surface: pygame.Surface
    clip: pygame.Rect
    text: TextRenderer
    line: tuple[str, int, th.Color, tuple[int, int], bool]  # text, size, colour, origin, strong


def replay(items: Iterable[Deferred]) -> None:
    """Draw the deferred lines, in order, each inside the clip it had."""
    for d in items:
        clip = d.surface.get_clip()
        d.surface.set_clip(d.clip)
        d.text.draw(d.surface, *d.line)
        d.surface.set_clip(clip)


def _record(drawn: Drawn) -> None:
    if AUDIT is not None:
        AUDIT.append(drawn)
    if WATCH is not None:
        WATCH.append(drawn)


@dataclass
class Canvas:
    """What a screen module draws with. `body` is the free area between header and buttons."""

    surface: pygame.Surface
    theme: th.Theme
    texts: Texts
    text: TextRenderer
    view: View
    body: pygame.Rect
    rects: dict[str, pygame.Rect] = field(default_factory=dict)

    @property
    def data(self) -> dict[str, Any]:
        return self.view.data

    @property
    def large(self) -> bool:
        return self.theme.large

    def t(self, key: str, **values: Any) -> str:
        return self.texts.get(key, self.theme.large, **values)

    def t_opt(self, key: str, **values: Any) -> str | None:
        return self.texts.optional(key, self.theme.large, **values)

    # --- text -----------------------------------------------------------------

    def line(
        self,
        text: str,
        size: int,
        color: th.Color,
        x: int,
        top: int,
        align: str = "left",
        strong: bool = False,
    ) -> pygame.Rect:
        """One line in a line box starting at `top`; x is the left, centre or right edge. Drawn
        straight onto the surface (TextRenderer.draw): no picture of the line is kept."""
        width = self.text.width(text, size, strong)
        if align == "center":
            x -= width // 2
        elif align == "right":
            x -= width
        height = self.text.line_height(size)
        baseline = top + (height - size) // 2 + self.text.ascender(size)
        if DEFER is not None:
            DEFER.append(Deferred(self.surface, self.surface.get_clip(), self.text,
                                  (text, size, color, (x, baseline), strong)))
        else:
            self.text.draw(self.surface, text, size, color, (x, baseline), strong)
        drawn = pygame.Rect(x, top, width, height)
        if (AUDIT is not None or WATCH is not None) and text.strip():  # (reach() records boxes)
            # The ink, not the line box: a box's leading may touch the edge, the glyphs may not.
            _record(Drawn(text, self.text.ink(text, size, (x, baseline), strong), self.body.copy(),
                          size=size, top=top, paragraph=_PARAGRAPH))
        return drawn

    def paragraph(
        self,
        text: str,
        rect: pygame.Rect,
        size: int | None = None,
        color: th.Color = th.TEXT,
        align: str = "left",
        strong: bool = False,
        fit: bool = False,
    ) -> int:
        """Wrapped text from rect.top; returns the bottom. With `fit`, shrinks (to the
        smallest legible size) until it fits rect's height; nothing is drawn outside rect."""
        size = size or self.theme.body
        lines = self.text.wrap(text, size, rect.width, strong)
        if fit:
            floor = self.theme.small
            while size > floor and len(lines) * self.text.line_height(size) > rect.height:
                size = max(floor, int(size * 0.9))
                lines = self.text.wrap(text, size, rect.width, strong)
        lh = self.text.line_height(size)
        x = {"left": rect.left, "center": rect.centerx, "right": rect.right}[align]
        y = rect.top
        clip = self.surface.get_clip()
        self.surface.set_clip(rect.clip(clip) if fit else clip)
        shown = len(lines)
        if fit:
            shown = next((i for i in range(len(lines)) if y + (i + 1) * lh > rect.bottom + lh // 3), len(lines))
            for rest in lines[shown:]:
                _record(Drawn(rest, rect.copy(), rect.copy(), cut=True))
        y = self.lines(lines[:shown], size, color, x, y, align, strong)
        self.surface.set_clip(clip)
        return y

    def lines(self, lines: Sequence[str], size: int, color: th.Color, x: int, top: int, align: str = "left",
              strong: bool = False) -> int:
        """Wrapped lines one under another, a line height (theme.LINE_SPACING x the size) apart: every
        paragraph and button label goes through here (the MIIT guideline's line spacing >= 1.3x,
        tests/unit/test_screen_overflow.py). Returns the bottom."""
        global _PARAGRAPH
        outer, _PARAGRAPH = _PARAGRAPH, next(_paragraphs)
        try:
            lh = self.text.line_height(size)
            for ln in lines:
                self.line(ln, size, color, x, top, align, strong)
                top += lh
        finally:
            _PARAGRAPH = outer
        return top

    def reach(self, rect: pygame.Rect) -> None:
        """Say that something other than text (a box the animation fills) reaches down to `rect`:
        the body scrolls when it does not fit (screens/scroll.py), like text would."""
        if AUDIT is not None or WATCH is not None:
            _record(Drawn("", rect.copy(), self.body.copy()))

    def lines_height(self, text: str, size: int, width: int, strong: bool = False) -> int:
        return len(self.text.wrap(text, size, width, strong)) * self.text.line_height(size)

    def title(self, key: str, top: int | None = None, color: th.Color = th.TEXT, **values: Any) -> int:
        """The screen's title, centred at the top of the body; returns the bottom."""
        top = self.body.top if top is None else top
        bottom = self.paragraph(
            self.t(key, **values),
            pygame.Rect(self.body.left, top, self.body.width, self.body.height),
            self.theme.title,
            color,
            align="center",
            strong=True,
        )
        return bottom + self.theme.gap

    def bullets(self, items: Sequence[str], top: int, size: int | None = None, rect_width: int = 0) -> int:
        size = size or self.theme.body
        width = rect_width or self.body.width
        dot_r = max(4, size // 7)
        indent = size
        y = top
        lh = self.text.line_height(size)
        for item in items:
            pygame.draw.circle(self.surface, th.ACCENT, (self.body.left + dot_r * 2, y + lh // 2), dot_r)
            y = self.paragraph(
                item, pygame.Rect(self.body.left + indent, y, width - indent, self.body.bottom - y), size
            )
            y += self.theme.px(14)
        return y

    def banner(self, text: str, top: int, kind: str = "error") -> int:
        """A coloured box with a message (error / warning / success / info); returns the bottom."""
        fg, bg = {
            "error": (th.ERROR, th.ERROR_LIGHT),
            "warning": (th.WARNING, th.WARNING_LIGHT),
            "success": (th.SUCCESS, th.SUCCESS_LIGHT),
            "info": (th.ACCENT_DARK, th.ACCENT_LIGHT),
        }[kind]
        pad = self.theme.px(28)
        size = self.theme.subtitle
        inner = self.body.width - 2 * pad
        height = self.lines_height(text, size, inner, strong=True) + 2 * pad
        box = pygame.Rect(self.body.left, top, self.body.width, height)
        pygame.draw.rect(self.surface, bg, box, border_radius=self.theme.radius)
        pygame.draw.rect(self.surface, fg, box, width=self.theme.px(4), border_radius=self.theme.radius)
        self.paragraph(text, box.inflate(-2 * pad, -2 * pad), size, fg, align="center", strong=True)
        return box.bottom + self.theme.gap

    def photo(self, photo: Photo, box: pygame.Rect) -> None:
        """The camera's photo scaled into box, keeping its proportions."""
        try:
            img = pygame.image.frombuffer(photo.rgb, (photo.width, photo.height), "RGB")
        except (ValueError, TypeError):
            placeholder_person(self.surface, box, self.theme)
            return
        scale = min(box.width / photo.width, box.height / photo.height)
        size = (max(1, int(photo.width * scale)), max(1, int(photo.height * scale)))
        img = pygame.transform.smoothscale(img.convert(), size)
        self.surface.blit(img, img.get_rect(center=box.center))


# --- buttons ----------------------------------------------------------------------


def button_label(c: Canvas, button: Button) -> str:
    # The keypad shows its digit whatever the label key says.
    if button.style == ButtonStyle.KEY and button.id.startswith("key.") and button.id[4:].isdigit():
        return button.id[4:]
    # A screen may word a generic key its own way: "confirm" reads "start" on the notice.
    scoped = f"label.{c.view.screen_id}.{button.id}"
    if c.texts.has(scoped):
        return c.t(scoped)
    return c.t(button.label)


def paint_button(
    c: Canvas, button: Button, rect: pygame.Rect, pressed: bool = False, caption: str | None = None
) -> None:
    """A button; `caption` is a smaller line under the label (what the answer means)."""
    t = c.theme
    c = replace(c, body=rect.copy())  # the label stays inside its button
    secondary = is_secondary(button)
    if not button.enabled:
        bg, fg, border = th.DISABLED_BG, th.DISABLED_TEXT, th.DISABLED_BG
    elif button.style == ButtonStyle.KEY or secondary:
        bg, fg, border = (th.SECONDARY_PRESSED if pressed else th.SECONDARY_BG), th.TEXT, th.BORDER
    else:
        bg, fg, border = (th.ACCENT_DARK if pressed else th.ACCENT), th.ON_ACCENT, th.ACCENT_DARK
    # A pressed button sinks a little, so the finger sees that it landed.
    box = rect.inflate(-t.px(8), -t.px(8)) if pressed else rect
    pygame.draw.rect(c.surface, bg, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, border, box, width=t.px(5 if pressed else 4), border_radius=t.radius)
    size = t.huge if button.style == ButtonStyle.KEY and button.id[4:].isdigit() else t.button
    label = button_label(c, button)
    pad = t.px(20)
    inner = box.inflate(-2 * pad, -2 * pad)
    lines = c.text.wrap(label, size, inner.width, True)
    while len(lines) * c.text.line_height(size) > inner.height and size > t.small:
        size = max(t.small, int(size * 0.9))
        lines = c.text.wrap(label, size, inner.width, True)
    lh = c.text.line_height(size)
    cap_lines = c.text.wrap(caption, t.small, inner.width) if caption else ()
    cap_lh = c.text.line_height(t.small)
    y = box.centery - (len(lines) * lh + len(cap_lines) * cap_lh) // 2
    y = c.lines(lines, size, fg, box.centerx, y, "center", strong=True)
    c.lines(cap_lines, t.small, fg, box.centerx, y, "center")


# --- layout -----------------------------------------------------------------------


def step_list(c: Canvas, labels: list[str], rows: list[pygame.Rect], current: int) -> None:
    """A busy screen's steps: done ones ticked, the current one strong (its spinner is animated), the rest grey."""
    t = c.theme
    mark = t.px(34)
    for i, (label, row) in enumerate(zip(labels, rows, strict=True)):
        center = (row.left + mark, row.centery)
        if i < current:
            check_mark(c.surface, center, mark, th.SUCCESS)
            color = th.SUCCESS
        elif i == current:
            color = th.ACCENT_DARK
        else:
            pygame.draw.circle(c.surface, th.ILLUSTRATION, center, mark, width=t.px(5))
            color = th.DISABLED_TEXT
        size = t.subtitle
        room = row.right - (row.left + 3 * mark)
        # a long step name (English, large text) shrinks to its row, never runs out
        size = c.text.shrink(label, size, t.small, room, i == current)
        c.line(label, size, color, row.left + 3 * mark, row.centery - c.text.line_height(size) // 2,
               strong=i == current)


# --- the shared busy screen ---------------------------------------------------------


def spinner_geometry(c: Canvas) -> tuple[tuple[int, int], int]:
    radius = c.theme.px(90)
    return (c.body.centerx, c.body.top + int(c.body.height * 0.45)), radius


def draw_busy(c: Canvas, prefix: str) -> None:
    """Title above, the spinner's place in the middle (drawn by animate), a line below."""
    c.title(f"{prefix}.title", top=c.body.top + int(c.body.height * 0.12))
    (_, cy), radius = spinner_geometry(c)
    top = cy + radius + c.theme.px(80)
    c.paragraph(
        c.t(f"{prefix}.body"),
        pygame.Rect(c.body.left, top, c.body.width, c.body.bottom - top),
        c.theme.subtitle,
        th.MUTED,
        align="center",
        fit=True,
    )


def spinner_area(center: tuple[int, int], radius: int) -> pygame.Rect:
    """Where spinner() draws: its ring of dots (screens/shapes.py: dots of radius//6, at least 4)."""
    reach = radius + max(4, radius // 6) + 2
    return pygame.Rect(center[0] - reach, center[1] - reach, 2 * reach, 2 * reach)


def animated_spinner(c: Canvas) -> pygame.Rect:
    """Where animate_spinner draws."""
    return spinner_area(*spinner_geometry(c))


def animate_spinner(c: Canvas) -> None:
    center, radius = spinner_geometry(c)
    tick = c.data.get("tick")
    spinner(c.surface, center, radius, tick if isinstance(tick, int) else None)
