"""Screen `registration.proof_type`: how the resident lives there, which picks the proof (SH-REG-1).

Buttons `choice.<proof kind>` (own_property, relative_property, rental, relative_rental, dormitory),
each with the document it needs under its label; `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.registration.common import choice_layout, draw_choices, is_choice, paint_choice, title_and_body

layout = choice_layout(300, cols=1, large_room=360)
paint_button = paint_choice
on_page = is_choice  # large text: the answers scroll with the title rather than shrink


def draw(c: w.Canvas) -> None:
    title_and_body(c, "reg_kind")
    draw_choices(c)
