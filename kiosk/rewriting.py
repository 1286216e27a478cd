"""The physical steps of a card-face rewrite (卡面擦写, SH-END-4), in order, and their journal writes.

Phases: read (take the card in from the slot, move it to the encoder, read the chip), then,
when the backend decides a rewrite, rewrite (authenticated chip write of the validity; erase
and reprint only the validity area), verify (read the chip back), and return (present the
card at the slot). The journal row begins once the chip was read and the decision is a
rewrite (`taken_in`), so a power cut after that point is resolved at boot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.events import PrinterOp
from kiosk import cardface
from kiosk.journal import Final, Journal, JournalError, Step, attempt

_log = logging.getLogger(__name__)


class RewriteStep(StrEnum):
    TAKE_IN = "take_in"  # the card from the slot into the printer
    TO_ENCODER = "to_encoder"
    READ = "read"  # the chip's contents
    WRITE_CHIP = "write_chip"  # authenticated validity update (the driver reads it back)
    ERASE = "erase"  # the validity area of the rewritable strip
    TICKET = "ticket"  # the printed fields for the printer's job log
    PRINT = "print"  # the new validity into its area
    VERIFY_MOVE = "verify_move"  # back to the encoder
    VERIFY_READ = "verify_read"  # the whole chip once more: same card, new validity
    PRESENT = "present"  # the card back at the slot


READ_PHASE = (RewriteStep.TAKE_IN, RewriteStep.TO_ENCODER, RewriteStep.READ)
REWRITE_PHASE = (RewriteStep.WRITE_CHIP, RewriteStep.ERASE, RewriteStep.TICKET, RewriteStep.PRINT)
VERIFY_PHASE = (RewriteStep.VERIFY_MOVE, RewriteStep.VERIFY_READ)
PRINTER_OPS: dict[RewriteStep, PrinterOp] = {
    RewriteStep.TAKE_IN: PrinterOp.TAKE_IN,
    RewriteStep.TO_ENCODER: PrinterOp.TO_ENCODER,
    RewriteStep.ERASE: PrinterOp.ERASE,
    RewriteStep.TICKET: PrinterOp.TICKET,
    RewriteStep.PRINT: PrinterOp.PRINT,
    RewriteStep.VERIFY_MOVE: PrinterOp.TO_ENCODER,
    RewriteStep.PRESENT: PrinterOp.PRESENT,
}
NEEDS_CHIP = frozenset({RewriteStep.READ, RewriteStep.WRITE_CHIP, RewriteStep.VERIFY_READ})
# The card went to the print head and comes back: pcscd must first have seen it leave, or the
# encoder would still report the old insertion and the read would find no card.
NEEDS_EMPTY_FIELD = frozenset({RewriteStep.VERIFY_MOVE})


@dataclass
class CardRewrite:
    session_id: str
    journal: Journal | None = None
    row_id: int | None = None
    queue: list[RewriteStep] = field(default_factory=list)
    in_flight: RewriteStep | None = None
    chip: Any = field(default=None, repr=False)  # devices.permit_profile.PermitChipData as read
    decision: Any = None  # kiosk.endorsement.Rewrite | kiosk.policy.Refusal
    card_inside: bool = False
    rewritten: bool = False
    retracting: bool = False
    validity_bits: bytes = field(default=b"", repr=False)
    area: cardface.Area | None = None
    ticket: dict[str, str] = field(default_factory=dict)

    def start(self, steps: tuple[RewriteStep, ...]) -> None:
        self.queue = list(steps)

    def next_command(self, chip_in_field: bool) -> RewriteStep | None:
        if self.in_flight is not None or not self.queue or self.retracting:
            return None
        step = self.queue[0]
        if step in NEEDS_CHIP and not chip_in_field:
            return None
        if step in NEEDS_EMPTY_FIELD and chip_in_field:
            return None
        return step

    def awaiting_chip(self, chip_in_field: bool) -> bool:
        """Waiting for the encoder to see the card arrive (or leave): device time, not idle time."""
        if self.in_flight is not None or not self.queue or self.retracting:
            return False
        step = self.queue[0]
        return (step in NEEDS_CHIP and not chip_in_field) or (step in NEEDS_EMPTY_FIELD and chip_in_field)

    def sent(self, step: RewriteStep) -> None:
        self.in_flight = step
        if step is RewriteStep.WRITE_CHIP:
            self._journal("step_started", Step.CHIP_UPDATED)
        elif step is RewriteStep.ERASE:
            self._journal("step_started", Step.FACE_REWRITTEN)
        elif step is RewriteStep.PRESENT:
            self._journal("step_started", Step.RETURNED if self.rewritten else Step.RETURNED_UNCHANGED)

    def done(self, step: RewriteStep) -> None:
        self.in_flight = None
        if self.queue and self.queue[0] is step:
            self.queue.pop(0)
        if step is RewriteStep.TAKE_IN:
            self.card_inside = True
        elif step is RewriteStep.WRITE_CHIP:
            self._journal("step_done", Step.CHIP_UPDATED)
        elif step is RewriteStep.PRINT:
            self._journal("step_done", Step.FACE_REWRITTEN)
        elif step is RewriteStep.VERIFY_READ:
            self.rewritten = True

    def failed(self) -> None:
        self.in_flight = None
        self.queue.clear()

    @property
    def phase_done(self) -> bool:
        return not self.queue and self.in_flight is None

    def begin_journal(self, permit_number: str, card_serial: str) -> None:
        """The card is inside, its chip read, the decision a rewrite: the row starts here (taken_in)."""
        if self.journal is not None:
            try:
                self.row_id = self.journal.begin_rewrite(self.session_id, permit_number, card_serial,
                                                         self.decision.valid_from, self.decision.valid_until)
            except JournalError as exc:
                _log.error("journal refused the rewrite: %s", exc.problem)

    def taken(self) -> None:
        self.card_inside = False
        self._journal("step_done", Step.RETURNED if self.rewritten else Step.RETURNED_UNCHANGED)

    def retract_started(self) -> None:
        self.retracting = True
        self._journal("step_started", Step.RETRACTED)

    def retracted(self, ok: bool) -> None:
        self.retracting = False
        if ok:
            self.card_inside = False
            self._journal("step_done", Step.RETRACTED)

    def close_retained(self) -> None:
        """Nothing was confirmed with the backend: the void is a journal record, no call."""
        self._journal("step_started", Step.VOIDED)
        self._journal("step_done", Step.VOIDED)
        self._journal("finish", Final.RETAINED)

    def confirm_started(self) -> None:
        self._journal("step_started", Step.CONFIRMED)

    def confirmed(self) -> None:
        self._journal("step_done", Step.CONFIRMED)
        self._journal("finish", Final.RETURNED)

    def _journal(self, what: str, arg: Any) -> None:
        if self.journal is not None and self.row_id is not None:
            attempt(self.journal, self.row_id, what, arg)


def validity_face(chip: Any, authority: str, valid_from: Any, valid_until: Any) -> cardface.CardFace:
    """The card face as the chip describes it, with the new validity: only its validity area is printed."""
    c = chip.contents
    return cardface.CardFace(
        permit_number=c.permit_number, name=c.name, sex=c.sex, nation=c.nation, birth=c.birth,
        id_number=c.id_number, household_address=c.household_address, residence_address=c.residence_address,
        authority=authority, issued=c.validity.issue_date, valid_from=valid_from, valid_until=valid_until,
        photo=None,
    )
