"""The technician card's way through the printer, as a procedure: results in, commands out.

In: the card waiting at the front slot is taken in, moved to the encoder, and (once pcscd saw it
arrive) its technician profile read. It then stays at the encoder while the technician is in.
Out: it is presented at the slot and the technician takes it; a card nobody takes goes into the
reject bin after `timeouts.take_card`, as any card left at the slot. Nothing is written to the card
and nothing is journaled: a technician card is not a permit, and a power cut with it inside
leaves a card the technician takes back from the slot once the printer presents it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from devices.events import ChipError, ChipOp, ChipResult, PrinterError, PrinterOp, PrinterResult
from devices.permit_profile import TechnicianChipData
from kiosk.card_steps import CardSteps
from kiosk.commands import NOTHING, EncoderCommand, Outcome, PrinterCommand, Progress, report


class CardStep(StrEnum):
    TAKE_IN = "take_in"
    TO_ENCODER = "to_encoder"
    READ = "read"
    PRESENT = "present"
    RETRACT = "retract"  # not taken from the slot: into the reject bin, where a technician finds it


_PRINTER: dict[StrEnum, PrinterOp] = {
    CardStep.TAKE_IN: PrinterOp.TAKE_IN, CardStep.TO_ENCODER: PrinterOp.TO_ENCODER, CardStep.PRESENT: PrinterOp.PRESENT,
    CardStep.RETRACT: PrinterOp.RETRACT,
}


@dataclass
class TechnicianCard(CardSteps):
    CHIP: ClassVar[StrEnum] = CardStep.READ
    TO_ENCODER: ClassVar[StrEnum] = CardStep.TO_ENCODER

    session_id: str = "diagnostics"
    row_id: int | None = None  # never journaled
    insertions: int = 0
    queue: list[StrEnum] = field(default_factory=list)
    in_flight: StrEnum | None = None
    data: TechnicianChipData | None = field(default=None, repr=False)
    read_error: str = ""  # why the card could not be read: not_a_technician_card, unreadable, ...
    inside: bool = False
    at_slot: bool = False
    taken: bool = False
    stuck: bool = False
    _floor: int | None = None

    def take_in(self) -> Progress:
        self.queue = [CardStep.TAKE_IN, CardStep.TO_ENCODER, CardStep.READ]
        return self.advance()

    def read_again(self) -> Progress:
        """The card is at the encoder already: its chip read once more (the encoder's self-test)."""
        self.queue = [CardStep.READ]
        return self.advance()

    def not_taken(self) -> Progress:
        """Nobody took the card from the slot: it goes into the reject bin (as any card not taken)."""
        if not self.at_slot or self.in_flight is not None:
            return NOTHING
        self.queue = [CardStep.RETRACT]
        return self.advance()

    def give_back(self) -> Progress:
        if not self.inside:
            return report(Outcome.PRESENTED) if self.at_slot else report(Outcome.TAKEN)
        self.queue = [CardStep.PRESENT]
        return self.advance()

    def command(self, step: StrEnum) -> Progress:
        if step is CardStep.READ:
            return Progress((EncoderCommand(ChipOp.READ_TECHNICIAN),))
        return Progress((PrinterCommand(_PRINTER[step]),))

    def printer_result(self, event: PrinterResult) -> Progress:
        step = self.in_flight
        if step is None or _PRINTER.get(step) is not event.op:
            return NOTHING
        self.in_flight = None
        self.queue.pop(0)
        if step is CardStep.RETRACT:
            if event.ok:
                self.at_slot = False
                return report(Outcome.RETRACTED)
            if event.error is PrinterError.NO_CARD:  # taken just before the retract
                return self.card_taken()
            self.stuck = True
            return report(Outcome.STUCK, device="printer", error=str(event.error))
        if not event.ok:
            self.queue.clear()
            if step is CardStep.TAKE_IN and event.error is PrinterError.NO_CARD:
                return report(Outcome.FAILED, device="printer", error="no_card")
            if step is CardStep.PRESENT or event.error is PrinterError.JAM:
                self.stuck = True
                return report(Outcome.STUCK, device="printer", error=str(event.error))
            self.inside = True
            self.read_error = str(event.error)
            return report(Outcome.FAILED, device="printer", error=str(event.error))
        if step is CardStep.TAKE_IN:
            self.inside = True
        elif step is CardStep.PRESENT:
            self.inside, self.at_slot = False, True
            return report(Outcome.PRESENTED)
        return self.advance()

    def chip_result(self, event: ChipResult) -> Progress:
        if self.in_flight is not CardStep.READ or event.op is not ChipOp.READ_TECHNICIAN:
            return NOTHING
        self.in_flight = None
        self.queue.clear()
        if event.ok and isinstance(event.data, TechnicianChipData):
            self.data = event.data
            return report(Outcome.PHASE_DONE)
        known = (ChipError.NOT_A_TECHNICIAN_CARD, ChipError.CARD_REMOVED, ChipError.NO_CARD, ChipError.CORRUPT_DATA)
        self.read_error = event.error.value if event.error in known and event.error else "unreadable"
        return report(Outcome.FAILED, device="permit_card", error=self.read_error)

    def card_taken(self) -> Progress:
        if not self.at_slot or self.taken:
            return NOTHING
        self.taken, self.at_slot = True, False
        return report(Outcome.TAKEN)

    def operation_timed_out(self) -> Progress:
        if self.awaiting_chip:
            self.queue.clear()
            self.read_error = "no_chip"
            return report(Outcome.FAILED, device="permit_card", error="no_chip")
        step = self.in_flight
        if step is None:
            return NOTHING
        self.in_flight = None
        self.queue.clear()
        if step is CardStep.PRESENT:
            self.stuck = True
            return report(Outcome.STUCK, device="printer", error="no_result")
        self.read_error = "no_result"
        return report(Outcome.FAILED, device="printer" if step in _PRINTER else "permit_card", error="no_result")

    def backend_result(self, op: object, result: object) -> Progress:
        return NOTHING
