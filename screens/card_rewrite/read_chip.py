"""Screen `card_rewrite.read_chip`: busy while the card is read; do not pull it; spinner from `tick`."""

from __future__ import annotations

from screens import card_rewrite as cr
from screens import widgets as w

PROGRESS = 3
DYNAMIC = frozenset({"tick"})

layout = cr.layout


def draw(c: w.Canvas) -> None:
    cr.draw_busy(c, "read_chip", PROGRESS)


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
