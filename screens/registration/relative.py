"""Screen `registration.relative`: who the holder of the home is to the resident (SH-REG-2, SH-REG-3).

Data `close` (the relationships that count as close). Buttons `choice.<relationship>`: the close ones
(spouse, parent, child, grandparent, grandchild, sibling) and those that do not count (parent-in-law,
sibling-in-law, uncle or aunt, cousin, nephew or niece, friend); `back`, `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.registration.common import choice_layout, draw_choices, is_choice, paint_choice, title_and_body

layout = choice_layout(260, cols=2)
paint_button = paint_choice
on_page = is_choice  # large text: the answers scroll with the title rather than shrink


def draw(c: w.Canvas) -> None:
    title_and_body(c, "reg_relative")
    draw_choices(c)
