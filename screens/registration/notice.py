"""Screen `registration.notice`: what the declaration needs (SH-REG-1, SH-REG-2); `confirm`, `cancel`."""

from __future__ import annotations

from screens import widgets as w
from screens.registration.common import title_and_body


def draw(c: w.Canvas) -> None:
    y = title_and_body(c, "reg_notice")
    c.bullets([c.t(f"reg_notice.item{i}") for i in range(1, 5)], y)
