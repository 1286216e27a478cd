"""Screen `registration.phone`: the mobile number for the registration's SMS notices.

Data `digits`, `error`; buttons `key.*`, `confirm` (a valid mobile number), `back`, `cancel`.
"""

from __future__ import annotations

from screens.new_permit.phone import DYNAMIC, animate, draw, layout

__all__ = ["DYNAMIC", "animate", "draw", "layout"]
