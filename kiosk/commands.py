"""What procedures ask for: device and backend commands as values, and what they report back.

Issuance, rewrite and recovery take results and return a `Progress`: the commands to send
next and, when something the flow must act on happened, an outcome. They never call ports
or the controller themselves; `send` carries a command out through the ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from devices.events import ChipOp, PrinterOp
from devices.permit_profile import PermitContents
from kiosk.endorsement import Rewrite
from kiosk.ports import Ports
from kiosk.reasons import Reason
from kiosk.runtime import Runtime


@dataclass(frozen=True)
class PrinterCommand:
    op: PrinterOp
    x: int = 0
    y: int = 0
    width: int = 0
    height: int = 0
    bits: bytes = field(default=b"", repr=False)
    ticket: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EncoderCommand:
    op: ChipOp
    contents: PermitContents | None = field(default=None, repr=False)
    valid_from: date | None = None
    valid_until: date | None = None
    endorsement_count: int = 0


class BackendOp(StrEnum):
    CONFIRM = "confirm"
    VOID = "void"
    REWRITE_CONFIRM = "rewrite_confirm"
    VOID_APPLICATION = "void_application"  # withdraw an application by its request id


@dataclass(frozen=True)
class BackendCommand:
    op: BackendOp
    request_id: str
    permit_number: str
    card_serial: str | None = None
    reason: Reason = Reason.DEVICE_FAULT
    application: str | None = None  # VOID_APPLICATION: the request id the application was sent with
    decision: Rewrite | None = None


Command = PrinterCommand | EncoderCommand | BackendCommand


class Outcome(StrEnum):
    """What a procedure reports to its flow."""

    PRESENTED = "presented"  # the card is at the slot for the resident
    TAKEN = "taken"  # the resident took it
    PHASE_DONE = "phase_done"  # rewrite: the steps asked for are done
    FAILED = "failed"  # a step failed; the card is being retracted or returned, the approval voided
    RETRACTED = "retracted"  # the card is in the reject bin
    STUCK = "stuck"  # a retract failed: the card is still inside, for a technician
    CLOSED = "closed"  # the journal row is finished


@dataclass(frozen=True)
class Progress:
    commands: tuple[Command, ...] = ()
    outcomes: tuple[Outcome, ...] = ()  # in the order they happened
    device: str = ""  # with FAILED or STUCK: the device kind that failed
    error: str = ""  # with FAILED or STUCK: a fixed code

    def then(self, more: Progress) -> Progress:
        """Both, in order."""
        return Progress(self.commands + more.commands, self.outcomes + more.outcomes,
                        self.device or more.device, self.error or more.error)


def report(outcome: Outcome, device: str = "", error: str = "") -> Progress:
    return Progress((), (outcome,), device, error)


NOTHING = Progress()


def send(command: Command, ports: Ports, runtime: Runtime, session: str, operation_timeout: float,
         on_backend: Callable[[BackendOp, Any], None]) -> None:
    """One command through its port; a device command arms the `operation` timer, a backend
    command's reply comes back to `on_backend` on the main thread."""
    if isinstance(command, BackendCommand):
        backend = ports.backend
        c = command
        if c.op is BackendOp.CONFIRM:
            def fn() -> Any:
                return backend.confirm_issuance(c.request_id, c.permit_number, c.card_serial)
        elif c.op is BackendOp.VOID:
            def fn() -> Any:
                return backend.void_issuance(c.request_id, c.permit_number, c.reason)
        elif c.op is BackendOp.VOID_APPLICATION:
            application = c.application or ""

            def fn() -> Any:
                return backend.void_application(c.request_id, application, c.reason)
        else:
            assert c.decision is not None and c.card_serial is not None
            decision, serial = c.decision, c.card_serial

            def fn() -> Any:
                return backend.confirm_rewrite(c.request_id, c.permit_number, serial, decision)

        runtime.call(str(c.op), fn, session, then=lambda result: on_backend(c.op, result))
        return
    runtime.set_timer("operation", operation_timeout)
    if isinstance(command, PrinterCommand):
        runtime.pending.add("printer")
        _printer(command, ports)
    else:
        runtime.pending.add("encoder")
        _encoder(command, ports)


def _printer(c: PrinterCommand, ports: Ports) -> None:
    p = ports.printer
    if c.op is PrinterOp.FEED:
        p.feed()
    elif c.op is PrinterOp.TICKET:
        p.ticket(c.ticket)
    elif c.op is PrinterOp.PRINT:
        p.print_area(c.x, c.y, c.width, c.height, c.bits)
    elif c.op is PrinterOp.TO_ENCODER:
        p.to_encoder()
    elif c.op is PrinterOp.PRESENT:
        p.present()
    elif c.op is PrinterOp.RETRACT:
        p.retract()
    elif c.op is PrinterOp.TAKE_IN:
        p.take_in()
    elif c.op is PrinterOp.ERASE:
        p.erase_area(c.x, c.y, c.width, c.height)
    else:
        p.refresh_status()


def _encoder(c: EncoderCommand, ports: Ports) -> None:
    e = ports.encoder
    if c.op is ChipOp.PERSONALISE:
        assert c.contents is not None
        e.personalise(c.contents)
    elif c.op is ChipOp.WRITE_VALIDITY:
        assert c.valid_from is not None and c.valid_until is not None
        e.write_validity(c.valid_from, c.valid_until, c.endorsement_count)
    else:
        e.read_card()
