"""A flow's card job: printer, chip, take and timer events forwarded to its procedure, and the
procedure's progress carried out. Issuance and the card-face rewrite both run this way; what
each does with the outcomes is its own `_outcomes`.
"""

from __future__ import annotations

from typing import Any, Protocol

from kiosk.commands import BackendOp, Progress
from kiosk.runtime import CHIP_WAIT_WALL_S


class CardProcedure(Protocol):
    session_id: str
    row_id: int | None

    @property
    def awaiting_chip(self) -> bool: ...
    def printer_result(self, event: Any) -> Progress: ...
    def chip_result(self, event: Any) -> Progress: ...
    def chip_arrived(self, insertion: int) -> Progress: ...
    def card_taken(self) -> Progress: ...
    def operation_timed_out(self) -> Progress: ...
    def backend_result(self, op: BackendOp, result: Any) -> Progress: ...


class ProcedureJob:
    core: Any

    def _procedure(self) -> CardProcedure | None:
        raise NotImplementedError

    def _outcomes(self, procedure: Any, progress: Progress) -> None:
        raise NotImplementedError

    @property
    def busy_row(self) -> int | None:
        p = self._procedure()
        return p.row_id if p is not None else None

    def on_printer(self, event: Any) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.printer_result(event))

    def on_chip(self, event: Any) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.chip_result(event))

    def on_chip_present(self, insertion: int) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.chip_arrived(insertion))

    def on_taken(self) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.card_taken())

    def on_operation_timeout(self) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.operation_timed_out())

    def _backend(self, op: BackendOp, result: Any) -> None:
        if (p := self._procedure()) is not None:
            self._carry_out(p.backend_result(op, result))

    def _carry_out(self, progress: Progress) -> None:
        p = self._procedure()
        assert p is not None
        core = self.core
        core.run(progress, p.session_id, self._backend)
        if p.awaiting_chip:
            # The card is at the encoder and pcscd has yet to see it arrive: device time, bounded
            # by the operation timer, not a pause in which the virtual clock may jump.
            core.runtime.hold("encoder.field", CHIP_WAIT_WALL_S)
            if not core.runtime.armed("operation"):
                core.runtime.set_timer("operation", core.config.timeouts.device_operation)
        else:
            core.runtime.release("encoder.field")
        in_flight = getattr(p, "in_flight", None)
        if in_flight is not None and core.session.id == p.session_id:
            core.session.issuing_step = in_flight.value
        self._outcomes(p, progress)
