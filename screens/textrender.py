"""Rendered text: lines cached by bytes, widths, greedy wrapping with the Chinese line-breaking rule.

Rendering text with freetype costs far more than blitting it, so every rendered line and
every wrap is kept in a bounded LRU (bounded: names and addresses change every session
and memory must stay flat over thousands of sessions); whatever is not a translation is
dropped when the session ends (forget_session, SH-PRIV-1).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import pygame
import pygame.freetype

from kiosk.fonts import FontFile
from screens import theme as th
from screens.lru import Lru

V = TypeVar("V")

LINE_CACHE_BYTES = 16 * 1024 * 1024
# Glyphs freetype keeps rendered per font (its default, 64, is less than one screen of Chinese at
# one size): pygame.freetype.init(cache_size=...), read when a font is opened. A glyph is the
# font's, not a resident's: the cache holds shapes of characters, never which text they formed.
GLYPH_CACHE = 4096
STATIC_ENTRIES = 20_000


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
            pygame.freetype.init(cache_size=GLYPH_CACHE)
        self.font_file = font_file
        self.font = self._open()
        # Bounded by bytes, not entries: one line of large text is up to ~110 kB.
        self._lines: Lru[tuple[str, int, th.Color, bool], Line] = Lru(LINE_CACHE_BYTES, weigh=_line_bytes)
        self._widths: Lru[tuple[str, int, bool], int] = Lru(4000)
        self._wraps: Lru[tuple[str, int, int, bool], tuple[str, ...]] = Lru(500)
        # The translations' widths and wraps, apart: a session's texts must not evict what the boot
        # warm-up laid out (screens/warm.py; all screens need ~3,500 widths and ~1,500 wraps). Bounded
        # all the same, though the translations at the sizes the screens use are a finite set.
        self._static_widths: Lru[tuple[str, int, bool], int] = Lru(STATIC_ENTRIES)
        self._static_wraps: Lru[tuple[str, int, int, bool], tuple[str, ...]] = Lru(STATIC_ENTRIES)
        self._ascender: dict[int, int] = {}
        # Values a screen derives from the session's data (a QR code's modules): gone with it.
        self._memo: Lru[Hashable, Any] = Lru(16)
        # Texts that hold no resident's data (the translations): kept across sessions. Any other
        # text (names, addresses, numbers, formatted messages) goes when the session ends.
        self.static: frozenset[str] = frozenset()
        self._static_lines: set[str] = set()  # the lines a translation wraps into: no resident's data

    def _open(self) -> pygame.freetype.Font:
        font = pygame.freetype.Font(self.font_file.path, 0, font_index=self.font_file.index)
        font.antialiased = True
        font.pad = False
        font.origin = True  # render_to places the pen's start on the baseline, as a line is laid out
        return font

    def keep(self, texts: set[str]) -> None:
        """Texts that are no resident's data either (the terminal's site name): kept like translations."""
        self.static = self.static | {t for t in texts if t}

    def is_static(self, text: str) -> bool:
        """A translation or a line one wraps into: no resident's data, kept across sessions."""
        return text in self.static or text in self._static_lines

    def memo(self, key: Hashable, make: Callable[[], V]) -> V:
        """make(), kept for this session (a screen drawn again while it scrolls or redraws)."""
        value: V = self._memo.get(key, make)
        return value

    def draw(self, surface: pygame.Surface, text: str, size: int, color: th.Color, origin: tuple[int, int],
             strong: bool = False) -> None:
        """The text onto `surface` (its clip holds), the pen starting at `origin` on the baseline.
        A translation (or a line of one) is kept as a picture and blitted: a blit costs a tenth of
        rendering, and a layer is rebuilt each time its data changes. Any other text (a name, an
        address, a number, a formatted message) is rendered straight onto the surface, which costs
        about what making its picture would, and is never kept as pixels (SH-PRIV-1)."""
        if not text:
            return
        if self.is_static(text):
            ln = self.line(text, size, color, strong)
            surface.blit(ln.surface, (origin[0] + ln.left, origin[1] - ln.top))
            return
        style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
        clip = surface.get_clip()
        if clip.size != surface.get_size():
            # freetype's render_to ignores the surface's clip (a blit does not): text of a scrolled
            # page or of a fitted paragraph would be drawn outside its window, over the scroll
            # buttons. So a line that does not lie inside the clip is drawn into the clip's own
            # subsurface, whose edges do hold.
            ink = self.ink(text, size, origin, strong)
            if not clip.contains(ink):
                if not clip.colliderect(ink):
                    return
                surface = surface.subsurface(clip)
                origin = (origin[0] - clip.x, origin[1] - clip.y)
        self.font.render_to(surface, origin, text, color, None, style=style, size=size)

    def ink(self, text: str, size: int, origin: tuple[int, int], strong: bool = False) -> pygame.Rect:
        """Where draw() puts the ink of `text` (the glyphs' box, unclipped)."""
        if not text:
            return pygame.Rect(origin, (0, 0))
        style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
        rect = self.font.get_rect(text, style=style, size=size)
        return pygame.Rect(origin[0] + rect.x, origin[1] - rect.y, rect.width, rect.height)

    def line(self, text: str, size: int, color: th.Color, strong: bool = False) -> Line:
        """The text as a picture of its own, kept (the header's clock, drawn every frame)."""
        return self._lines.get((text, size, color, strong), lambda: self._render(text, size, color, strong))

    def _render(self, text: str, size: int, color: th.Color, strong: bool) -> Line:
        if not text:
            return Line(pygame.Surface((1, 1), pygame.SRCALPHA), 0, 0, 0)
        style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
        rect = self.font.get_rect(text, style=style, size=size)
        # Rendered onto a transparent surface in the display's pixel order (an alpha blit of it is
        # ~15x faster than of freetype's own RGBA): half to a third of the cost of render() + convert.
        surf = pygame.Surface((max(1, rect.width), max(1, rect.height)), pygame.SRCALPHA, 32)
        if pygame.display.get_surface() is not None:
            surf = surf.convert_alpha()
        surf.fill((0, 0, 0, 0))
        self.font.render_to(surf, (-rect.x, rect.y), text, color, None, style=style, size=size)
        return Line(surf, rect.x, rect.y, self.width(text, size, strong))

    def width(self, text: str, size: int, strong: bool = False) -> int:
        # Synthetic bold widens every glyph: measure with the style that will be drawn.
        def measure() -> int:
            if not text:
                return 0
            style = pygame.freetype.STYLE_STRONG if strong else pygame.freetype.STYLE_DEFAULT
            return int(self.font.get_rect(text, style=style, size=size).width)

        return (self._static_widths if self.is_static(text) else self._widths).get((text, size, strong), measure)

    def shrink(self, text: str, size: int, floor: int, room: int, strong: bool = False, step: int = 2) -> int:
        """The size a one-line text is drawn at to fit `room`: the first of size, size - step, ...
        that fits, stopping once at or below `floor` (what stepping down one size at a time gives).
        Each size tried loads every glyph anew, so the search starts from the proportional guess
        (a width scales with the size) and walks from there: two or three sizes, not a dozen."""
        def done(k: int) -> bool:
            return size - k * step <= floor or self.width(text, size - k * step, strong) <= room

        if done(0):
            return size
        wide = self.width(text, size, strong)
        last = max(1, -(-(size - floor) // step))  # the first k at or below the floor: always done
        k = min(last, max(1, round((size - size * room / max(1, wide)) / step)))
        if done(k):
            while k > 1 and done(k - 1):
                k -= 1
        else:
            while not done(k + 1):
                k += 1
            k += 1
        return size - k * step

    def ascender(self, size: int) -> int:
        if size not in self._ascender:
            self._ascender[size] = int(self.font.get_sized_ascender(size))
        return self._ascender[size]

    @staticmethod
    def line_height(size: int) -> int:
        return round(size * th.LINE_SPACING)

    def wrap(self, text: str, size: int, max_width: int, strong: bool = False) -> tuple[str, ...]:
        key = (text, size, max_width, strong)
        if text not in self.static:
            return self._wraps.get(key, lambda: self._wrap(text, size, max_width, strong))
        lines = self._static_wraps.get(key, lambda: self._wrap(text, size, max_width, strong))
        self._static_lines.update(lines)
        return lines

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
        self._wraps.clear()
        self._widths.clear()
        # A translation's wrapped lines are no resident's data either: they stay with it.
        self._lines.discard(lambda k: self.is_static(k[0]))
        self._memo.clear()

    def cached_texts(self) -> set[str]:
        """Every text the caches hold now (for tests of what survives a session)."""
        texts = {k[0] for k, _ in self._lines.entries()}
        texts |= {k[0] for k, _ in self._widths.entries() + self._static_widths.entries()}
        for key, lines in self._wraps.entries() + self._static_wraps.entries():
            texts.add(key[0])
            texts.update(lines)
        for memo_key, _ in self._memo.entries():  # what a screen derived a value from (a notice's number)
            texts.update(str(part) for part in (memo_key if isinstance(memo_key, tuple) else (memo_key,)))
        return texts

    def cache_bytes(self) -> int:
        return self._lines.weight

    def clear(self) -> None:
        """Everything rendered goes, the font's own glyph cache too: the state right after boot."""
        self.font = self._open()
        self._ascender.clear()
        self._static_lines.clear()
        self._lines.clear()
        self._widths.clear()
        self._wraps.clear()
        self._static_widths.clear()
        self._static_wraps.clear()
        self._memo.clear()

    def laid_out(self) -> tuple[list[tuple[str, int, int, bool]], list[tuple[str, int, bool]]]:
        """The translations' wraps and widths held now: what the boot warm-up lays out again
        (screens/warm.py records them; only translations and their lines are ever in these)."""
        return [k for k, _ in self._static_wraps.entries()], [k for k, _ in self._static_widths.entries()]


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
