"""Screen `status_query.lookup`: busy while the backend answers; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "status_query.lookup")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
