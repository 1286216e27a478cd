"""Screen `card_rewrite.verify`: busy while the updated card is read back and compared; do not pull
the card; spinner from `tick`."""

from __future__ import annotations

from screens import card_rewrite as cr
from screens import widgets as w

PROGRESS = 4
DYNAMIC = frozenset({"tick"})

layout = cr.layout


def draw(c: w.Canvas) -> None:
    cr.draw_busy(c, "verify", PROGRESS)


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
