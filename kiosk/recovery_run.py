"""Carrying out recovery plans (kiosk/recovery.py) at boot, as a procedure: results in, commands out.

Each plan's actions run in order, journaled around their step. A card handed back to a
resident (a rewrite's coherent card) waits `timeouts.take_card`; nobody takes it → retracted,
and the rows are planned again from what is now true. A card taken from the slot while it is
being retracted is the resident's: the take is journaled before anything else, and the row is
planned again (it is then confirmed, never voided). A retract that fails (a jam, a full bin)
blocks recovery: the row stays open for a technician.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from devices.events import PrinterError, PrinterOp, PrinterResult
from kiosk import backend as bk
from kiosk.commands import NOTHING, BackendCommand, BackendOp, Command, Outcome, PrinterCommand, Progress, report
from kiosk.endorsement import Rewrite
from kiosk.journal import IntakeState, Journal, JournalError, JournalRow, Kind, Step, attempt, log_refusal
from kiosk.logevents import EventLog, LogEvent
from kiosk.reasons import Reason
from kiosk.recovery import Action, ActionKind, CardPlace, PrinterFacts, RecoveryPlan, plan, plan_stray_card

Facts = Callable[[], PrinterFacts | None]


def backend_command(row: JournalRow, step: Step) -> BackendCommand | None:
    """The call that settles a row with the backend, with the session's own request id: a call
    that reached the backend before a power cut replays instead of doubling."""
    if row.kind is Kind.REWRITE:
        if step is not Step.CONFIRMED or row.valid_from is None or row.valid_until is None or not row.card_serial:
            return None
        return BackendCommand(BackendOp.REWRITE_CONFIRM, f"{row.request_id}-rewrite_confirm", row.permit_number,
                              row.card_serial, decision=Rewrite(row.valid_from, row.valid_until))
    if step is Step.CONFIRMED:
        return BackendCommand(BackendOp.CONFIRM, f"{row.request_id}-confirm", row.permit_number, row.card_serial)
    return BackendCommand(BackendOp.VOID, f"{row.request_id}-void", row.permit_number, reason=Reason.DEVICE_FAULT)


def settled(result: Any) -> bool | None:
    """True: the backend answered; False: it refused (it already settled the other way);
    None: no answer, try again later."""
    if isinstance(result, bk.Confirmed | bk.Voided | bk.Rewritten):
        return True
    if isinstance(result, bk.BackendFailure) and result.kind is bk.FailureKind.REFUSED_REQUEST:
        return False
    return None


class RecoveryRun:
    def __init__(self, journal: Journal, facts: Facts, log: EventLog) -> None:
        self.journal = journal
        self.facts = facts
        self.log = log
        self.queue: deque[tuple[RecoveryPlan, Action]] = deque()
        self.blocked: str | None = None
        self.awaiting_take = False
        self.retracting = False

    def start(self) -> Progress:
        """Plan every unfinished row from the journal and the printer's sensors, and begin."""
        self.queue.clear()
        rows = self.journal.unfinished()
        facts = self.facts()
        if facts is None:
            if rows:
                # Without the printer's sensors nothing may be planned: a card could still be inside.
                return self._block("printer_silent")
            return report(Outcome.CLOSED)
        if facts.card is CardPlace.NONE:
            self._settle_intakes(facts)
        plans = [plan(r, facts if r.card_in_play else PrinterFacts(CardPlace.NONE), None) for r in rows]
        stray = plan_stray_card(rows, facts)
        if stray is not None:
            plans.append(stray)
        if any(p.actions for p in plans):
            self.log.emit(LogEvent.RECOVERY_STARTED, rows=len(rows), printer_card=facts.card)
        self.queue.extend((p, a) for p in plans for a in p.actions)
        return self._next()

    # --- inputs -------------------------------------------------------------------------------

    def printer_result(self, event: PrinterResult) -> Progress:
        if not self.queue:
            return NOTHING
        rplan, action = self.queue[0]
        if event.op is PrinterOp.RETRACT and self.retracting:
            self.retracting = False
            if event.ok:
                self._journal(rplan, "step_done", Step.RETRACTED)
                if rplan.row_id is None:
                    for intake in self.journal.open_intakes():
                        self._intake(intake.request_id, IntakeState.RETAINED)
                self._done(rplan, action, "ok")
                if rplan.rule == "not_taken":
                    return self.start()  # plan again: the card is in the bin now
                return self._next()
            if event.error is PrinterError.NO_CARD:
                # The card is not there (a resident took it, and the take was journaled): plan again.
                self._log(rplan, action, "no_card")
                return self.start()
            return self._block("retract_failed", rplan, action)
        if event.op is PrinterOp.PRESENT and action.kind is ActionKind.RETURN_CARD and not self.awaiting_take:
            if not event.ok:
                return self._block("present_failed", rplan, action)
            self.awaiting_take = True
            return report(Outcome.PRESENTED)
        return NOTHING

    def card_taken(self) -> Progress:
        """A card left the slot by a resident's hand: journal it before anything else."""
        if not self.queue:
            return NOTHING
        rplan, action = self.queue[0]
        if rplan.row_id is None:
            return NOTHING
        row = self.journal.get(rplan.row_id)
        leaving = self._leaving_step(row)
        if leaving is None:
            return NOTHING
        if action.kind is ActionKind.RETURN_CARD and self.awaiting_take:
            self.awaiting_take = False
            self._journal(rplan, "step_done", leaving)
            self._done(rplan, action, "ok")
            return report(Outcome.TAKEN).then(self._next())
        if action.kind is ActionKind.RETRACT_TO_BIN and self.retracting:
            self._journal(rplan, "record" if leaving is Step.TAKEN else "step_done", leaving)
            self._log(rplan, action, "taken_during_retract")
            return report(Outcome.TAKEN)  # the retract's answer (no card) plans again
        return NOTHING

    def take_timed_out(self) -> Progress:
        """Nobody took the returned card: retract it, then plan the row again from what is now true."""
        if not self.queue or not self.awaiting_take:
            return NOTHING
        self.awaiting_take = False
        rplan, action = self.queue[0]
        self._log(rplan, action, "not_taken")
        self.queue.clear()
        retract = Action(ActionKind.RETRACT_TO_BIN, Step.RETRACTED)
        self.queue.append((RecoveryPlan(rplan.row_id, "not_taken", (retract,)), retract))
        return self._retract(self.queue[0][0])

    def backend_result(self, op: BackendOp, result: Any) -> Progress:
        if not self.queue:
            return NOTHING
        rplan, action = self.queue[0]
        answer = settled(result)
        if answer is None:
            return self._block("backend_unavailable", rplan, action)  # retried when the backend returns
        # A refusal means the backend already settled this approval the other way; the card's
        # whereabouts decided the journal, and the log carries the conflict for an operator.
        assert action.step is not None
        self._journal(rplan, "step_done", action.step)
        self._done(rplan, action, "ok" if answer else "backend_disagrees")
        return self._next()

    def operation_timed_out(self) -> Progress:
        if self.retracting and self.queue:
            self.retracting = False
            rplan, action = self.queue[0]
            return self._block("printer_silent", rplan, action)
        return NOTHING

    # --- inside -------------------------------------------------------------------------------

    def _next(self) -> Progress:
        while self.queue:
            rplan, action = self.queue[0]
            if action.kind in (ActionKind.RECORD, ActionKind.MARK_FINAL):
                if action.kind is ActionKind.RECORD and action.step is not None:
                    self._journal(rplan, "record", action.step)
                elif action.final is not None:
                    self._journal(rplan, "finish", action.final)
                self._done(rplan, action, "ok")
                continue
            if action.kind is ActionKind.RETRACT_TO_BIN:
                return self._retract(rplan)
            if action.kind in (ActionKind.CONFIRM_ISSUANCE, ActionKind.VOID_APPROVAL) and rplan.row_id is not None:
                step = Step.CONFIRMED if action.kind is ActionKind.CONFIRM_ISSUANCE else Step.VOIDED
                row = self.journal.get(rplan.row_id)
                self._journal(rplan, "step_started", step)
                if row.kind is Kind.REWRITE and step is Step.VOIDED:
                    # Nothing of a rewrite reaches the backend before its confirmation: the void is ours.
                    self._journal(rplan, "step_done", step)
                    self._done(rplan, action, "ok")
                    continue
                command = backend_command(row, step)
                if command is None:
                    return self._block("row_incomplete", rplan, action)
                return Progress((command,))
            if action.kind is ActionKind.RETURN_CARD and action.step is not None:
                self._journal(rplan, "step_started", action.step)
                return Progress((PrinterCommand(PrinterOp.PRESENT),))
            return self._block("unsupported", rplan, action)
        self.log.emit(LogEvent.RECOVERY_ENDED, disposition="resolved")
        return report(Outcome.CLOSED)

    def _settle_intakes(self, facts: PrinterFacts) -> None:
        """No card inside: a rewrite's intake with no row ends where its card went. A retract begun
        ended in the bin unless the bin counts what it counted then (a hand took it at the slot)."""
        for intake in self.journal.open_intakes():
            taken = intake.bin_before is not None and facts.bin_count == intake.bin_before
            in_bin = intake.state is IntakeState.RETRACTING and not taken
            self._intake(intake.request_id, IntakeState.RETAINED if in_bin else IntakeState.RETURNED)
            self.log.emit(LogEvent.RECOVERY_ACTION, row=0, rule="intake", action="record",
                          disposition="retained" if in_bin else "returned")

    def _intake(self, request_id: str, step: IntakeState, bin_count: int | None = None) -> None:
        try:
            self.journal.intake(request_id, step, bin_count)
        except JournalError as exc:
            log_refusal(self.journal, "intake", exc, None, step)

    def _retract(self, rplan: RecoveryPlan) -> Progress:
        self.retracting = True
        if rplan.row_id is None:
            # A stray card: a rewrite's intake with no row if one is open, else an intake of its own
            # (a resident's card left in the slot the kiosk never took in, a card a technician left),
            # so the journal counts the card the printer bins (issue 15: printer silent at insert_card).
            intakes = [i.request_id for i in self.journal.open_intakes()] or [f"stray-{uuid.uuid4().hex}"]
            for request_id in intakes:
                self._intake(request_id, IntakeState.TAKING_IN)
                self._intake(request_id, IntakeState.RETRACTING, self._bin_count())
        if rplan.row_id is not None:
            self._journal(rplan, "step_started", Step.RETRACTED)
        commands: tuple[Command, ...] = (PrinterCommand(PrinterOp.RETRACT),)
        return Progress(commands)

    def _bin_count(self) -> int | None:
        facts = self.facts()
        return None if facts is None else facts.bin_count

    def _leaving_step(self, row: JournalRow) -> Step | None:
        if row.kind is Kind.NEW_PERMIT:
            return Step.TAKEN if row.began(Step.PRESENTED) and not row.completed(Step.TAKEN) else None
        for step in (Step.RETURNED, Step.RETURNED_UNCHANGED):
            if row.open(step):
                return step
        return None

    def _block(self, why: str, rplan: RecoveryPlan | None = None, action: Action | None = None) -> Progress:
        if rplan is not None and action is not None:
            self._log(rplan, action, why)
        self.queue.clear()
        self.blocked = why
        self.log.emit(LogEvent.RECOVERY_ENDED, disposition=f"blocked:{why}")
        return report(Outcome.STUCK, device="printer" if "retract" in why or "printer" in why else "",
                        error=why)

    def _done(self, rplan: RecoveryPlan, action: Action, disposition: str) -> None:
        self.queue.popleft()
        self._log(rplan, action, disposition)

    def _log(self, rplan: RecoveryPlan, action: Action, disposition: str) -> None:
        self.log.emit(LogEvent.RECOVERY_ACTION, row=rplan.row_id or 0, rule=rplan.rule, action=action.kind,
                      disposition=disposition)

    def _journal(self, rplan: RecoveryPlan, what: str, *args: Any) -> None:
        if rplan.row_id is not None:
            attempt(self.journal, rplan.row_id, what, *args)
