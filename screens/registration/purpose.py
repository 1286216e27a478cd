"""Screen `registration.purpose`: the reason for living here (the declared purpose).

Buttons `choice.<purpose>` (work, business, study, family, other); `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.registration.common import choice_layout, draw_choices, is_choice, paint_choice, title_and_body

layout = choice_layout(300, cols=1, large_room=360)
paint_button = paint_choice
on_page = is_choice  # large text: the answers scroll with the title rather than shrink


def draw(c: w.Canvas) -> None:
    title_and_body(c, "reg_purpose")
    draw_choices(c)
