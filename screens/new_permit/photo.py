"""Screen `new_permit.photo`: the camera's live picture, mirrored, with a head outline to align
with, advice in words as the resident moves, a 3-2-1 countdown, and what to correct after a
failed try.

Data `attempt` (1-based), `max_attempts`, `problem` (null | no_face | two_faces | too_dark
| too_bright | blurred | off_centre | too_small | too_large | camera | any other check's code),
`busy` (a photo is being checked; capture is disabled meanwhile), `preview` (true: the display
blits the camera's live frames into the frame drawn here, `rects["preview"]`), `outline`
([centre x, centre y, height] as fractions of the preview), `guidance` (null | ok | no_face |
two_faces | too_dark | too_bright | hold_still | closer | further | move_left | move_right |
move_up | move_down | another check's code), `countdown` (null | 3 | 2 | 1), `retake` (this is
the second photo after FACE_MISMATCH). Buttons `capture`, `cancel`.

`guidance` and `countdown` change while the resident moves: they are drawn every frame
(`animate`), over the cached layer and the preview, never by rebuilding the layer.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w

STEP = 3
TIPS = ("background", "hat")
DYNAMIC = frozenset({"guidance", "countdown"})
PREVIEW = "preview"  # the rect the display blits the live frames into


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
    elif c.data.get("retake"):
        y = c.banner(c.t("retake.again"), y, "info")
    live = bool(c.data.get("preview"))
    # With the live picture its advice stands in for most tips and the picture keeps its room; large
    # text says the same as normal text, only larger (the body scrolls when it does not fit).
    tips = TIPS[:1] if live else TIPS
    tips_h = sum(c.lines_height(c.t(f"photo.tip.{k}"), t.body, c.body.width - t.body) + t.px(14) for k in tips)
    # The advice changes as the resident moves, so its strip holds the longest advice in this language
    # and size (a long English line wraps to two in large text rather than being cut).
    guides = [v for k, v in c.texts.table.items() if k.startswith("photo.guide.")]
    advice_h = max((c.lines_height(g, t.subtitle, c.body.width, strong=True) for g in guides),
                   default=c.text.line_height(t.subtitle))
    strip_h = advice_h + t.px(24) if live else 0
    frame_h = min(t.px(820 if live else 560), c.body.bottom - y - tips_h - strip_h - 2 * t.gap)
    if live:
        # The resident must see themself: in large text the picture keeps at least this much and
        # the body scrolls (the picture moves with the page) rather than the picture going.
        frame_h = max(frame_h, t.px(320))
    elif frame_h < t.px(200):
        c.bullets([c.t(f"photo.tip.{k}") for k in tips], y)
        return
    frame = pygame.Rect(0, 0, int(frame_h * 0.78), frame_h)
    frame.midtop = (c.body.centerx, y)
    # Until the first live frame arrives (or with no preview) the silhouette stands in.
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
    y = frame.bottom + t.px(12)
    if live:
        c.rects[PREVIEW] = frame.inflate(-t.px(10), -t.px(10))
        strip = pygame.Rect(c.body.left, y, c.body.width, strip_h)
        c.rects["guidance"] = strip
        y = strip.bottom + t.gap
    c.bullets([c.t(f"photo.tip.{k}") for k in tips], y)


def animated(c: w.Canvas) -> pygame.Rect:
    """The live picture (the outline and the count go over it) and the advice's strip under it."""
    frame, strip = c.rects.get(PREVIEW), c.rects.get("guidance")
    if strip is None:
        return pygame.Rect(c.body.left, c.body.top, 0, 0)
    return strip.union(frame) if frame is not None else strip


def animate(c: w.Canvas) -> None:
    """Over the live picture: the head outline, the advice, the countdown."""
    frame, strip = c.rects.get(PREVIEW), c.rects.get("guidance")
    if strip is None:
        return
    t = c.theme
    guidance = c.data.get("guidance")
    ok = guidance == "ok"
    if frame is not None:
        outline = c.data.get("outline") or (0.5, 0.4, 0.46)
        cx, cy, height = (float(v) for v in outline[:3])
        oh = int(frame.height * height)
        oval = pygame.Rect(0, 0, int(oh * 0.74), oh)
        oval.center = (frame.left + int(frame.width * cx), frame.top + int(frame.height * cy))
        pygame.draw.ellipse(c.surface, th.SUCCESS if ok else th.ON_ACCENT, oval, t.px(8))
    if guidance:
        text = c.t_opt(f"photo.guide.{guidance}") or c.t("photo.guide.other")
        if c.data.get("countdown") and frame is None:  # no room for the picture: the count goes with the advice
            text = f"{c.data['countdown']} · {text}"
        # One line as a rule; a long translation shrinks to fit the strip rather than spill over.
        c.paragraph(text, strip.inflate(0, -t.px(12)), t.subtitle, th.SUCCESS if ok else th.WARNING, "center",
                    strong=True, fit=True)
    countdown = c.data.get("countdown")
    if countdown and frame is not None:
        # In the picture's top corner, not over the face: the resident keeps seeing themself.
        radius = min(t.px(90), frame.width // 5)
        centre = (frame.right - radius - t.px(14), frame.top + radius + t.px(14))
        pygame.draw.circle(c.surface, th.ACCENT, centre, radius)
        size = int(radius * 1.3)
        c.line(str(countdown), size, th.ON_ACCENT, centre[0], centre[1] - c.text.line_height(size) // 2,
               "center", strong=True)
