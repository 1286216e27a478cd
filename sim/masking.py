"""Resident data in the simulator's own output, masked as the firmware masks it (SH-PRIV-1).

Scenario reports, the printer emulator's per-card records and anything else the test harness
writes are test output, and test output holds no resident's name, ID number, address or phone
either: the residents are synthetic, but a habit of writing them out is what leaks in
production. ID numbers take the firmware's own form (`kiosk.identity.mask_id`, the only form a
kiosk log may show): this is not a decision the emulated backend would have to make for itself
(the backend, another organisation's system, keeps its own mask in sim/backend/vocab.py), only
the presentation of test output, which should read like the kiosk's logs. Names keep their
first character, addresses their first few (the province or city), phones their first three and
last two digits: enough to tell records apart in a report, not enough to find the person.
"""

from __future__ import annotations

from typing import Any

from kiosk.identity import mask_id

PERSONAL_TICKET_FIELDS = {  # the card face's text fields that are a person's, and how each is masked
    "name": "name", "id_number": "id_number", "household_address": "address", "residence_address": "address",
}


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else name


def mask_address(address: str) -> str:
    keep = min(6, len(address) // 3)
    return address[:keep] + "*" * (len(address) - keep)


def mask_phone(phone: str) -> str:
    return phone[:3] + "*" * (len(phone) - 5) + phone[-2:] if len(phone) > 5 else "*" * len(phone)


MASKS = {"name": mask_name, "id_number": mask_id, "address": mask_address, "phone": mask_phone}


def mask_ticket(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """A printed card's ticket (kiosk.cardface.ticket) as test output may keep it: the validity,
    dates, permit number and authority as printed (what scenario expectations read), the holder masked."""
    if fields is None:
        return None
    out = dict(fields)
    for key, how in PERSONAL_TICKET_FIELDS.items():
        if isinstance(out.get(key), str):
            out[key] = MASKS[how](out[key])
    return out
