"""Shapes drawn without glyphs: the spinner, marks, arrows, the ID card and a person's outline."""

from __future__ import annotations

import math

import pygame

from screens import theme as th


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
    surface.set_clip(box.clip(clip))  # within the clip it was drawn with (a page, a band)
    pygame.draw.ellipse(surface, th.ILLUSTRATION, body)
    surface.set_clip(clip)
    pygame.draw.rect(surface, th.ILLUSTRATION_DARK, box, width=theme.px(3), border_radius=theme.px(12))
