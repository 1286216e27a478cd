"""Issuing one permit card, as a procedure: results in, the next commands and an outcome out.

The sequence is feed → ticket → print → to the encoder → personalise the chip → read it back
and compare → present. Every physical step is written to the write-ahead journal before its
command goes out and after its result came back (DESIGN.md, Issuing a card without losing or
doubling one). The chip is personalised only after the encoder saw a fresh insertion (a
higher insertion number than any it had seen when the card was sent to it), never on a
"present" status left over from the previous card.

Failures: any card that left the hopper is retracted to the reject bin, and the approval is
voided once the retract has resolved (a resident may still take a card at the slot during
the retract: then it is theirs, and confirmed). A retract that fails leaves the row open and
the card inside (STUCK): a technician's work; the void still goes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.events import ChipOp, ChipResult, PrinterError, PrinterOp, PrinterResult
from devices.permit_profile import PermitContents
from kiosk import backend as bk
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
from kiosk.events import FaceRendered
from kiosk.journal import Final, Journal, Step, attempt, batched
from kiosk.permit_face import same_chip
from kiosk.reasons import Reason


class IssuanceStep(StrEnum):
    FEED = "feed"  # blank card from the hopper
    TICKET = "ticket"  # the printed fields, for the printer's job log
    PRINT = "print"  # the card face
    TO_ENCODER = "to_encoder"  # the card into the chip encoder's field
    ENCODE = "encode"  # personalise the blank chip
    VERIFY = "verify"  # read the chip back and compare
    PRESENT = "present"  # the card at the slot for the resident


SEQUENCE: tuple[IssuanceStep, ...] = tuple(IssuanceStep)
PRINTER_OP: dict[IssuanceStep, PrinterOp] = {
    IssuanceStep.FEED: PrinterOp.FEED, IssuanceStep.TICKET: PrinterOp.TICKET, IssuanceStep.PRINT: PrinterOp.PRINT,
    IssuanceStep.TO_ENCODER: PrinterOp.TO_ENCODER, IssuanceStep.PRESENT: PrinterOp.PRESENT,
}
CHIP_OP: dict[IssuanceStep, ChipOp] = {IssuanceStep.ENCODE: ChipOp.PERSONALISE, IssuanceStep.VERIFY: ChipOp.READ}
# The journal step each physical step begins (written before the command goes out) and ends.
STARTS: dict[IssuanceStep, Step] = {
    IssuanceStep.FEED: Step.PICKED, IssuanceStep.PRINT: Step.PRINTED,
    IssuanceStep.TO_ENCODER: Step.ENCODED,  # encoding begins when the card moves to the encoder
    IssuanceStep.VERIFY: Step.VERIFIED, IssuanceStep.PRESENT: Step.PRESENTED,
}
# A printer error that is no answer at all: the command may or may not have been carried out.
UNANSWERED = (PrinterError.COMMUNICATION, PrinterError.NO_DEVICE)
ENDS: dict[IssuanceStep, Step] = {
    IssuanceStep.FEED: Step.PICKED, IssuanceStep.PRINT: Step.PRINTED, IssuanceStep.ENCODE: Step.ENCODED,
    IssuanceStep.VERIFY: Step.VERIFIED, IssuanceStep.PRESENT: Step.PRESENTED,
}


@dataclass
class Issuance:
    permit_number: str
    session_id: str
    journal: Journal | None = None
    row_id: int | None = None
    insertions: int = 0  # the highest chip insertion number seen
    done: list[IssuanceStep] = field(default_factory=list)
    in_flight: IssuanceStep | None = None
    card_inside: bool = False
    at_slot: bool = False
    retracting: bool = False
    failed: bool = False
    taken: bool = False
    retracted: bool = False
    stuck: bool = False
    backend_pending: bool = False  # a confirm or void is out, unanswered
    closed: bool = False
    void_reason: Reason = Reason.DEVICE_FAULT
    face: FaceRendered | None = field(default=None, repr=False)
    card_serial: str | None = None
    # The reject bin's count (kiosk/recovery.LastBinCount), journaled with every retract: see _retract.
    bins: Callable[[], int | None] | None = field(default=None, repr=False)
    _floor: int | None = None  # the insertion number the encoder had seen when the card was sent to it

    @classmethod
    def begin(cls, permit_number: str, session_id: str, journal: Journal | None, insertions: int,
              application: str | None = None, bins: Callable[[], int | None] | None = None) -> Issuance:
        """Journals the approval (the row's first step) before any card moves, answering the
        journaled `application` (its request id) in the same transaction."""
        issuance = cls(permit_number, session_id, journal, insertions=insertions, bins=bins)
        if journal is not None:
            issuance.row_id = journal.begin_issuance(session_id, permit_number, application)
        return issuance

    # --- inputs -----------------------------------------------------------------------------

    def face_ready(self, rendered: FaceRendered) -> Progress:
        self.face = rendered
        return self.advance()

    def chip_arrived(self, insertion: int) -> Progress:
        self.insertions = max(self.insertions, insertion)
        return self.advance()

    @property
    def awaiting_chip(self) -> bool:
        """At the encoder, waiting for pcscd to see this card: device time, bounded by a timer."""
        return self._next() is None and self._due() is IssuanceStep.ENCODE and not self.failed

    @batched
    def advance(self) -> Progress:
        step = self._next()
        if step is None:
            return NOTHING
        self.in_flight = step
        if step in STARTS:
            self._journal("step_started", STARTS[step])
        if step is IssuanceStep.TO_ENCODER:
            self._floor = self.insertions
        return Progress((self._command(step),))

    @batched
    def printer_result(self, event: PrinterResult) -> Progress:
        if event.op is PrinterOp.RETRACT and self.retracting:
            return self._retracted(event)
        step = self.in_flight
        if step is None or PRINTER_OP.get(step) is not event.op:
            return NOTHING  # not the answer to the step in flight
        if not event.ok:
            self.in_flight = None
            if step is IssuanceStep.FEED and event.error is PrinterError.JAM:
                self.card_inside = True  # the card left the hopper and stuck on its way
            if step is IssuanceStep.PRESENT and event.error in UNANSWERED:
                # The PRESENT may have reached the printer before its port went: the card may be
                # at the slot, in a hand, as much as inside. The retract that follows journals
                # the bin's count, and if it goes unanswered too nothing is voided: the boot
                # decides from the sensors (as CardRewrite's, issue 15).
                self.card_inside, self.at_slot = False, True
            return self.fail("printer", str(event.error))
        return self._step_done(step)

    @batched
    def chip_result(self, event: ChipResult) -> Progress:
        step = self.in_flight
        if step is None or CHIP_OP.get(step) is not event.op:
            return NOTHING
        if not event.ok:
            self.in_flight = None
            return self.fail("permit_card", str(event.error))
        data: Any = event.data
        if step is IssuanceStep.ENCODE:
            self.card_serial = data.card.serial
            return self._step_done(step)
        chip: PermitContents | None = self.face.chip if self.face is not None else None
        if chip is None or not same_chip(chip, data.contents):
            self.in_flight = None
            return self.fail("permit_card", "verify_mismatch")
        return self._step_done(step)

    @batched
    def card_taken(self) -> Progress:
        """The resident took the card from the slot: theirs, even when a retract was under way."""
        if not self.at_slot or self.taken:
            return NOTHING
        self.taken, self.at_slot, self.card_inside = True, False, False
        self._journal("step_done", Step.TAKEN)
        return Progress((self._backend(BackendOp.CONFIRM),), (Outcome.TAKEN,))

    def operation_timed_out(self) -> Progress:
        step = self.in_flight
        if step is None and self.awaiting_chip:
            return self.fail("permit_card", "no_card")
        if step is None:
            return NOTHING
        self.in_flight = None
        return self.fail("permit_card" if step in CHIP_OP else "printer", "no_result")

    def not_taken(self, printer_answers: bool = True, bin_count: int | None = None) -> Progress:
        """Nobody took the card in time: retract it, then void the approval (TIMEOUT).

        A printer that does not answer (silent, or its port gone) cannot have been told to
        retract, and cannot say whether a hand took the card meanwhile: no retract is journaled
        and nothing is voided. The row stays at `presented` and the next boot's recovery decides
        from the sensors (gone: taken, confirmed; at the slot: retracted, voided). Journaling a
        retract that never went out made recovery book a card the resident holds as retained
        (the fault matrix: new_permit/printer/silent and vanish at take_card, issue 15).

        `bin_count`: the reject bin's count now, journaled with the retract: if the printer falls
        silent under it, the next boot tells a card in the bin from one a hand took."""
        if not self.at_slot or self.retracting:
            return NOTHING
        self.void_reason = Reason.TIMEOUT
        if not printer_answers:
            self.stuck = True
            return report(Outcome.STUCK, device="printer", error="no_answer")
        return self._retract(bin_count)

    @batched
    def backend_result(self, op: BackendOp, result: Any) -> Progress:
        self.backend_pending = False
        if op is BackendOp.CONFIRM and isinstance(result, bk.Confirmed):
            self._journal("step_done", Step.CONFIRMED)
            return self._close(Final.ISSUED)
        if op is BackendOp.VOID and isinstance(result, bk.Voided):
            self._journal("step_done", Step.VOIDED)
            if self.stuck:
                return NOTHING  # the card is still inside: the row stays open for a technician
            return self._close(Final.RETAINED if self.picked else Final.VOIDED)
        # Unanswered: the row stays open and the settler sends the same request again.
        return NOTHING

    @batched
    def fail(self, device: str, error: str) -> Progress:
        """A step after the approval failed: retract any card, then void the approval."""
        if self.failed:
            return NOTHING
        self.failed = True
        failed = report(Outcome.FAILED, device=device, error=error)
        if self.card_inside or self.at_slot:
            return failed.then(self._retract())
        return failed.then(self._void())

    # --- state ------------------------------------------------------------------------------

    @property
    def picked(self) -> bool:
        return IssuanceStep.FEED in self.done or self.card_inside

    @property
    def over(self) -> bool:
        """Nothing more will happen here: the row is closed, or the card's part is settled and no
        backend call is out (an unanswered one is the settler's to send again)."""
        card_settled = self.taken or self.stuck or self.retracted or (
            self.failed and not self.card_inside and not self.at_slot and not self.retracting)
        return self.closed or (card_settled and not self.backend_pending)

    # --- inside -----------------------------------------------------------------------------

    def _due(self) -> IssuanceStep | None:
        return next((s for s in SEQUENCE if s not in self.done), None)

    def _next(self) -> IssuanceStep | None:
        if self.in_flight is not None or self.retracting or self.failed or self.closed:
            return None
        step = self._due()
        if step in (IssuanceStep.TICKET, IssuanceStep.PRINT) and self.face is None:
            return None
        if step is IssuanceStep.ENCODE and (self._floor is None or self.insertions <= self._floor):
            return None
        return step

    def _command(self, step: IssuanceStep) -> Command:
        face = self.face
        if step is IssuanceStep.TICKET:
            assert face is not None
            return PrinterCommand(PrinterOp.TICKET, ticket=face.ticket)
        if step is IssuanceStep.PRINT:
            assert face is not None
            return PrinterCommand(PrinterOp.PRINT, 0, 0, face.width, face.height, face.bits)
        if step is IssuanceStep.ENCODE:
            assert face is not None
            return EncoderCommand(ChipOp.PERSONALISE, contents=face.chip)
        if step is IssuanceStep.VERIFY:
            return EncoderCommand(ChipOp.READ)
        return PrinterCommand(PRINTER_OP[step])

    def _step_done(self, step: IssuanceStep) -> Progress:
        self.done.append(step)
        self.in_flight = None
        if step is IssuanceStep.FEED:
            self.card_inside = True
        if step in ENDS:
            self._journal("step_done", ENDS[step], self.card_serial if step is IssuanceStep.ENCODE else None)
        if step is IssuanceStep.PRESENT:
            self.card_inside, self.at_slot = False, True
            return report(Outcome.PRESENTED)
        return self.advance()

    def _retract(self, bin_count: int | None = None) -> Progress:
        """The bin's count before the retract goes with its mark: if the printer falls silent under
        it, the next boot tells a card in the bin (count moved) from one a hand took (unchanged).
        Every retract carries it, a failure's as well as a timeout's."""
        self.retracting = True
        bins = bin_count if bin_count is not None or self.bins is None else self.bins()
        self._journal("step_started", Step.RETRACTED, bins)
        return Progress((PrinterCommand(PrinterOp.RETRACT),))

    def _retracted(self, event: PrinterResult) -> Progress:
        self.retracting = False
        if event.ok:
            self.card_inside = self.at_slot = False
            self.retracted = True
            self._journal("step_done", Step.RETRACTED)
            return report(Outcome.RETRACTED).then(self._void())
        if event.error is PrinterError.NO_CARD:
            if self.taken:
                return NOTHING  # the resident won the race; the take was journaled and confirmed
            if self.at_slot:  # gone from the slot without a take report: a hand took it
                return self.card_taken()
            self.card_inside = False
            return self._void()
        self.stuck = True
        stuck = report(Outcome.STUCK, device="printer", error=str(event.error))
        if event.error in UNANSWERED and self.at_slot:
            # No answer: the card at the slot may be in the bin or in a hand. Nothing is voided; the
            # next boot decides from the sensors and the bin's count (recovery, issue 15).
            return stuck
        # Jammed, or the bin is full: the card stays inside. The row stays open, the approval is voided.
        return stuck.then(self._void())

    def _void(self) -> Progress:
        return Progress((self._backend(BackendOp.VOID),))

    def _backend(self, op: BackendOp) -> BackendCommand:
        self.backend_pending = True
        started = Step.CONFIRMED if op is BackendOp.CONFIRM else Step.VOIDED
        self._journal("step_started", started)
        suffix = "confirm" if op is BackendOp.CONFIRM else "void"
        # The session's own request id: a call repeated after a power cut replays, never doubles.
        return BackendCommand(op, f"{self.session_id}-{suffix}", self.permit_number, self.card_serial,
                              reason=self.void_reason)

    def _close(self, final: Final) -> Progress:
        self.closed = True
        self._journal("finish", final)
        return report(Outcome.CLOSED)

    def _journal(self, what: str, *args: Any) -> None:
        if self.journal is not None and self.row_id is not None:
            attempt(self.journal, self.row_id, what, *(a for a in args if a is not None))
