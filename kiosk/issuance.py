"""The physical steps of issuing one permit card, in order, where the card is, and the journal.

The controller sends each step's command and feeds back the results; this object knows the
sequence, the card's whereabouts, and writes every physical step to the write-ahead journal
before it starts and after it ended (DESIGN.md, Issuing a card without losing or doubling one).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.events import PrinterError, PrinterOp
from devices.permit_profile import PermitContents, PermitValidity
from kiosk import cardface, idnumber
from kiosk.events import FaceRendered
from kiosk.identity import Identity
from kiosk.journal import Final, Journal, Step, attempt
from kiosk.view import Photo

_log = logging.getLogger(__name__)


class IssuanceStep(StrEnum):
    FEED = "feed"  # blank card from the hopper
    TICKET = "ticket"  # the printed fields, for the printer's job log
    PRINT = "print"  # the card face
    TO_ENCODER = "to_encoder"  # the card into the chip encoder's field
    ENCODE = "encode"  # personalise the blank chip
    VERIFY = "verify"  # read the chip back and compare
    PRESENT = "present"  # the card at the slot for the resident


SEQUENCE: tuple[IssuanceStep, ...] = tuple(IssuanceStep)
PRINTER_STEPS = frozenset({IssuanceStep.FEED, IssuanceStep.TICKET, IssuanceStep.PRINT, IssuanceStep.TO_ENCODER,
                           IssuanceStep.PRESENT})
# The journal step each physical step begins (written before the command goes out).
STARTS: dict[IssuanceStep, Step] = {
    IssuanceStep.FEED: Step.PICKED,
    IssuanceStep.PRINT: Step.PRINTED,
    IssuanceStep.TO_ENCODER: Step.ENCODED,  # encoding begins when the card moves to the encoder
    IssuanceStep.VERIFY: Step.VERIFIED,
    IssuanceStep.PRESENT: Step.PRESENTED,
}
# The journal step each step completes.
ENDS: dict[IssuanceStep, Step] = {
    IssuanceStep.FEED: Step.PICKED,
    IssuanceStep.PRINT: Step.PRINTED,
    IssuanceStep.ENCODE: Step.ENCODED,
    IssuanceStep.VERIFY: Step.VERIFIED,
    IssuanceStep.PRESENT: Step.PRESENTED,
}


@dataclass
class Issuance:
    permit_number: str
    session_id: str
    journal: Journal | None = None
    row_id: int | None = None
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
    chip: PermitContents | None = field(default=None, repr=False)
    card_serial: str | None = None
    face_is_ready: bool = False

    @classmethod
    def begin(cls, permit_number: str, session_id: str, journal: Journal | None) -> Issuance:
        """Journals the approval (the row's first step) before any card moves."""
        issuance = cls(permit_number, session_id, journal)
        if journal is not None:
            issuance.row_id = journal.begin_issuance(session_id, permit_number)
        return issuance

    def face_ready(self, rendered: FaceRendered) -> None:
        self.bits, self.width, self.height = rendered.bits, rendered.width, rendered.height
        self.ticket, self.chip = rendered.ticket, rendered.chip
        self.face_is_ready = True

    def next_command(self, chip_in_field: bool) -> IssuanceStep | None:
        """The next step to send, or None while one is in flight, the face is still rendering,
        or the chip has not yet entered the encoder's field."""
        if self.in_flight is not None or self.retracting or self.closed:
            return None
        for step in SEQUENCE:
            if step in self.done:
                continue
            if step in (IssuanceStep.TICKET, IssuanceStep.PRINT) and not self.face_is_ready:
                return None
            if step is IssuanceStep.ENCODE and not chip_in_field:
                return None
            return step
        return None

    def awaiting_chip(self, chip_in_field: bool) -> bool:
        return (not chip_in_field and self.in_flight is None and not self.retracting and not self.closed
                and IssuanceStep.TO_ENCODER in self.done and IssuanceStep.ENCODE not in self.done)

    def sent(self, step: IssuanceStep) -> None:
        self.in_flight = step
        if step in STARTS:
            self._journal("step_started", STARTS[step])

    def step_done(self, step: IssuanceStep, card_serial: str | None = None) -> None:
        self.done.append(step)
        self.in_flight = None
        if step is IssuanceStep.FEED:
            self.card_inside = True
        if card_serial is not None:
            self.card_serial = card_serial
        if step in ENDS:
            self._journal("step_done", ENDS[step], card_serial)

    def failed(self, step: IssuanceStep, error: Any) -> None:
        self.in_flight = None
        if step is IssuanceStep.FEED and error is PrinterError.JAM:
            self.card_inside = True  # the card left the hopper and stuck on its way

    def retract_started(self) -> None:
        self.retracting = True
        self._journal("step_started", Step.RETRACTED)

    def retracted(self, ok: bool) -> None:
        self.retracting = False
        if ok:
            self.card_inside = False
            self._journal("step_done", Step.RETRACTED)
        # A failed retract leaves the card jammed inside: retained, never handed out, and the
        # journal keeps the retract open for recovery to try again.

    def taken(self) -> None:
        self.was_taken = True
        self.card_inside = False
        self._journal("step_done", Step.TAKEN)

    def backend_started(self, step: Step) -> None:
        self._journal("step_started", step)

    def backend_done(self, step: Step, final: Final) -> None:
        self._journal("step_done", step)
        self._journal("finish", final)

    @property
    def picked(self) -> bool:
        return IssuanceStep.FEED in self.done or self.card_inside

    def _journal(self, what: str, *args: Any) -> None:
        if self.journal is not None and self.row_id is not None:
            attempt(self.journal, self.row_id, what, *(a for a in args if a is not None))


PRINTER_OP: dict[IssuanceStep, PrinterOp] = {
    IssuanceStep.FEED: PrinterOp.FEED,
    IssuanceStep.TICKET: PrinterOp.TICKET,
    IssuanceStep.PRINT: PrinterOp.PRINT,
    IssuanceStep.TO_ENCODER: PrinterOp.TO_ENCODER,
    IssuanceStep.PRESENT: PrinterOp.PRESENT,
}


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

