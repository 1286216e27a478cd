"""Screen `new_permit.precheck`: busy while checking the resident's records; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

STEP = 2
DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "precheck")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
