"""Screen `registration.read_id`: place the ID card on the reader, as for a new permit.

Data `error`: null | read_failed | unknown_card | reader_fault; button `cancel`.
"""

from __future__ import annotations

from screens.new_permit.read_id import draw

__all__ = ["draw"]
