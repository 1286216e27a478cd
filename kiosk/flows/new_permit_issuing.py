"""The new permit's card: the issuance procedure (kiosk/issuance.py) carried out, and its
outcomes turned into the flow's triggers. It is the card job from the approval until the
card is taken and confirmed, or retained and voided, which may outlast the session.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from devices.events import ChipResult, PrinterResult
from devices.status import DeviceKind
from kiosk.chart import Trigger as T
from kiosk.commands import BackendOp, Outcome, Progress
from kiosk.events import FaceRendered
from kiosk.issuance import Issuance
from kiosk.logevents import LogEvent
from kiosk.permit_face import build_card_face, render_face
from kiosk.reasons import Outcome as SessionOutcome
from kiosk.reasons import Reason
from kiosk.runtime import CHIP_WAIT_WALL_S

ISSUING = "new_permit.issuing"
TAKE_CARD = "new_permit.take_card"


class Issuing:
    def __init__(self, core: Any, presented: StrEnum, taken: StrEnum) -> None:
        self.core = core
        self.presented, self.taken = presented, taken
        self.issuance: Issuance | None = None

    # --- entering the states -----------------------------------------------------------------

    def enter_issuing(self) -> None:
        s = self.core.session
        assert s.grant is not None and s.identity is not None
        self.issuance = Issuance.begin(s.grant.number, s.id, self.core.journal, self.core.insertions)
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
        self.core.session.end(SessionOutcome.ABORTED, Reason.TIMEOUT)
        if self.issuance is not None:
            self._carry_out(self.issuance.not_taken())

    def void_unprinted(self, permit_number: str) -> None:
        """An approval the kiosk will not print on: journal it and void it at once."""
        s = self.core.session
        self.issuance = Issuance.begin(permit_number, s.id, self.core.journal, self.core.insertions)
        self.core.card_job = self
        self._carry_out(self.issuance.fail("backend", "decision_disagreed"), quiet=True)

    def render_failed(self) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.fail("printer", "render_failed"))

    def on_face(self, event: FaceRendered) -> None:
        self.core.runtime.pending.discard("work.face")
        if self.issuance is not None and event.session == self.issuance.session_id:
            self._carry_out(self.issuance.face_ready(event))

    # --- the card job -------------------------------------------------------------------------

    @property
    def busy_row(self) -> int | None:
        return self.issuance.row_id if self.issuance is not None else None

    def on_printer(self, event: PrinterResult) -> None:
        if self.issuance is not None:
            if event.op.value not in ("status",):
                self.core.log.emit(LogEvent.ISSUANCE_STEP, session=self.issuance.session_id, step=event.op,
                                   disposition="ok" if event.ok else str(event.error))
            self._carry_out(self.issuance.printer_result(event))

    def on_chip(self, event: ChipResult) -> None:
        if self.issuance is not None:
            self.core.log.emit(LogEvent.ISSUANCE_STEP, session=self.issuance.session_id, step=event.op,
                               disposition="ok" if event.ok else str(event.error))
            self._carry_out(self.issuance.chip_result(event))

    def on_chip_present(self, insertion: int) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.chip_arrived(insertion))

    def on_taken(self) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.card_taken())

    def on_operation_timeout(self) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.operation_timed_out())

    def _backend(self, op: BackendOp, result: Any) -> None:
        if self.issuance is not None:
            self._carry_out(self.issuance.backend_result(op, result))

    # --- outcomes -----------------------------------------------------------------------------

    def _carry_out(self, progress: Progress, quiet: bool = False) -> None:
        issuance = self.issuance
        assert issuance is not None
        core = self.core
        core.run(progress, issuance.session_id, self._backend)
        if issuance.awaiting_chip:
            # The card is at the encoder and pcscd has yet to see it arrive: device time, bounded
            # by the operation timer, not a pause in which the virtual clock may jump.
            core.runtime.hold("encoder.field", CHIP_WAIT_WALL_S)
            if not core.runtime.armed("operation"):
                core.runtime.set_timer("operation", core.config.timeouts.device_operation)
        else:
            core.runtime.release("encoder.field")
        in_flight = issuance.in_flight
        s = core.session
        if in_flight is not None and s.id == issuance.session_id:
            s.issuing_step = in_flight.value
        current = s.id == issuance.session_id
        for outcome in progress.outcomes:
            if outcome is Outcome.PRESENTED:
                core.runtime.cancel("operation")
                if core.state == ISSUING:
                    core.fire(self.presented)
            elif outcome is Outcome.TAKEN:
                if current:
                    s.card_inside = False
                if core.state == TAKE_CARD:
                    core.fire(self.taken)
                core.log.emit(LogEvent.ISSUANCE_ENDED, session=issuance.session_id,
                              permit_number=issuance.permit_number, disposition="taken")
            elif outcome is Outcome.FAILED and not quiet:
                core.log.emit(LogEvent.DEVICE_FAULT, session=issuance.session_id, device=progress.device,
                              error=progress.error)
                if current and s.fault_device is None:
                    s.fault_device = progress.device
                if core.state == ISSUING or (core.state == TAKE_CARD and not issuance.at_slot):
                    core.fire(T.FAULTED)
            elif outcome is Outcome.RETRACTED:
                if current:
                    s.card_retained = True
                    s.card_inside = False
                core.ports.printer.refresh_status()
            elif outcome is Outcome.STUCK:
                if current:
                    s.card_retained = True
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
