"""Screen `new_permit.photo`: face the camera; what to correct after a failed try.

Data `attempt` (1-based), `max_attempts`, `problem` (null | no_face | two_faces | too_dark
| too_bright | blurred | off_centre | too_small | too_large | camera), `busy` (a photo is
being checked; capture is disabled meanwhile). Buttons `capture`, `cancel`.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 3
TIPS = ("face", "background", "hat", "ready")


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("photo.title")
    attempt, most = c.data.get("attempt"), c.data.get("max_attempts")
    if attempt and most:
        y = c.paragraph(
            c.t("photo.attempt", attempt=attempt, max=most),
            pygame.Rect(c.body.left, y - t.px(16), c.body.width, c.body.bottom - y),
            t.body,
            th.MUTED,
            align="center",
        )
        y += t.px(16)
    problem = c.data.get("problem")
    if c.data.get("busy"):
        y = c.banner(c.t("photo.busy"), y, "info")
    elif problem:
        y = c.banner(c.t_opt(f"photo.problem.{problem}") or c.t("photo.problem.other"), y, "warning")
    # A face in a frame: where to stand and how the photo is cropped.
    tips = TIPS  # large text says the same: every tip, only larger
    tips_h = sum(c.lines_height(c.t(f"photo.tip.{k}"), t.body, c.body.width - t.body) + t.px(14) for k in tips)
    frame_h = min(t.px(560), c.body.bottom - y - tips_h - t.gap)
    if frame_h > t.px(200):
        frame = pygame.Rect(0, 0, int(frame_h * 0.78), frame_h)
        frame.midtop = (c.body.centerx, y)
        w.placeholder_person(c.surface, frame, t)
        corner = t.px(60)
        for (x, yy), (dx, dy) in (
            (frame.topleft, (1, 1)),
            (frame.topright, (-1, 1)),
            (frame.bottomleft, (1, -1)),
            (frame.bottomright, (-1, -1)),
        ):
            pygame.draw.line(c.surface, th.ACCENT, (x, yy), (x + dx * corner, yy), t.px(10))
            pygame.draw.line(c.surface, th.ACCENT, (x, yy), (x, yy + dy * corner), t.px(10))
        y = frame.bottom + t.gap
    c.bullets([c.t(f"photo.tip.{k}") for k in tips], y)
