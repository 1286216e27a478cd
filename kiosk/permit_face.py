"""The permit card's contents from the approval and the ID card: the printed face (SH-PMT-4),
the job ticket and the chip, rendered off the main thread."""

from __future__ import annotations

import io
from typing import Any

from devices.permit_profile import PermitContents, PermitValidity
from kiosk import cardface, idnumber
from kiosk.events import FaceRendered
from kiosk.identity import Identity
from kiosk.view import Photo


def build_card_face(grant: Any, identity: Identity, portrait: Photo | None) -> cardface.CardFace:
    """SH-PMT-4: what the card shows, from the approval and the ID card."""
    # A citizen card that passed ID_NUMBER_INVALID agrees with its number; fall back to the number.
    birth = identity.birth or idnumber.birth_of(identity.id_number)
    if birth is None:  # the ID-card checks refuse such a card before any approval
        raise ValueError("no birth date on the ID card nor in its number")
    sex = identity.sex.value if identity.sex is not None else idnumber.sex_of(identity.id_number)
    return cardface.CardFace(
        permit_number=grant.number,
        name=identity.name,
        sex=sex,
        nation=identity.nation,
        birth=birth,
        id_number=identity.id_number,
        household_address=identity.address,
        residence_address=grant.residence_address,
        authority=grant.authority,
        issued=grant.issued,
        valid_from=grant.valid_from,
        valid_until=grant.valid_until,
        photo=portrait,
    )


def chip_photo(portrait: Photo | None) -> bytes:
    """The chip's photo: the permit photo small enough for the photo file (JPEG, a few kB)."""
    from PIL import Image

    if portrait is None:
        return b""
    img = Image.frombytes("RGB", (portrait.width, portrait.height), portrait.rgb).resize((102, 126))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return buf.getvalue()


def chip_contents(face: cardface.CardFace) -> PermitContents:
    assert face.birth is not None
    return PermitContents(
        permit_number=face.permit_number,
        name=face.name,
        sex=face.sex,
        nation=face.nation,
        birth=face.birth,
        id_number=face.id_number,
        household_address=face.household_address,
        residence_address=face.residence_address,
        validity=PermitValidity(face.issued, face.valid_from, face.valid_until, 0),
        photo=chip_photo(face.photo),
    )


def render_face(session: str, face: cardface.CardFace) -> FaceRendered:
    image = cardface.render(face, "full")
    return FaceRendered(session, cardface.pack_bits(image), image.width, image.height, cardface.ticket(face),
                        chip_contents(face))


def same_chip(expected: PermitContents, read: PermitContents) -> bool:
    """The read-back check: every field the kiosk wrote came back unchanged."""
    return expected == read

