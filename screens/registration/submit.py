"""Screen `registration.submit`: busy while the backend records the declaration; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "reg_submit")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
