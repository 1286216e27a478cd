"""Screen `status_query.read_id`: place the ID card on the reader (the new permit's drawing, no progress hint).

Data `error`: null | read_failed | unknown_card | reader_fault; button `cancel`.
"""

from __future__ import annotations

from screens import widgets as w
from screens.new_permit import read_id as shared


def draw(c: w.Canvas) -> None:
    shared.draw(c)
