"""Diagnostics' printer tests as a procedure: a blank card from the hopper through the printer
and into the reject bin. Results in, commands and outcomes out.

Feed test: feed → to the encoder (its chip must arrive in the field and read as a blank card:
the encoder's contact) → retract. Test print: feed → print a sample face (no one's data) →
retract. Either way the card ends in the reject bin, counted there, and nothing is journaled:
a blank card that never left the machine is no permit. A failure with the card inside retracts
it; a retract that fails leaves it stuck, for the technician.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import ClassVar

from devices.events import ChipOp, ChipResult, PrinterOp, PrinterResult
from devices.permit_profile import CardKind, ChipCardInfo
from kiosk import cardface
from kiosk.card_steps import CardSteps
from kiosk.commands import NOTHING, EncoderCommand, Outcome, PrinterCommand, Progress, report


class PStep(StrEnum):
    FEED = "feed"
    TO_ENCODER = "to_encoder"
    CHIP = "chip"
    PRINT = "print"
    RETRACT = "retract"


_PRINTER: dict[StrEnum, PrinterOp] = {
    PStep.FEED: PrinterOp.FEED, PStep.TO_ENCODER: PrinterOp.TO_ENCODER, PStep.PRINT: PrinterOp.PRINT,
    PStep.RETRACT: PrinterOp.RETRACT,
}
FEED_TEST = (PStep.FEED, PStep.TO_ENCODER, PStep.CHIP, PStep.RETRACT)
TEST_PRINT = (PStep.FEED, PStep.PRINT, PStep.RETRACT)


def sample_face() -> bytes:
    """The test print's face: a sample card with made-up fields, marked 样卡 (no one's data)."""
    d = date(2000, 1, 1)
    face = cardface.CardFace(
        permit_number="SAMPLE", name="样卡", sex="M", nation="01", birth=d, id_number="SAMPLE",
        household_address="样卡 测试打印", residence_address="样卡 测试打印", authority="样卡", issued=d,
        valid_from=d, valid_until=d, photo=None,
    )
    return cardface.pack_bits(cardface.render(face))


@dataclass
class PrinterTest(CardSteps):
    CHIP: ClassVar[StrEnum] = PStep.CHIP
    TO_ENCODER: ClassVar[StrEnum] = PStep.TO_ENCODER

    steps: tuple[PStep, ...]
    insertions: int = 0
    session_id: str = "diagnostics"
    row_id: int | None = None
    queue: list[StrEnum] = field(default_factory=list)
    in_flight: StrEnum | None = None
    inside: bool = False
    failed: str = ""  # the cause of a failure, a fixed code
    retracted: bool = False
    stuck: bool = False
    bits: bytes = field(default=b"", repr=False)
    _floor: int | None = None

    def start(self) -> Progress:
        self.queue = list(self.steps)
        if PStep.PRINT in self.steps:
            self.bits = sample_face()
        return self.advance()

    def command(self, step: StrEnum) -> Progress:
        if step is PStep.CHIP:
            return Progress((EncoderCommand(ChipOp.READ),))
        if step is PStep.PRINT:
            a = cardface.AREAS["full"]
            return Progress((PrinterCommand(PrinterOp.PRINT, a.x, a.y, a.width, a.height, self.bits),))
        return Progress((PrinterCommand(_PRINTER[step]),))

    def printer_result(self, event: PrinterResult) -> Progress:
        step = self.in_flight
        if step is None or _PRINTER.get(step) is not event.op:
            return NOTHING
        self.in_flight = None
        self.queue.pop(0)
        if step is PStep.RETRACT:
            if event.ok:
                self.inside, self.retracted = False, True
                return report(Outcome.RETRACTED).then(report(Outcome.CLOSED))
            self.stuck = True
            self.failed = self.failed or str(event.error)
            return report(Outcome.STUCK, device="printer", error=str(event.error))
        if not event.ok:
            self.failed = str(event.error)
            if step is PStep.FEED and not self.inside:
                self.queue.clear()
                return report(Outcome.FAILED, device="printer", error=self.failed).then(report(Outcome.CLOSED))
            return self._retract_now()
        if step is PStep.FEED:
            self.inside = True
        return self.advance()

    def chip_result(self, event: ChipResult) -> Progress:
        if self.in_flight is not PStep.CHIP or event.op is not ChipOp.READ:
            return NOTHING
        self.in_flight = None
        self.queue.pop(0)
        # A blank card answers "not a permit" with its card info: the chip was reached and read.
        blank = isinstance(event.data, ChipCardInfo) and event.data.kind is CardKind.BLANK
        if not blank:
            self.failed = event.error.value if event.error is not None else "unexpected_card"
            return self._retract_now()
        return self.advance()

    def operation_timed_out(self) -> Progress:
        if self.awaiting_chip:
            self.queue.pop(0)
            self.failed = "no_chip"
            return self.advance()
        step = self.in_flight
        if step is None:
            return NOTHING
        self.in_flight = None
        self.failed = "no_result"
        if step is PStep.RETRACT:
            self.stuck = True
            return report(Outcome.STUCK, device="printer", error="no_result")
        return self._retract_now()

    def _retract_now(self) -> Progress:
        self.queue = [PStep.RETRACT]
        return self.advance()

    def card_taken(self) -> Progress:
        return NOTHING

    def backend_result(self, op: object, result: object) -> Progress:
        return NOTHING
