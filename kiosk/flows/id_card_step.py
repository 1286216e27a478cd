"""Reading the resident's ID card: the first step of every service that serves a person by it.

New permit, registration and the status query read the card the same way and check it in the
same order (RULES.md, Order of checks, "at the ID card"); only the checks that apply differ, so
each flow passes its own order. The step turns the reader on while its state waits, parses the
card, keeps the photo only when the service needs it, and fires the flow's trigger or REFUSED.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from devices.events import IdCardRead, IdReaderError, IdReadFailed
from kiosk import wlt
from kiosk.chart import Trigger as T
from kiosk.flows.base import Core
from kiosk.idcard import CardDataError, card_type_of, parse_card
from kiosk.identity import CardType, Identity
from kiosk.logevents import LogEvent
from kiosk.policy import Refusal, first_refusal, id_card_refusals, is_large_text
from kiosk.reasons import Reason

READ_ERRORS = {IdReaderError.NO_CARD: None, IdReaderError.READ_FAILED: "read_failed",
               IdReaderError.UNKNOWN_CARD: "unknown_card"}


class IdCardStep:
    """The `read_id` state of one flow: `state` is its full name, `done` the trigger on success."""

    def __init__(self, core: Core, state: str, done: StrEnum, order: tuple[Reason, ...], *,
                 keep_photo: bool = False, photo_decoder: Callable[[], wlt.PhotoDecoder | None] | None = None) -> None:
        self.core = core
        self.state = state
        self.done = done
        self.order = order
        self.keep_photo = keep_photo
        self.photo_decoder = photo_decoder  # returns the WLT decoder the composition root set, if any

    def enter(self) -> None:
        self.core.session.read_error = None
        self.core.ports.id_reader.set_reading(True)

    def exit(self) -> None:
        self.core.ports.id_reader.set_reading(False)

    def refusals(self, identity: Identity) -> list[Refusal]:
        today = self.core.clock.today()
        return [r for r in id_card_refusals(identity, today, self.core.pack) if r.reason in self.order]

    def on_read(self, event: IdCardRead) -> None:
        s = self.core.session
        if self.core.state != self.state:
            return
        try:
            identity = parse_card(event.text, event.photo if self.keep_photo else b"")
        except CardDataError:
            card_type = card_type_of(event.text)
            self.core.log.emit(LogEvent.ID_READ_FAILED, session=s.id, error="unparsable")
            if card_type is CardType.CITIZEN:
                s.read_error = "unknown_card"
                return
            # SH-PMT-6: the marker alone decides; a field we cannot parse must not hide the reason.
            identity = Identity(card_type, "", None, "", None, "", "", "", None, None)
        s.identity = identity
        if self.keep_photo:
            decoder = self.photo_decoder() if self.photo_decoder is not None else None
            s.id_photo = wlt.decode_photo(identity.photo, decoder, self.core.log)
        s.read_error = None
        # SH-AGE-2: large text from 65 on; a resident who already chose it keeps it.
        s.large_text = s.large_text or is_large_text(identity.birth, self.core.clock.today(), self.core.pack)
        self.core.log.emit(LogEvent.ID_CARD_READ, session=s.id, card_type=identity.card_type,
                           masked_id=identity.masked_id)
        s.refusal = first_refusal(self.refusals(identity), self.order)
        self.core.fire(T.REFUSED if s.refusal is not None else self.done)

    def on_failed(self, event: IdReadFailed) -> None:
        if self.core.state != self.state:
            return
        self.core.session.read_error = READ_ERRORS.get(event.error, "reader_fault")
        if event.error is not IdReaderError.NO_CARD:
            self.core.log.emit(LogEvent.ID_READ_FAILED, session=self.core.session.id, error=event.error)
