"""Colours, sizes and the frame's fixed bands, all relative to the window width.

Sizes are given for a 1080 px wide portrait screen and scaled: the smallest text stays at
about 38 px there (elderly residents, SH-AGE-2), and large-text mode ("da zi ban") scales every font,
every touch target and every band by LARGE (1.5: the MIIT elder-friendly guideline's floor),
with the same words: large text says the same, only larger (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

Color = tuple[int, int, int]

# High contrast on purpose: dark text on white, white on a deep blue (about 8:1).
BACKGROUND: Color = (250, 251, 253)
TEXT: Color = (17, 24, 39)
MUTED: Color = (55, 65, 81)
HEADER_BG: Color = (10, 54, 128)
HEADER_TEXT: Color = (255, 255, 255)
ACCENT: Color = (10, 83, 190)
ACCENT_DARK: Color = (6, 48, 112)
ACCENT_LIGHT: Color = (225, 236, 252)
ON_ACCENT: Color = (255, 255, 255)
SECONDARY_BG: Color = (255, 255, 255)
SECONDARY_PRESSED: Color = (203, 213, 225)
BORDER: Color = (31, 41, 55)
DISABLED_BG: Color = (226, 229, 234)
DISABLED_TEXT: Color = (75, 85, 99)
ERROR: Color = (176, 0, 32)
ERROR_LIGHT: Color = (253, 234, 236)
SUCCESS: Color = (21, 115, 54)
SUCCESS_LIGHT: Color = (228, 245, 233)
WARNING: Color = (146, 64, 14)
WARNING_LIGHT: Color = (254, 243, 199)
PANEL: Color = (255, 255, 255)
ILLUSTRATION: Color = (148, 163, 184)
ILLUSTRATION_DARK: Color = (71, 85, 105)
# Multiplied into the frame under the idle warning: darkens without an alpha blit.
DIM: Color = (95, 95, 95)

LARGE = 1.5  # large text: every font and touch target this much bigger
MIN_TARGET = 120  # px at 1080 wide: no touch target of large text is smaller
LINE_SPACING = 1.42  # line box / font size (the guideline asks >= 1.3)

# Every text colour on the background it is drawn on (tests/unit/test_theme.py: >= 4.5:1).
TEXT_PAIRS: tuple[tuple[str, Color, Color], ...] = (
    ("text", TEXT, BACKGROUND),
    ("muted", MUTED, BACKGROUND),
    ("header", HEADER_TEXT, HEADER_BG),
    ("on_accent", ON_ACCENT, ACCENT),
    ("on_accent_pressed", ON_ACCENT, ACCENT_DARK),
    ("secondary", TEXT, SECONDARY_BG),
    ("secondary_pressed", TEXT, SECONDARY_PRESSED),
    ("disabled", DISABLED_TEXT, DISABLED_BG),
    ("error", ERROR, ERROR_LIGHT),
    ("warning", WARNING, WARNING_LIGHT),
    ("success", SUCCESS, SUCCESS_LIGHT),
    ("info", ACCENT_DARK, ACCENT_LIGHT),
    ("panel", TEXT, PANEL),
)


def luminance(color: Color) -> float:
    """WCAG 2 relative luminance."""

    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Color, b: Color) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class Theme:
    width: int
    height: int
    large: bool = False

    @property
    def scale(self) -> float:
        return self.width / 1080

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def big(self, normal: float) -> int:
        """A size given for normal text, grown by LARGE in large-text mode."""
        return self.px(normal * LARGE if self.large else normal)

    # Font sizes: nothing below 38 px at 1080 wide; large-text mode 1.5x every one.
    @property
    def small(self) -> int:
        return self.big(38)

    @property
    def body(self) -> int:
        return self.big(46)

    @property
    def subtitle(self) -> int:
        return self.big(52)

    @property
    def title(self) -> int:
        return self.big(66)

    @property
    def button(self) -> int:
        return self.big(54)

    @property
    def header(self) -> int:
        return self.big(40)

    @property
    def huge(self) -> int:
        return self.big(92)

    @property
    def margin(self) -> int:
        return self.px(60)

    @property
    def gap(self) -> int:
        return self.px(32)

    @property
    def radius(self) -> int:
        return self.px(24)

    @property
    def button_height(self) -> int:
        return self.big(150)

    @property
    def key_height(self) -> int:
        return self.big(140)

    @property
    def chrome_height(self) -> int:
        """The header's resident controls (large text, language, help): 120 px, 180 in large text."""
        return self.big(MIN_TARGET)

    def header_rect(self) -> pygame.Rect:
        """The title row: the site's name and the clock."""
        return pygame.Rect(0, 0, self.width, self.big(80))

    def chrome_rect(self) -> pygame.Rect:
        """The row of the resident's controls under the title row."""
        pad = self.px(10)
        return pygame.Rect(0, self.header_rect().bottom, self.width, self.chrome_height + 2 * pad)

    def progress_rect(self) -> pygame.Rect:
        return pygame.Rect(0, self.chrome_rect().bottom, self.width, self.big(110))

    def content_top(self, with_progress: bool) -> int:
        top = self.progress_rect().bottom if with_progress else self.chrome_rect().bottom
        return top + self.px(32)

    def content_rect(self, with_progress: bool) -> pygame.Rect:
        """Everything under the header (and progress hint) down to the bottom margin."""
        top = self.content_top(with_progress)
        return pygame.Rect(self.margin, top, self.width - 2 * self.margin, self.height - self.margin - top)
