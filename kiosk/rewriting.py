"""A card-face rewrite (卡面擦写, SH-END-4) as a procedure: results in, commands and an outcome out.

Phases: read (take the card in from the slot, move it to the encoder, read the chip once pcscd
saw this card arrive), then, when the backend decided a rewrite and the kiosk agrees, rewrite
(authenticated chip write of the validity; erase and reprint only the validity area), verify
(back to the encoder, a fresh insertion, read the whole chip again), and return (present the
card at the slot). The journal row begins once the chip was read and the decision is a
rewrite (`taken_in`), so a power cut after that point is resolved at boot.

Failures: before the chip write began the card is the resident's, untouched: it goes back.
After it began the card may disagree with itself: it is retracted and kept (voided locally,
since nothing of a rewrite reaches the backend before its confirmation). A retract that fails
leaves the card inside and the row open, for a technician.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.events import ChipError, ChipOp, ChipResult, PrinterError, PrinterOp, PrinterResult
from devices.permit_profile import PermitChipData
from kiosk import backend as bk
from kiosk import cardface
from kiosk.commands import (
    NOTHING,
    BackendCommand,
    BackendOp,
    Command,
    EncoderCommand,
    Outcome,
    PrinterCommand,
    Progress,
    report,
)
from kiosk.endorsement import Rewrite
from kiosk.journal import Final, IntakeState, Journal, JournalError, Step, attempt, batched, log_refusal


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
    RewriteStep.TAKE_IN: PrinterOp.TAKE_IN, RewriteStep.TO_ENCODER: PrinterOp.TO_ENCODER,
    RewriteStep.ERASE: PrinterOp.ERASE, RewriteStep.TICKET: PrinterOp.TICKET, RewriteStep.PRINT: PrinterOp.PRINT,
    RewriteStep.VERIFY_MOVE: PrinterOp.TO_ENCODER, RewriteStep.PRESENT: PrinterOp.PRESENT,
}
CHIP_OPS: dict[RewriteStep, ChipOp] = {
    RewriteStep.READ: ChipOp.READ, RewriteStep.VERIFY_READ: ChipOp.READ, RewriteStep.WRITE_CHIP: ChipOp.WRITE_VALIDITY,
}
# Steps that need a fresh insertion at the encoder after the move before them.
AFTER_MOVE = frozenset({RewriteStep.READ, RewriteStep.VERIFY_READ})


class ReadProblem(StrEnum):
    NOT_A_PERMIT_CARD = "not_a_permit_card"
    UNREADABLE = "unreadable"


@dataclass
class CardRewrite:
    session_id: str
    journal: Journal | None = None
    insertions: int = 0
    row_id: int | None = None
    queue: list[RewriteStep] = field(default_factory=list)
    in_flight: RewriteStep | None = None
    chip: PermitChipData | None = field(default=None, repr=False)
    decision: Rewrite | None = None
    card_inside: bool = False
    at_slot: bool = False
    rewritten: bool = False
    write_began: bool = False
    retracting: bool = False
    retained: bool = False  # the card is (to be) kept
    stuck: bool = False
    taken: bool = False
    closed: bool = False
    backend_pending: bool = False  # the confirmation is out, unanswered
    read_problem: ReadProblem | None = None
    area: cardface.Area | None = None
    validity_bits: bytes = field(default=b"", repr=False)
    ticket: dict[str, str] = field(default_factory=dict)
    _floor: int | None = None
    # The reject bin's count now (the printer's latest status): journaled with an intake's retract,
    # so a boot that finds the card gone can tell the bin from a hand at the slot.
    bins: Callable[[], int | None] | None = field(default=None, repr=False)
    # Whether the printer's latest status shows a card waiting at the front slot. The driver polls
    # after every reply before it posts the result, so after a refused TAKE_IN it says where the
    # card is: still at the slot (the cover opened, nothing moved) or inside (stuck on its way).
    slot_has_card: Callable[[], bool] | None = field(default=None, repr=False)

    # --- phases -----------------------------------------------------------------------------

    def start(self, steps: tuple[RewriteStep, ...]) -> Progress:
        self.queue = list(steps)
        return self.advance()

    def begin_rewrite(self, decision: Rewrite, area: cardface.Area, bits: bytes, ticket: dict[str, str]) -> Progress:
        """The card is inside, its chip read, the decision a rewrite: the row starts here (taken_in)."""
        assert self.chip is not None
        self.decision, self.area, self.validity_bits, self.ticket = decision, area, bits, ticket
        if self.journal is not None:
            try:
                self.row_id = self.journal.begin_rewrite(self.session_id, self.chip.contents.permit_number,
                                                         self.chip.card.serial, decision.valid_from,
                                                         decision.valid_until)
            except JournalError:
                return self.fail("journal", "refused")
        return self.start(REWRITE_PHASE)

    def give_back(self) -> Progress:
        """Present the card at the slot: after a refusal, an unusable card, or the rewrite."""
        if not self.card_inside:
            return report(Outcome.PRESENTED) if self.at_slot else NOTHING
        return self.start((RewriteStep.PRESENT,))

    # --- inputs -----------------------------------------------------------------------------

    def chip_arrived(self, insertion: int) -> Progress:
        self.insertions = max(self.insertions, insertion)
        return self.advance()

    @property
    def awaiting_chip(self) -> bool:
        return (self.in_flight is None and bool(self.queue) and self.queue[0] in AFTER_MOVE
                and not self.retracting and (self._floor is None or self.insertions <= self._floor))

    @batched
    def advance(self) -> Progress:
        if self.in_flight is not None or not self.queue or self.retracting:
            return NOTHING
        step = self.queue[0]
        if step in AFTER_MOVE and (self._floor is None or self.insertions <= self._floor):
            return NOTHING
        self.in_flight = step
        if step in (RewriteStep.TO_ENCODER, RewriteStep.VERIFY_MOVE):
            self._floor = self.insertions
        if step is RewriteStep.TAKE_IN:
            self._intake(IntakeState.TAKING_IN)  # the card may be inside from now on
        elif step is RewriteStep.PRESENT and self.row_id is None:
            self._intake(IntakeState.RETURNING)
        if step is RewriteStep.WRITE_CHIP:
            self.write_began = True
            self._journal("step_started", Step.CHIP_UPDATED)
        elif step is RewriteStep.ERASE:
            self._journal("step_started", Step.FACE_REWRITTEN)
        elif step is RewriteStep.PRESENT:
            self._journal("step_started", Step.RETURNED if self.rewritten else Step.RETURNED_UNCHANGED)
        return Progress((self._command(step),))

    @batched
    def printer_result(self, event: PrinterResult) -> Progress:
        if event.op is PrinterOp.RETRACT and self.retracting:
            return self._retracted(event)
        step = self.in_flight
        if step is None or PRINTER_OPS.get(step) is not event.op:
            return NOTHING
        self.in_flight = None
        if not event.ok:
            if step is RewriteStep.TAKE_IN and event.error is PrinterError.NO_CARD:
                self._intake(IntakeState.RETURNED)  # it never came in: the resident has it
                self.queue.clear()
                return report(Outcome.FAILED, device="printer", error="no_card")
            if step is RewriteStep.TAKE_IN:
                if self._refused_at_slot(event.error):
                    # Refused with the card still at the slot (issue 15, fault matrix
                    # card_rewrite/printer/cover_open/take_in): it is the resident's to take back,
                    # not a card to keep; a retract begins only if nobody takes it in time.
                    self.at_slot = True
                    self._intake(IntakeState.RETURNING)
                else:
                    self.card_inside = True  # it may have stuck on its way in
            return self.fail("printer", str(event.error), step)
        if step is RewriteStep.TAKE_IN:
            self.card_inside = True
        elif step is RewriteStep.PRINT:
            self._journal("step_done", Step.FACE_REWRITTEN)
        elif step is RewriteStep.PRESENT:
            self.queue.clear()
            self.card_inside, self.at_slot = False, True
            return report(Outcome.PRESENTED)
        return self._next_of_phase()

    @batched
    def chip_result(self, event: ChipResult) -> Progress:
        step = self.in_flight
        if step is None or CHIP_OPS.get(step) is not event.op:
            return NOTHING
        self.in_flight = None
        data: Any = event.data
        if step is RewriteStep.READ:
            if not event.ok or not isinstance(data, PermitChipData):
                # Not a permit card, or unreadable: nothing was written; give it back and say so.
                not_permit = event.error in (ChipError.NOT_A_PERMIT_CARD, ChipError.NOT_A_BLANK_CARD)
                self.read_problem = ReadProblem.NOT_A_PERMIT_CARD if not_permit else ReadProblem.UNREADABLE
                self.queue.clear()
                return report(Outcome.FAILED, device="permit_card", error=self.read_problem)
            self.chip = data
        elif step is RewriteStep.WRITE_CHIP:
            d = self.decision
            assert d is not None
            if not event.ok or data is None or (data.valid_from, data.valid_until) != (d.valid_from, d.valid_until):
                return self.fail("permit_card", str(event.error or "verify_mismatch"))
            self._journal("step_done", Step.CHIP_UPDATED)
        else:  # VERIFY_READ: the same card, the new validity
            d, before = self.decision, self.chip
            assert d is not None and before is not None
            same = (event.ok and isinstance(data, PermitChipData) and data.card.serial == before.card.serial
                    and (data.contents.validity.valid_from, data.contents.validity.valid_until)
                    == (d.valid_from, d.valid_until))
            if not same:
                return self.fail("permit_card", str(event.error or "verify_mismatch"))
            self.rewritten = True
        return self._next_of_phase()

    @batched
    def card_taken(self) -> Progress:
        if not self.at_slot or self.taken:
            return NOTHING
        self.taken, self.at_slot = True, False
        if self.row_id is None:
            self._intake(IntakeState.RETURNED)
        self._journal("step_done", Step.RETURNED if self.rewritten else Step.RETURNED_UNCHANGED)
        if self.rewritten and self.decision is not None and self.chip is not None:
            self._journal("step_started", Step.CONFIRMED)
            self.backend_pending = True
            c = self.chip
            cmd = BackendCommand(BackendOp.REWRITE_CONFIRM, f"{self.session_id}-rewrite_confirm",
                                 c.contents.permit_number, c.card.serial, decision=self.decision)
            return Progress((cmd,), (Outcome.TAKEN,))
        # An untouched card went back: nothing reached the backend, the void is ours.
        self._journal("step_started", Step.VOIDED)
        self._journal("step_done", Step.VOIDED)
        return report(Outcome.TAKEN).then(self._close(Final.RETURNED))

    def operation_timed_out(self) -> Progress:
        step = self.in_flight
        if step is None and self.awaiting_chip:
            if self.queue and self.queue[0] is RewriteStep.READ:
                # The chip never appeared: nothing was written; the card goes back.
                self.read_problem = ReadProblem.UNREADABLE
                self.queue.clear()
                return report(Outcome.FAILED, device="permit_card", error="no_card")
            return self.fail("permit_card", "no_card")
        if step is None:
            return NOTHING
        self.in_flight = None
        return self.fail("permit_card" if step in CHIP_OPS else "printer", "no_result", step)

    def not_taken(self, printer_answers: bool = True, bin_count: int | None = None) -> Progress:
        """Nobody took the card back in time: retract it. A printer that does not answer was never
        told to, and cannot say whether a hand took the card: the row stays at `returned` started
        and the next boot's recovery decides from the sensors (as Issuance.not_taken, issue 15)."""
        if not self.at_slot or self.retracting:
            return NOTHING
        if not printer_answers:
            self.stuck = True
            return report(Outcome.STUCK, device="printer", error="no_answer")
        self.retained = True
        return self._retract(bin_count)  # the bin's count: see Issuance.not_taken

    @batched
    def backend_result(self, op: BackendOp, result: Any) -> Progress:
        self.backend_pending = False
        if op is BackendOp.REWRITE_CONFIRM and isinstance(result, bk.Rewritten):
            self._journal("step_done", Step.CONFIRMED)
            return self._close(Final.RETURNED)
        return NOTHING  # unanswered: the settler sends it again with the same request id

    @batched
    def fail(self, device: str, error: str, step: RewriteStep | None = None) -> Progress:
        """A step failed with the card inside. Untouched: it goes back. Touched, or it cannot be
        presented: it is kept."""
        self.queue.clear()
        failed = report(Outcome.FAILED, device=device, error=error)
        if not self.card_inside and not self.at_slot:
            return failed
        if self.at_slot:
            return failed
        if self.write_began or self.rewritten or step is RewriteStep.PRESENT:
            self.retained = True
            return failed.then(self._retract())
        return failed.then(self.start((RewriteStep.PRESENT,)))

    @property
    def over(self) -> bool:
        """Nothing more will happen here: the row closed, the card stuck, or (no row) the card is out."""
        idle = self.in_flight is None and not self.queue and not self.retracting
        out = idle and not self.card_inside and not self.at_slot
        return self.closed or self.stuck or (self.taken and not self.backend_pending) or (self.row_id is None and out)

    # --- inside -----------------------------------------------------------------------------

    def _refused_at_slot(self, error: PrinterError | None) -> bool:
        """A TAKE_IN the printer answered with a refusal, and its status since shows the card at the
        slot. An unanswered one (no reply, no port) leaves no fresh status: the card may be inside."""
        answered = error not in (PrinterError.COMMUNICATION, PrinterError.NO_DEVICE, None)
        return answered and self.slot_has_card is not None and self.slot_has_card()

    def _next_of_phase(self) -> Progress:
        if self.queue:
            self.queue.pop(0)
        if not self.queue:
            return report(Outcome.PHASE_DONE)
        return self.advance()

    def _command(self, step: RewriteStep) -> Command:
        a = self.area
        if step in (RewriteStep.READ, RewriteStep.VERIFY_READ):
            return EncoderCommand(ChipOp.READ)
        if step is RewriteStep.WRITE_CHIP:
            d, c = self.decision, self.chip
            assert d is not None and c is not None
            return EncoderCommand(ChipOp.WRITE_VALIDITY, valid_from=d.valid_from, valid_until=d.valid_until,
                                  endorsement_count=c.contents.validity.endorsement_count + 1)
        if step is RewriteStep.ERASE:
            assert a is not None
            return PrinterCommand(PrinterOp.ERASE, a.x, a.y, a.width, a.height)
        if step is RewriteStep.TICKET:
            return PrinterCommand(PrinterOp.TICKET, ticket=self.ticket)
        if step is RewriteStep.PRINT:
            assert a is not None
            return PrinterCommand(PrinterOp.PRINT, a.x, a.y, a.width, a.height, self.validity_bits)
        return PrinterCommand(PRINTER_OPS[step])

    def _retract(self, bin_count: int | None = None) -> Progress:
        self.retracting = True
        # The bin's count before the retract, for the row's as for the intake's (a PRESENT cut off).
        bins = bin_count if bin_count is not None or self.bins is None else self.bins()
        if self.row_id is None:
            self._intake(IntakeState.RETRACTING, bins)
        self._journal("step_started", Step.RETRACTED, bins)
        return Progress((PrinterCommand(PrinterOp.RETRACT),))

    def _retracted(self, event: PrinterResult) -> Progress:
        self.retracting = False
        if event.ok:
            self.card_inside = self.at_slot = False
            if self.row_id is None:
                self._intake(IntakeState.RETAINED)
            self._journal("step_done", Step.RETRACTED)
            # Nothing was confirmed with the backend: the void is a journal record, no call.
            self._journal("step_started", Step.VOIDED)
            self._journal("step_done", Step.VOIDED)
            return report(Outcome.RETRACTED).then(self._close(Final.RETAINED))
        if event.error is PrinterError.NO_CARD:
            if self.taken:
                return NOTHING
            if self.at_slot:
                self.retained = False
                return self.card_taken()
            self.card_inside = False
            return NOTHING
        self.stuck = True
        return report(Outcome.STUCK, device="printer", error=str(event.error))

    def _close(self, final: Final) -> Progress:
        self.closed = True
        self._journal("finish", final)
        return report(Outcome.CLOSED)

    def _intake(self, step: IntakeState, bin_count: int | None = None) -> None:
        """The card's intake before its row begins; a refusal is logged, and recovery sees the card."""
        if self.journal is not None:
            try:
                self.journal.intake(self.session_id, step, bin_count)
            except JournalError as exc:
                log_refusal(self.journal, "intake", exc, None, step)

    def _journal(self, what: str, *args: Any) -> None:
        if self.journal is not None and self.row_id is not None:
            attempt(self.journal, self.row_id, what, *(a for a in args if a is not None))


def validity_face(chip: PermitChipData, authority: str, valid_from: Any, valid_until: Any) -> cardface.CardFace:
    """The card face as the chip describes it, with the new validity: only its validity area is printed."""
    c = chip.contents
    return cardface.CardFace(
        permit_number=c.permit_number, name=c.name, sex=c.sex, nation=c.nation, birth=c.birth,
        id_number=c.id_number, household_address=c.household_address, residence_address=c.residence_address,
        authority=authority, issued=c.validity.issue_date, valid_from=valid_from, valid_until=valid_until,
        photo=None,
    )
