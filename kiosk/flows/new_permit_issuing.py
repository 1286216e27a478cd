"""The new permit's card: the issuance procedure (kiosk/issuance.py) carried out, and its
outcomes turned into the flow's triggers. It is the card job from the approval until the
card is taken and confirmed, or retained and voided, which may outlast the session.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from devices.events import ChipResult, PrinterResult
from devices.status import DeviceKind, DeviceState
from kiosk import retention
from kiosk.chart import Trigger as T
from kiosk.commands import Outcome, Progress
from kiosk.events import FaceRendered
from kiosk.flows.card_job import ProcedureJob
from kiosk.issuance import Issuance
from kiosk.logevents import LogEvent
from kiosk.permit_face import build_card_face, render_face
from kiosk.reasons import Outcome as SessionOutcome
from kiosk.reasons import Reason
from kiosk.recovery import LastBinCount, bin_count

ISSUING = "new_permit.issuing"
TAKE_CARD = "new_permit.take_card"
AT_SLOT = (TAKE_CARD, "new_permit.last_call")  # the card is out at the slot, waiting for a hand


class Issuing(ProcedureJob):
    def __init__(self, core: Any, presented: StrEnum, taken: StrEnum) -> None:
        self.core = core
        self.presented, self.taken = presented, taken
        self.issuance: Issuance | None = None
        self._quiet = False

    # --- entering the states -----------------------------------------------------------------

    def enter_issuing(self) -> None:
        s = self.core.session
        assert s.grant is not None and s.identity is not None
        status = self.core.availability.status
        self.issuance = Issuance.begin(s.grant.number, s.id, self.core.journal, self.core.insertions,
                                       application=s.request_id("apply"),
                                       bins=LastBinCount(lambda: status.get(DeviceKind.PRINTER)))
        self.core.card_job = self
        self.core.log.emit(LogEvent.ISSUANCE_STARTED, session=s.id, permit_number=s.grant.number)
        face = build_card_face(s.grant, s.identity, s.portrait)
        session = s.id
        self.core.runtime.work("face", session, lambda: render_face(session, face))
        self._carry_out(self.issuance.advance())

    def enter_done(self) -> None:
        self.core.session.end(SessionOutcome.ISSUED, Reason.OK)
        self.core.ports.printer.refresh_status()

    def not_taken(self) -> None:
        """Nobody took the card in time (before the move to goodbye)."""
        s = self.core.session
        s.end(SessionOutcome.ABORTED, Reason.TIMEOUT)
        if self.issuance is not None:
            printer = self.core.availability.status.get(DeviceKind.PRINTER)
            answers = printer is None or printer.state not in (DeviceState.OFFLINE, DeviceState.NO_DEVICE)
            # A printer that does not answer cannot be told to keep it: recovery decides. The
            # retention record comes with the retract's answer (RETRACTED, or STUCK inside), not
            # before it: a hand may beat the rollers, and a record for the card the resident holds
            # told them it was kept (issue 15, the fault matrix's new_permit/printer/bin_full/@take_card).
            self._carry_out(self.issuance.not_taken(answers, bin_count(printer)))

    def void_unprinted(self, permit_number: str, application: str) -> None:
        """An approval the kiosk will not print on: journal it and void it at once."""
        s = self.core.session
        self.issuance = Issuance.begin(permit_number, s.id, self.core.journal, self.core.insertions,
                                       application=application)
        self.core.card_job = self
        self._quiet = True  # the flow says why itself
        self._carry_out(self.issuance.fail("backend", "decision_disagreed"))
        self._quiet = False

    def render_failed(self) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.fail("printer", "render_failed"))

    def on_face(self, event: FaceRendered) -> None:
        self.core.runtime.pending.discard("work.face")
        if self.issuance is not None and event.session == self.issuance.session_id:
            self._carry_out(self.issuance.face_ready(event))

    # --- the card job -------------------------------------------------------------------------

    def _procedure(self) -> Issuance | None:
        return self.issuance

    def on_printer(self, event: PrinterResult) -> None:
        if self.issuance is not None:
            self._step_logged(event.op, event.ok, event.error)
        super().on_printer(event)

    def on_chip(self, event: ChipResult) -> None:
        if self.issuance is not None:
            self._step_logged(event.op, event.ok, event.error)
        super().on_chip(event)

    def _step_logged(self, op: Any, ok: bool, error: Any) -> None:
        assert self.issuance is not None
        self.core.log.emit(LogEvent.ISSUANCE_STEP, session=self.issuance.session_id, step=op,
                           disposition="ok" if ok else str(error))

    # --- outcomes -----------------------------------------------------------------------------

    def _outcomes(self, issuance: Issuance, progress: Progress) -> None:
        core = self.core
        s = core.session
        current = s.id == issuance.session_id
        for outcome in progress.outcomes:
            if outcome is Outcome.PRESENTED:
                core.runtime.cancel("operation")
                if core.state == ISSUING:
                    core.fire(self.presented)
            elif outcome is Outcome.TAKEN:
                if current:
                    s.card_inside = False
                if core.state in AT_SLOT:
                    core.fire(self.taken)
                core.log.emit(LogEvent.ISSUANCE_ENDED, session=issuance.session_id,
                              permit_number=issuance.permit_number, disposition="taken")
            elif outcome is Outcome.FAILED and not self._quiet:
                core.log.emit(LogEvent.DEVICE_FAULT, session=issuance.session_id, device=progress.device,
                              error=progress.error)
                if current and s.fault_device is None:
                    s.fault_device = progress.device
                if core.state == ISSUING or (core.state in AT_SLOT and not issuance.at_slot):
                    core.fire(T.FAULTED)
            elif outcome is Outcome.RETRACTED:
                if current:
                    s.card_retained = True
                    s.card_inside = False
                    retention.keep(core, s, _kept_why(s.reason), issuance.card_serial)
                core.ports.printer.refresh_status()
            elif outcome is Outcome.STUCK:
                if current:
                    s.card_retained = True
                    retention.keep(core, s, _kept_why(s.reason), issuance.card_serial)
                core.availability.mark_card_stuck()
                core.log.emit(LogEvent.CARD_STUCK, device=DeviceKind.PRINTER, error=progress.error)
                core.services_changed()
        if issuance.over:
            self._closed(issuance)

    def _closed(self, issuance: Issuance) -> None:
        disposition = "issued" if issuance.taken else ("stuck" if issuance.stuck else
                                                       "retained" if issuance.picked else "voided")
        if not issuance.taken:
            self.core.log.emit(LogEvent.ISSUANCE_ENDED, session=issuance.session_id,
                               permit_number=issuance.permit_number, disposition=disposition)
        if self.core.card_job is self:
            self.core.card_job = None
        self.issuance = None
        self.core.ports.printer.refresh_status()


def _kept_why(reason: Reason | None) -> Reason:
    """A kept card's reason code: not taken in time, or a device fault."""
    return Reason.TIMEOUT if reason is Reason.TIMEOUT else Reason.DEVICE_FAULT
