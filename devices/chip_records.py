"""The permit chip's byte layers under its typed contents: BER-TLV items and CRC-framed records.

Every data EF holds a *record*: a 2-byte big-endian body length, the body, and a CRC-32 over
length and body, so a torn write is never mistaken for data (devices/permit_profile.py, and
docs/protocols/permit-card.md). Pure codecs, no I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

RECORD_OVERHEAD = 6  # length (2) + CRC-32 (4)


class ProfileError(ValueError):
    """Bytes that are not a valid record of this profile. Messages never quote the bytes."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code  # "empty", "corrupt", "malformed", "too_large", "invalid_field"


# --- TLV ----------------------------------------------------------------------------------


def tlv_encode(items: Iterable[tuple[int, bytes]]) -> bytes:
    """BER-TLV with one-byte context tags (80-9E) and BER lengths up to 65535."""
    out = bytearray()
    for tag, value in items:
        if not 0x80 <= tag <= 0x9E:
            raise ValueError("tag outside the profile's range")
        n = len(value)
        if n < 0x80:
            length = bytes((n,))
        elif n <= 0xFF:
            length = bytes((0x81, n))
        elif n <= 0xFFFF:
            length = bytes((0x82, n >> 8, n & 0xFF))
        else:
            raise ProfileError("too_large")
        out += bytes((tag,)) + length + value
    return bytes(out)


def tlv_decode(data: bytes) -> dict[int, bytes]:
    items: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        if len(data) - i < 2:
            raise ProfileError("malformed")
        tag, first = data[i], data[i + 1]
        i += 2
        if first < 0x80:
            n = first
        elif first in (0x81, 0x82):
            width = first - 0x80
            if len(data) - i < width:
                raise ProfileError("malformed")
            n = int.from_bytes(data[i : i + width], "big")
            i += width
        else:
            raise ProfileError("malformed")
        if not 0x80 <= tag <= 0x9E or tag in items or len(data) - i < n:
            raise ProfileError("malformed")
        items[tag] = data[i : i + n]
        i += n
    return items


# --- records ------------------------------------------------------------------------------


def frame_record(body: bytes, capacity: int) -> bytes:
    """The record as it is written, exactly `len(body) + RECORD_OVERHEAD` bytes."""
    if len(body) + RECORD_OVERHEAD > capacity or len(body) > 0xFFFF:
        raise ProfileError("too_large")
    head = len(body).to_bytes(2, "big") + body
    return head + zlib.crc32(head).to_bytes(4, "big")


def record_length(head: bytes) -> int:
    """Total bytes of the record that starts with `head` (at least 2 bytes)."""
    if len(head) < 2:
        raise ProfileError("malformed")
    return int.from_bytes(head[:2], "big") + RECORD_OVERHEAD


def unframe_record(raw: bytes) -> bytes:
    """The body of the record at the start of `raw`; ProfileError("empty"/"corrupt") otherwise."""
    if len(raw) < RECORD_OVERHEAD:
        raise ProfileError("corrupt")
    n = int.from_bytes(raw[:2], "big")
    if n == 0 and not any(raw[:RECORD_OVERHEAD]):
        raise ProfileError("empty")  # never written: EFs leave the factory zeroed
    if 2 + n + 4 > len(raw):
        raise ProfileError("corrupt")
    head = raw[: 2 + n]
    if zlib.crc32(head).to_bytes(4, "big") != raw[2 + n : 2 + n + 4]:
        raise ProfileError("corrupt")
    return raw[2 : 2 + n]
