"""Screen `card_rewrite.check_endorsement`: busy while the backend is asked whether the endorsement
passed; do not pull the card; spinner from `tick`."""

from __future__ import annotations

from screens import card_rewrite as cr
from screens import widgets as w

PROGRESS = 3
DYNAMIC = frozenset({"tick"})

layout = cr.layout


def draw(c: w.Canvas) -> None:
    cr.draw_busy(c, "check_endorsement", PROGRESS)


def animate(c: w.Canvas) -> None:
    w.animate_spinner(c)


animated = w.animated_spinner
