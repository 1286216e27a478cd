"""Screen `registration.purpose`: the reason for living here (the declared purpose).

Buttons `choice.<purpose>` (work, business, study, family, other); `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.registration.common import choice_layout, paint_choice, title_and_body

layout = choice_layout(300, cols=1)
paint_button = paint_choice


def draw(c: w.Canvas) -> None:
    title_and_body(c, "reg_purpose")
