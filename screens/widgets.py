"""Drawing helpers shared by the screens: cached text, wrapping, buttons, icons, layout.

Rendering text with freetype costs far more than blitting it, so every rendered line and
every wrap is kept in a bounded LRU (bounded: names and addresses change every session
and memory must stay flat over thousands of sessions).
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import pygame
import pygame.freetype

from kiosk.fonts import FontFile
from kiosk.view import Button, ButtonStyle, Photo, View
from screens import theme as th
from screens.text import Texts

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Least recently used first out, bounded by `capacity` units: entries, or with `weigh` the
    sum of each value's weight (bytes, say). A value heavier than the whole capacity is kept
    alone until the next one comes."""

    def __init__(self, capacity: int, on_evict: Callable[[V], None] | None = None,
                 weigh: Callable[[V], int] | None = None) -> None:
        self.capacity = capacity
        self.on_evict = on_evict
        self._weigh = weigh
        self._items: OrderedDict[K, V] = OrderedDict()
        self._weights: dict[K, int] = {}
        self.weight = 0

    def get(self, key: K, make: Callable[[], V]) -> V:
        try:
            self._items.move_to_end(key)
            return self._items[key]
        except KeyError:
            value = make()
            self._items[key] = value
            weight = self._weigh(value) if self._weigh is not None else 1
            self._weights[key] = weight
            self.weight += weight
            while self.weight > self.capacity and len(self._items) > 1:
                old_key, old = self._items.popitem(last=False)
                self.weight -= self._weights.pop(old_key)
                if self.on_evict is not None:
                    self.on_evict(old)
            return value

    def discard(self, keep: Callable[[K], bool]) -> None:
        """Drop every entry whose key `keep` refuses (no on_evict: the caller is wiping, not reusing)."""
        for key in [k for k in self._items if not keep(k)]:
            del self._items[key]
            self.weight -= self._weights.pop(key)

    def entries(self) -> list[tuple[K, V]]:
        return list(self._items.items())

    def clear(self) -> None:
        self._items.clear()
        self._weights.clear()
        self.weight = 0

    def __len__(self) -> int:
        return len(self._items)


LINE_CACHE_BYTES = 16 * 1024 * 1024


def _line_bytes(line: Line) -> int:
    surf = line.surface
    return surf.get_width() * surf.get_height() * surf.get_bytesize() + 200  # + the objects around it


@dataclass(frozen=True)
class Line:
    surface: pygame.Surface
    left: int  # horizontal bearing of the ink box
    top: int  # ink box top above the baseline
    width: int


# Characters that must not start a line (and, for openers, end one) (the Chinese line-breaking rule).
_NO_LINE_START = set("，。、：；！？）》」』】〕”’%·…,.;:!?)]}")
_NO_LINE_END = set("（《「『【〔“‘([{")


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def tokens(text: str) -> list[str]:
    """Break points: every wide character, and every run of narrow ones ending in a space."""
    out: list[str] = []
    run = ""
    for ch in text:
        if _is_wide(ch) and ch not in _NO_LINE_START:
            if run:
                out.append(run)
                run = ""
            out.append(ch)
        elif ch in _NO_LINE_START and not run and out:
            out[-1] += ch
        else:
            run += ch
            if ch == " ":
                out.append(run)
                run = ""
    if run:
        out.append(run)
    # An opener belongs to the token after it.
    merged: list[str] = []
    carry = ""
    for tok in out:
        if tok in _NO_LINE_END:
            carry += tok
            continue
        merged.append(carry + tok)
        carry = ""
    if carry:
        merged.append(carry)
    return merged


class TextRenderer:
    def __init__(self, font_file: FontFile) -> None:
        if not pygame.freetype.get_init():
            pygame.freetype.init()
        self.font = pygame.freetype.Font(font_file.path, 0, font_index=font_file.index)
        self.font.antialiased = True
        self.font.pad = False
        # Bounded by bytes, not entries: one line of large text is up to ~110 kB.
        self._lines: Lru[tuple[str, int, th.Color, bool], Line] = Lru(LINE_CACHE_BYTES, weigh=_line_bytes)
        self._widths: Lru[tuple[str, int, bool], int] = Lru(4000)
        self._wraps: Lru[tuple[str, int, int, bool], tuple[str, ...]] = Lru(500)
        self._ascender: dict[int, int] = {}
        # Values a screen derives from the session's data (a QR code's modules): gone with it.
        self._memo: Lru[Hashable, Any] = Lru(16)
        # Texts that hold no resident's data (the translations): kept across sessions. Any other
        # text (names, addresses, numbers, formatted messages) goes when the session ends.
        self.static: frozenset[str] = frozenset()

    def memo(self, key: Hashable, make: Callable[[], V]) -> V:
        """make(), kept for this session (a screen drawn again while it scrolls or redraws)."""
        value: V = self._memo.get(key, make)
        return value

    def line(self, text: str, size: int, color: th.Color, strong: bool = False) -> Line:
        return self._lines.get((text, size, color, strong), lambda: self._render(text, size, color, strong))

    def _render(self, text: str, size: int, color: th.Color, strong: bool) -> Line:
        if not text:
            return Line(pygame.Surface((1, 1), pygame.SRCALPHA), 0, 0, 0)
        style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
        surf, rect = self.font.render(text, color, None, style=style, size=size)
        # freetype hands back RGBA; in the display's pixel order an alpha blit is ~15x faster.
        if pygame.display.get_surface() is not None:
            surf = surf.convert_alpha()
        return Line(surf, rect.x, rect.y, self.width(text, size, strong))

    def width(self, text: str, size: int, strong: bool = False) -> int:
        # Synthetic bold widens every glyph: measure with the style that will be drawn.
        def measure() -> int:
            if not text:
                return 0
            style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
            return int(self.font.get_rect(text, style=style, size=size).width)

        return self._widths.get((text, size, strong), measure)

    def ascender(self, size: int) -> int:
        if size not in self._ascender:
            self._ascender[size] = int(self.font.get_sized_ascender(size))
        return self._ascender[size]

    @staticmethod
    def line_height(size: int) -> int:
        return round(size * th.LINE_SPACING)

    def wrap(self, text: str, size: int, max_width: int, strong: bool = False) -> tuple[str, ...]:
        return self._wraps.get((text, size, max_width, strong), lambda: self._wrap(text, size, max_width, strong))

    def _wrap(self, text: str, size: int, max_width: int, strong: bool) -> tuple[str, ...]:
        # Greedy: each line takes as many tokens as fit. Measuring every prefix (one freetype call
        # per character of Chinese) made a long text's first frame cost ~100 ms; the break is found
        # by a search from a guess (the previous line's count) instead, a few measures per line.
        lines: list[str] = []
        for paragraph in text.split("\n"):
            toks = tokens(paragraph)
            i, guess = 0, 0
            while True:
                head = toks[i].lstrip() if i else (toks[0] if toks else "")

                def fits(j: int, i: int = i, head: str = head, toks: list[str] = toks) -> bool:
                    return self.width((head + "".join(toks[i + 1:j])).rstrip(), size, strong) <= max_width

                if i == 0 and toks and not guess:
                    whole = self.width(paragraph.rstrip(), size, strong)
                    guess = len(toks) if whole <= max_width else max(1, len(toks) * max_width // max(1, whole))
                j = _last_fit(fits, i + 1, len(toks), i + guess) if toks else 0
                # One token wider than the line (a long number): broken by characters below.
                lines.append((head + "".join(toks[i + 1:j])).rstrip())
                if j >= len(toks):
                    break
                i, guess = j, j - i
        out: list[str] = []
        for ln in lines:
            out.extend(self._hard_break(ln, size, max_width, strong))
        return tuple(out)

    def _hard_break(self, line: str, size: int, max_width: int, strong: bool) -> list[str]:
        if self.width(line, size, strong) <= max_width or len(line) <= 1:
            return [line]
        parts: list[str] = []
        cur = ""
        for ch in line:
            if cur and self.width(cur + ch, size, strong) > max_width:
                parts.append(cur)
                cur = ch
            else:
                cur += ch
        parts.append(cur)
        return parts

    def forget_session(self) -> None:
        """Drop every rendered line, width and wrap of a text that is not a translation: what a
        session showed (SH-PRIV-1) must not outlive it, not even as pixels in a cache."""
        self._wraps.discard(lambda k: k[0] in self.static)
        # A translation's wrapped lines are no resident's data either: they stay with it.
        static = self.static.union(*(lines for _, lines in self._wraps.entries()))
        self._lines.discard(lambda k: k[0] in static)
        self._widths.discard(lambda k: k[0] in static)
        self._memo.clear()

    def cached_texts(self) -> set[str]:
        """Every text the caches hold now (for tests of what survives a session)."""
        texts = {k[0] for k, _ in self._lines.entries()} | {k[0] for k, _ in self._widths.entries()}
        for key, lines in self._wraps.entries():
            texts.add(key[0])
            texts.update(lines)
        for memo_key, _ in self._memo.entries():  # what a screen derived a value from (a notice's number)
            texts.update(str(part) for part in (memo_key if isinstance(memo_key, tuple) else (memo_key,)))
        return texts

    def cache_bytes(self) -> int:
        return self._lines.weight

    def clear(self) -> None:
        self._lines.clear()
        self._widths.clear()
        self._wraps.clear()
        self._memo.clear()


def _last_fit(fits: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """The largest j in [lo, hi] with fits(j), fits(lo) taken as true and fits as monotone (a
    longer line is no narrower): one probe each side of a good guess, else galloping and bisection."""
    bad = hi + 1  # the smallest j known not to fit (hi + 1: none known)
    g = min(max(guess, lo + 1), hi)
    if g <= lo:
        return lo
    step = 1
    if fits(g):
        lo = g
        while lo + step < bad:
            if not fits(lo + step):
                bad = lo + step
                break
            lo += step
            step *= 2
    else:
        bad = g
        while bad - step > lo:
            if fits(bad - step):
                lo = bad - step
                break
            bad -= step
            step *= 2
    while bad - lo > 1:
        mid = (lo + bad) // 2
        if fits(mid):
            lo = mid
        else:
            bad = mid
    return lo


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


def _record(drawn: Drawn) -> None:
    if AUDIT is not None:
        AUDIT.append(drawn)
    if WATCH is not None:
        WATCH.append(drawn)


def is_secondary(button: Button) -> bool:
    return button.style == ButtonStyle.SECONDARY or button.id in ("cancel", "back")


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
        """One line in a line box starting at `top`; x is the left, centre or right edge."""
        ln = self.text.line(text, size, color, strong)
        if align == "center":
            x -= ln.width // 2
        elif align == "right":
            x -= ln.width
        height = self.text.line_height(size)
        baseline = top + (height - size) // 2 + self.text.ascender(size)
        self.surface.blit(ln.surface, (x + ln.left, baseline - ln.top))
        drawn = pygame.Rect(x, top, ln.width, height)
        if (AUDIT is not None or WATCH is not None) and text.strip():  # (reach() records boxes)
            # The ink, not the line box: a box's leading may touch the edge, the glyphs may not.
            ink = pygame.Rect(x + ln.left, baseline - ln.top, ln.surface.get_width(), ln.surface.get_height())
            _record(Drawn(text, ink, self.body.copy(), size=size, top=top, paragraph=_PARAGRAPH))
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


# --- shapes -----------------------------------------------------------------------


def spinner(surface: pygame.Surface, center: tuple[int, int], radius: int, tick: int | None) -> None:
    """Twelve dots, the bright one moving with the core's `tick` (static without it)."""
    n = 12
    head = (tick or 0) % n
    dot = max(4, radius // 6)
    for i in range(n):
        age = (head - i) % n
        shade = th.ACCENT if age == 0 else th.ACCENT_LIGHT if age > 3 else (90, 140, 215)
        ang = 2 * math.pi * i / n - math.pi / 2
        pos = (center[0] + int(radius * math.cos(ang)), center[1] + int(radius * math.sin(ang)))
        pygame.draw.circle(surface, shade, pos, dot)


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
        while size > t.small and c.text.width(label, size, i == current) > room:
            size -= 2  # a long step name (English, large text) shrinks to its row, never runs out
        c.line(label, size, color, row.left + 3 * mark, row.centery - c.text.line_height(size) // 2,
               strong=i == current)


def check_mark(surface: pygame.Surface, center: tuple[int, int], radius: int, color: th.Color) -> None:
    pygame.draw.circle(surface, color, center, radius)
    cx, cy = center
    r = radius
    pts = [(cx - r * 0.45, cy + r * 0.02), (cx - r * 0.12, cy + r * 0.35), (cx + r * 0.48, cy - r * 0.3)]
    pygame.draw.lines(surface, th.ON_ACCENT, False, pts, max(3, r // 7))


def alert_mark(surface: pygame.Surface, center: tuple[int, int], radius: int, color: th.Color) -> None:
    """A circle with an exclamation mark drawn from shapes (no glyph needed)."""
    pygame.draw.circle(surface, color, center, radius)
    cx, cy = center
    w = max(4, radius // 5)
    pygame.draw.rect(surface, th.ON_ACCENT, (cx - w // 2, cy - radius * 0.55, w, radius * 0.7), border_radius=w)
    pygame.draw.circle(surface, th.ON_ACCENT, (cx, cy + int(radius * 0.45)), w * 0.65)


def arrow_down(surface: pygame.Surface, center_x: int, top: int, length: int, width: int, color: th.Color) -> None:
    shaft = max(6, width // 3)
    head = width
    pygame.draw.rect(surface, color, (center_x - shaft // 2, top, shaft, length - head))
    pygame.draw.polygon(
        surface,
        color,
        [
            (center_x - head, top + length - head),
            (center_x + head, top + length - head),
            (center_x, top + length),
        ],
    )


def id_card(surface: pygame.Surface, rect: pygame.Rect, theme: th.Theme) -> None:
    """A stylised ID card: photo on the right, text lines on the left, as on the real card."""
    r = theme.px(18)
    pygame.draw.rect(surface, (236, 243, 252), rect, border_radius=r)
    pygame.draw.rect(surface, th.ILLUSTRATION_DARK, rect, width=theme.px(4), border_radius=r)
    photo = pygame.Rect(0, 0, rect.width * 0.26, rect.height * 0.58)
    photo.topright = (rect.right - rect.width * 0.07, rect.top + rect.height * 0.14)
    pygame.draw.rect(surface, th.ILLUSTRATION, photo, border_radius=theme.px(6))
    pygame.draw.circle(surface, (236, 243, 252), (photo.centerx, photo.top + photo.height * 0.38), photo.width * 0.22)
    for i in range(4):
        y = rect.top + rect.height * (0.2 + i * 0.16)
        w = rect.width * (0.45 if i != 2 else 0.3)
        pygame.draw.rect(
            surface,
            th.ILLUSTRATION,
            (rect.left + rect.width * 0.08, y, w, rect.height * 0.07),
            border_radius=theme.px(4),
        )
    pygame.draw.rect(
        surface,
        th.ILLUSTRATION_DARK,
        (
            rect.left + rect.width * 0.08,
            rect.bottom - rect.height * 0.16,
            rect.width * 0.84,
            rect.height * 0.07,
        ),
        border_radius=theme.px(4),
    )


def placeholder_person(surface: pygame.Surface, box: pygame.Rect, theme: th.Theme) -> None:
    pygame.draw.rect(surface, (236, 240, 245), box, border_radius=theme.px(12))
    head_r = int(min(box.width, box.height) * 0.22)
    pygame.draw.circle(surface, th.ILLUSTRATION, (box.centerx, box.top + int(box.height * 0.38)), head_r)
    body = pygame.Rect(0, 0, int(box.width * 0.8), int(box.height * 0.5))
    body.midtop = (box.centerx, box.top + int(box.height * 0.38) + head_r + theme.px(8))
    clip = surface.get_clip()
    surface.set_clip(box)
    pygame.draw.ellipse(surface, th.ILLUSTRATION, body)
    surface.set_clip(clip)
    pygame.draw.rect(surface, th.ILLUSTRATION_DARK, box, width=theme.px(3), border_radius=theme.px(12))


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


def animate_spinner(c: Canvas) -> None:
    center, radius = spinner_geometry(c)
    tick = c.data.get("tick")
    spinner(c.surface, center, radius, tick if isinstance(tick, int) else None)
