"""Remote commands from the fleet (docs/fleet.md), carried out on the main thread.

The fleet link (fleet/link.py, outside the core) checks where a command came from and what it
says, then posts a `RemoteCommand` into the core's one event queue; the controller hands it to
`carry_out`. Every command is audited: `FLEET_COMMAND` with accepted or refused and why, and a
terminal taken out of service is kept in the diagnostics audit trail (card id `fleet`) so the
hold survives a restart exactly as a technician's does.

- out_of_service: no new session starts; a resident already being served finishes first
  (the goodbye screen leads to out of service, as for a device that went down).
- in_service: the hold is lifted; services come back as far as the devices allow.
- self_test: the tests that need nobody at the terminal (each device's status, a fresh printer
  status, a backend health call); the card-path and test-card tests need a technician.
- report_now: the link republishes every retained message (state, status, counters).
Refused while a technician is in diagnostics: the person at the terminal decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.chart import Trigger as T
from kiosk.diagnostics_store import AuditAction
from kiosk.logevents import LogEvent
from kiosk.selftest import BOARD_ORDER, Test, status_test

FLEET_CARD = "fleet"  # the audit trail's card id for what the fleet did


class RemoteAction(StrEnum):
    OUT_OF_SERVICE = "out_of_service"
    IN_SERVICE = "in_service"
    SELF_TEST = "self_test"
    REPORT_NOW = "report_now"


@dataclass(frozen=True)
class RemoteCommand:
    action: RemoteAction
    command_id: str  # the operator's id for the command, echoed in the reply and the audit
    # Called on the main thread with the reply's payload; must not block (the link queues it).
    reply: Callable[[dict[str, Any]], None]


def carry_out(core: Any, cmd: RemoteCommand) -> None:
    result, why, extra = _apply(core, cmd)
    core.log.emit(LogEvent.FLEET_COMMAND, command=cmd.action.value, id=cmd.command_id, result=result, why=why)
    cmd.reply({"id": cmd.command_id, "command": cmd.action.value, "result": result, "why": why, **extra})


def _apply(core: Any, cmd: RemoteCommand) -> tuple[str, str, dict[str, Any]]:
    if core.state.startswith("diagnostics"):
        return "refused", "technician_present", {}
    a = core.availability
    if cmd.action is RemoteAction.REPORT_NOW:
        return "accepted", "", {}
    if cmd.action is RemoteAction.SELF_TEST:
        verdicts = [status_test(d, Test.STATUS, a.status.get(d)) for d in BOARD_ORDER if d in a.status]
        for v in verdicts:
            core.log.emit(LogEvent.SELFTEST_RESULT, device=v.device, test=v.test.value,
                          outcome="pass" if v.passed else "fail", message=v.message)
        core.ports.printer.refresh_status()
        core._check_health()  # the backend's answer arrives as a status change
        return "accepted", "", {"tests": {v.device.value: v.message for v in verdicts}}
    hold = cmd.action is RemoteAction.OUT_OF_SERVICE
    if a.held_out == hold:
        return "accepted", "already", {}
    a.held_out = hold
    store = next((f.store for f in core.flows if f.CHART.owner == "diagnostics"), None)
    if store is not None:
        store.audit(FLEET_CARD, AuditAction.OUT_OF_SERVICE if hold else AuditAction.BACK_IN_SERVICE,
                    f"remote:{cmd.command_id}")
    core.services_changed()
    core.offer(T.DEVICES_CHANGED)
    return "accepted", "", {}
