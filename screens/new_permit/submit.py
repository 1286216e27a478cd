"""Screen `new_permit.submit`: busy while the instant-approval system decides; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

STEP = 6
DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "submit")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
