"""Screen `registration.address`: the address the verified proof names; is this where you live?

Data `address`; buttons `answer.yes`, `answer.no` (another proof), `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.new_permit.residence import draw_question, layout, paint_button

__all__ = ["draw", "layout", "paint_button"]


def draw(c: w.Canvas) -> None:
    draw_question(c, "reg_address")
