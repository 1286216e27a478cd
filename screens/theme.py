"""Colours, sizes and the frame's fixed bands, all relative to the window width.

Sizes are given for a 1080 px wide portrait screen and scaled: the smallest text stays at
about 36 px there (elderly residents, SH-AGE-2), and large-text mode scales every font up.
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

    def _font(self, normal: float, large: float) -> int:
        return self.px(large if self.large else normal)

    # Font sizes: nothing below 38 px at 1080 wide; large-text mode about 25 % bigger.
    @property
    def small(self) -> int:
        return self._font(38, 48)

    @property
    def body(self) -> int:
        return self._font(46, 58)

    @property
    def subtitle(self) -> int:
        return self._font(52, 64)

    @property
    def title(self) -> int:
        return self._font(66, 82)

    @property
    def button(self) -> int:
        return self._font(54, 66)

    @property
    def header(self) -> int:
        return self._font(40, 46)

    @property
    def huge(self) -> int:
        return self._font(92, 108)

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
        return self.px(170 if self.large else 150)

    @property
    def key_height(self) -> int:
        return self.px(150 if self.large else 140)

    def header_rect(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.width, self.px(120))

    def progress_rect(self) -> pygame.Rect:
        return pygame.Rect(0, self.header_rect().bottom, self.width, self.px(120))

    def content_top(self, with_progress: bool) -> int:
        top = self.progress_rect().bottom if with_progress else self.header_rect().bottom
        return top + self.px(40)

    def content_rect(self, with_progress: bool) -> pygame.Rect:
        """Everything under the header (and progress hint) down to the bottom margin."""
        top = self.content_top(with_progress)
        return pygame.Rect(self.margin, top, self.width - 2 * self.margin, self.height - self.margin - top)
