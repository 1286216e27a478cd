"""What a flow is, and what it may use of the core.

A flow owns a part of the chart (its states and edges), the handlers of the events that
matter while the kiosk is in one of its states, and the view functions of its screens. It
reaches devices and the backend only through the core's ports, runtime and procedures; it
never imports another flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from devices.status import DeviceKind
from kiosk.availability import Availability, Needs
from kiosk.backend_types import BackendFailure
from kiosk.chart import ChartPart, Trigger
from kiosk.clock import Clock
from kiosk.commands import BackendOp, Progress
from kiosk.config import KioskConfig
from kiosk.journal import Journal
from kiosk.logevents import EventLog, LogEvent
from kiosk.policy import PolicyPack
from kiosk.ports import Ports
from kiosk.reasons import Service
from kiosk.runtime import Runtime
from kiosk.session import Session
from kiosk.view import Button


@dataclass(frozen=True)
class Snapshot:
    """What a screen's view is built from: the state and the session, never the controller."""

    state: str
    session: Session
    offered: tuple[Service, ...]
    down: tuple[str, ...]
    supply_problems: tuple[str, ...]
    photo_max_tries: int
    technician_needed: bool = False
    now: float = 0.0  # the kiosk's monotonic clock, for a countdown a screen shows
    qr_scanner_up: bool = False  # a QR scanner is fitted and up (registration offers the QR way)
    installed: tuple[Service, ...] | None = None  # the services terminal.services names (None: every one)
    terminal: str = ""  # the terminal's id, for the QR codes a resident takes away (no personal data)
    today: date | None = None
    card_moving: bool = False  # a card job moves a card now (a retract after a fault: its record comes after)


ScreenFn = Callable[[Snapshot], tuple[dict[str, Any], tuple[Button, ...]]]


class CardJob(Protocol):
    """Whoever moves the card in the printer now: printer, chip and take events go to it."""

    @property
    def busy_row(self) -> int | None: ...
    def on_printer(self, event: Any) -> None: ...
    def on_chip(self, event: Any) -> None: ...
    def on_chip_present(self, insertion: int) -> None: ...
    def on_taken(self) -> None: ...
    def on_operation_timeout(self) -> None: ...


class Core(Protocol):
    config: KioskConfig
    pack: PolicyPack
    clock: Clock
    ports: Ports
    log: EventLog
    journal: Journal | None
    runtime: Runtime
    availability: Availability
    session: Session
    insertions: int
    card_job: CardJob | None
    chart: Any  # kiosk.machine.Chart: the table, for a state's declared timers

    @property
    def state(self) -> str: ...
    def fire(self, trigger: StrEnum) -> bool: ...
    def offer(self, trigger: StrEnum) -> bool: ...
    def run(self, progress: Progress, session: str, on_backend: Callable[[BackendOp, Any], None]) -> None: ...
    def services_changed(self) -> None: ...


class Flow:
    """A service, or one of the kiosk's own parts (boot, home, the end of a session)."""

    CHART: ClassVar[ChartPart]
    SERVICE: ClassVar[Service | None] = None
    NEEDS: ClassVar[Needs | None] = None
    SCREENS: ClassVar[dict[str, ScreenFn]] = {}

    def __init__(self, core: Core) -> None:
        self.core = core
        # The flow's reading of the ID card (kiosk/flows/id_card_step.py), if it serves a person by it.
        self.id_card: Any = None

    # --- what every service does the same way ---------------------------------------------------

    def enter_service(self) -> None:
        """The session becomes this service's, once: entering an inner state again starts nothing."""
        s = self.core.session
        if s.service is None and self.SERVICE is not None:
            s.service = self.SERVICE
            self.core.log.emit(LogEvent.SESSION_STARTED, session=s.id, service=self.SERVICE)

    def call_backend(self, op: str, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """A backend call off the main thread; its answer is dropped if the session it was for ended."""
        sid = self.core.session.id

        def back(result: Any) -> None:
            if self.core.session.id == sid:
                then(result)

        self.core.runtime.call(op, fn, sid, then=back)

    def backend_failed(self, result: Any) -> bool:
        """The backend did not answer (or not in its contract's terms): the fault screen."""
        if isinstance(result, BackendFailure):
            self.core.session.fault_device = DeviceKind.BACKEND.value
            self.core.fire(Trigger.FAULTED)
            return True
        return False

    def enter_read_id(self) -> None:
        self.id_card.enter()

    def exit_read_id(self) -> None:
        self.id_card.exit()

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        """Event type → handler, while the kiosk is in one of this flow's states."""
        return {}

    def on_key(self, key: str) -> None:
        """A keypad key ("0".."9", "del") on one of this flow's screens; TAP_KEY fires after."""

    def on_choice(self, choice: str) -> None:
        """A `choice.<value>` button on one of this flow's screens; TAP_CHOICE fires after."""

    def on_status(self, device: Any) -> bool:
        """A device's status changed while in this flow; True when the flow took it."""
        return False

    def on_status_anywhere(self, device: Any) -> bool:
        """A device's status changed, whichever flow owns the state (asked of every flow first):
        True when this flow took it (diagnostics: a technician card pushed in at rest)."""
        return False

    def on_tap(self, target: str) -> bool:
        """A touch on one of this flow's own buttons (not a shared trigger); True when taken."""
        return False
