"""Screen `new_permit.verify_face`: busy while the live photo is compared; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

STEP = 3
DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "verify_face")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
