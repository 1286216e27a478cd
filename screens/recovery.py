"""Screen `recovery`: starting up; a spinner while the core works (no data but `tick`)."""

from __future__ import annotations

from screens import widgets as w

DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "recovery")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
