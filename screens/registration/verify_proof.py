"""Screen `registration.verify_proof`: busy while the backend verifies the proof; spinner from `tick`."""

from __future__ import annotations

from screens import widgets as w

DYNAMIC = frozenset({"tick"})


def draw(c: w.Canvas) -> None:
    w.draw_busy(c, "reg_verify_proof")


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
