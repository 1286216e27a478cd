"""Boot: the self-test, recovery of unfinished journal rows, and out of service.

Nobody is served before every unfinished row is resolved (DESIGN.md, Issuing a card): the
recovery procedure (kiosk/recovery_run.py) plans each row from the journal and the printer's
sensors; this flow carries its commands out and moves on when it is done or blocked.
"""

from __future__ import annotations

from typing import Any

from devices.events import PrinterResult
from devices.status import DeviceKind
from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.commands import BackendOp, Outcome, Progress
from kiosk.flows.base import Flow, Snapshot
from kiosk.logevents import LogEvent
from kiosk.recovery import PrinterFacts
from kiosk.recovery_run import RecoveryRun
from kiosk.view import Button

SELF_TESTED = (DeviceKind.ID_READER, DeviceKind.PRINTER, DeviceKind.PERMIT_CARD, DeviceKind.CAMERA)
RECOVERY_TAKE = "recovery_take"  # a rewrite's card handed back at boot, waiting for its resident


class Boot(Flow):
    CHART = ChartPart(
        owner="boot",
        states=(
            StateSpec("boot"),
            StateSpec("self_test", timers=(TimerSpec("self_test", "self_test", T.SELF_TEST_DONE),),
                      on_enter="enter_self_test"),
            StateSpec("recovery", on_enter="enter_recovery"),
            StateSpec("out_of_service", checks_health=True, on_enter="enter_out_of_service"),
        ),
        edges=(
            Edge(T.STARTED, "boot", "self_test"),
            Edge(T.SELF_TEST_DONE, "self_test", "recovery"),
            Edge(T.RECOVERED, "recovery", "ready.attract", conditions=("any_service_available",)),
            Edge(T.RECOVERED, "recovery", "out_of_service"),
            Edge(T.RECOVERY_BLOCKED, "recovery", "out_of_service"),
            Edge(T.DEVICES_CHANGED, "out_of_service", "recovery", conditions=("recovery_needed",)),
            Edge(T.DEVICES_CHANGED, "out_of_service", "ready.attract", conditions=("any_service_available",)),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.run: RecoveryRun | None = None

    # --- guards ------------------------------------------------------------------------------

    def any_service_available(self) -> bool:
        return self.core.availability.any_offered()

    def recovery_needed(self) -> bool:
        journal = self.core.journal
        return journal is not None and not self.core.availability.card_stuck and bool(journal.unfinished())

    # --- self-test ---------------------------------------------------------------------------

    def enter_self_test(self) -> None:
        self.core.runtime.pending.add("self_test")
        for port in self.core.ports.devices():
            port.start()

    def on_status(self, device: Any) -> bool:
        if self.core.state == "self_test":
            self._maybe_self_tested()
            return True
        return False

    def _maybe_self_tested(self) -> None:
        if self.core.availability.heard_from(SELF_TESTED):
            self.core.runtime.cancel("self_test")
            self.core.runtime.pending.discard("self_test")
            self.core.fire(T.SELF_TEST_DONE)

    # --- recovery ----------------------------------------------------------------------------

    def enter_recovery(self) -> None:
        self.core.runtime.pending.discard("self_test")
        journal = self.core.journal
        if journal is None:
            self.core.fire(T.RECOVERED)
            return
        self.run = RecoveryRun(journal, self._facts, self.core.log)
        self.core.card_job = self
        self.core.runtime.pending.add("recovery")
        self._carry_out(self.run.start())

    def _facts(self) -> PrinterFacts | None:
        printer = self.core.availability.status.get(DeviceKind.PRINTER)
        return PrinterFacts.from_status(printer) if printer is not None else None

    def _carry_out(self, progress: Progress) -> None:
        self.core.run(progress, "", self._backend)
        if Outcome.PRESENTED in progress.outcomes:
            self.core.runtime.set_timer(RECOVERY_TAKE, self.core.config.timeouts.take_card)
        if Outcome.TAKEN in progress.outcomes:
            self.core.runtime.cancel(RECOVERY_TAKE)
        if Outcome.CLOSED in progress.outcomes or Outcome.STUCK in progress.outcomes:
            self._end(progress)

    def _end(self, progress: Progress) -> None:
        self.core.runtime.pending.discard("recovery")
        self.core.runtime.cancel(RECOVERY_TAKE)
        if self.core.card_job is self:
            self.core.card_job = None
        self.run = None
        if Outcome.STUCK not in progress.outcomes:
            self.core.offer(T.RECOVERED)
            return
        if progress.error in ("retract_failed", "present_failed"):
            self.core.availability.mark_card_stuck()
            self.core.log.emit(LogEvent.CARD_STUCK, device=DeviceKind.PRINTER, error=progress.error)
        self.core.offer(T.RECOVERY_BLOCKED)

    def _backend(self, op: BackendOp, result: Any) -> None:
        if self.run is not None and self.core.state == "recovery":
            self._carry_out(self.run.backend_result(op, result))

    # --- the card job while recovering ------------------------------------------------------

    @property
    def busy_row(self) -> int | None:
        if self.run is None or not self.run.queue:
            return None
        return self.run.queue[0][0].row_id

    def on_printer(self, event: PrinterResult) -> None:
        if self.run is not None:
            self._carry_out(self.run.printer_result(event))

    def on_chip(self, event: Any) -> None:
        return None

    def on_chip_present(self, insertion: int) -> None:
        return None

    def on_taken(self) -> None:
        if self.run is not None:
            self._carry_out(self.run.card_taken())

    def on_operation_timeout(self) -> None:
        if self.run is not None:
            self._carry_out(self.run.operation_timed_out())

    def on_timer(self, name: str) -> None:
        if name == RECOVERY_TAKE and self.run is not None:
            self._carry_out(self.run.take_timed_out())

    # --- out of service ---------------------------------------------------------------------

    def enter_out_of_service(self) -> None:
        self.core.services_changed()


def out_of_service_view(snap: Snapshot) -> tuple[dict[str, Any], tuple[Button, ...]]:
    return {"down": sorted(snap.down), "supplies": list(snap.supply_problems)}, ()


Boot.SCREENS = {"out_of_service": out_of_service_view}
