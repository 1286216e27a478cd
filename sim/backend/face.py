"""The stand-in for the authority's face service, and the live photo as it arrives.

The comparison is sim.faces.same_person: pixels against the resident's reference portrait,
drawn from the resident's key (the authority holds each resident's own photo); it never sees
whose face the camera was told to show. It is an honest stand-in and says nothing about real
faces. sim.faces is the simulator's shared synthetic-face module (the camera emulator draws
with it); it is imported only when the first photo is compared.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable

from PIL import Image

FaceMatcher = Callable[[Image.Image, str], bool]


def decode_png(text: str) -> Image.Image | None:
    """A base64 PNG (standard alphabet, padded) as RGB, or None when it is not one."""
    try:
        image = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
        image.load()
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        return None
    return image.convert("RGB") if image.format == "PNG" else None


def synthetic_matcher() -> FaceMatcher:
    def matches(live: Image.Image, resident_key: str) -> bool:
        from sim import faces

        same, _score = faces.same_person(live, faces.reference_portrait(resident_key))
        return bool(same)

    return matches
