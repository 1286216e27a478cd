"""The physical steps of issuing one permit card, in order, and where the card is.

The controller sends each step's command and feeds back the printer's results; this
object only knows the sequence and the card's whereabouts, so the write-ahead journal
(DESIGN.md, Issuing a card) can hook each step before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.events import PrinterError, PrinterOp
from kiosk import cardface, idnumber
from kiosk.events import FaceRendered
from kiosk.identity import Identity
from kiosk.view import Photo


class IssuanceStep(StrEnum):
    FEED = "feed"
    TICKET = "ticket"
    PRINT = "print"
    PRESENT = "present"


SEQUENCE: tuple[IssuanceStep, ...] = (IssuanceStep.FEED, IssuanceStep.TICKET, IssuanceStep.PRINT, IssuanceStep.PRESENT)


@dataclass
class Issuance:
    permit_number: str
    session_id: str
    done: list[IssuanceStep] = field(default_factory=list)
    in_flight: IssuanceStep | None = None
    card_inside: bool = False
    retracting: bool = False
    closed: bool = False
    was_taken: bool = False
    bits: bytes = field(default=b"", repr=False)
    width: int = 0
    height: int = 0
    ticket: dict[str, str] = field(default_factory=dict, repr=False)
    face_is_ready: bool = False

    def face_ready(self, bits: bytes, width: int, height: int, ticket: dict[str, str]) -> None:
        self.bits, self.width, self.height, self.ticket = bits, width, height, ticket
        self.face_is_ready = True

    def next_command(self) -> IssuanceStep | None:
        """The next step to send, or None while one is in flight or the face is still rendering."""
        if self.in_flight is not None or self.retracting or self.closed:
            return None
        for step in SEQUENCE:
            if step not in self.done:
                if step in (IssuanceStep.TICKET, IssuanceStep.PRINT) and not self.face_is_ready:
                    return None
                return step
        return None

    def sent(self, step: IssuanceStep) -> None:
        self.in_flight = step

    def step_done(self, op: PrinterOp) -> None:
        step = IssuanceStep(op.value)
        self.done.append(step)
        self.in_flight = None
        if step is IssuanceStep.FEED:
            self.card_inside = True

    def failed(self, op: PrinterOp, error: PrinterError | None) -> None:
        self.in_flight = None
        if op is PrinterOp.FEED and error is PrinterError.JAM:
            self.card_inside = True  # the card left the hopper and stuck on its way

    def retracted(self, ok: bool) -> None:
        # A failed retract leaves the card jammed inside: retained either way, never handed out.
        self.card_inside = False
        self.retracting = False

    def taken(self) -> None:
        self.was_taken = True
        self.card_inside = False


def build_card_face(grant: Any, identity: Identity, portrait: Photo | None) -> cardface.CardFace:
    """SH-PMT-4: what the card shows, from the approval and the ID card."""
    # A citizen card that passed ID_NUMBER_INVALID agrees with its number; fall back to the number.
    birth = identity.birth or idnumber.birth_of(identity.id_number)
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


def render_face(session: str, face: cardface.CardFace) -> FaceRendered:
    image = cardface.render(face, "full")
    return FaceRendered(session, cardface.pack_bits(image), image.width, image.height, cardface.ticket(face))
