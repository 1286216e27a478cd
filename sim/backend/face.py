"""The stand-in for the authority's face service, and the live photo as it arrives.

The comparison is sim.faces.same_person: pixels against the resident's reference portrait,
made from the resident's key (the authority holds each resident's own photo); it never sees
whose face the camera was told to show. It is an honest stand-in and tells apart only the
variants of one real photograph that sim.faces makes residents of. sim.faces is the
simulators' shared face module (the camera emulator shows its scenes); it and OpenCV load on
a thread of their own when the matcher is made.
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


def synthetic_matcher(warm: bool = True) -> FaceMatcher:
    """The stand-in; `warm`: load sim.faces' photograph and OpenCV beside the server's start-up,
    so that the first face check's reply does not wait for them (a client's read timeout)."""
    if warm:
        import threading

        from sim import faces as preload

        threading.Thread(target=preload.warm_up, name="faces-warm-up", daemon=True).start()

    def matches(live: Image.Image, resident_key: str) -> bool:
        from sim import faces

        same, _score = faces.matches_reference(live, resident_key)
        return bool(same)

    return matches
