"""The kiosk's core: it only routes. Events to the flow that owns the current state (or to the
card job moving the card), timers to the triggers the table declares, touches to triggers,
and the state and session to the view. Services live in kiosk/flows/, procedures in
kiosk/issuance.py, kiosk/rewriting.py and kiosk/recovery_run.py, the runtime in
kiosk/runtime.py, what is offered in kiosk/availability.py. Nothing here blocks or draws.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from devices.events import (
    ChipCardPresent,
    ChipResult,
    DeviceLogged,
    PrintedCardTaken,
    PrinterOp,
    PrinterResult,
    StatusChanged,
)
from devices.status import DeviceKind, DeviceStatus
from kiosk import chrome, wlt
from kiosk.availability import Availability
from kiosk.chart import Trigger as T
from kiosk.clock import Clock
from kiosk.commands import BackendOp, Progress, send
from kiosk.config import KioskConfig
from kiosk.events import DONE_WORK, BackendReply
from kiosk.flows import FLOWS, chart_parts
from kiosk.flows.base import CardJob, Flow, ScreenFn, Snapshot
from kiosk.flows.buttons import TAPS
from kiosk.flows.ending import Ending
from kiosk.flows.new_permit import NewPermit
from kiosk.intents import Intent, Tap
from kiosk.journal import Journal
from kiosk.journal_health import watch_storage
from kiosk.logevents import EventLog, LogEvent, log_device_note
from kiosk.machine import Chart, InvalidTrigger, build_machine, fire
from kiosk.policy import PolicyPack
from kiosk.ports import Ports
from kiosk.presenter import build_view
from kiosk.reasons import Service
from kiosk.recovery import PrinterFacts
from kiosk.remote import RemoteCommand, carry_out
from kiosk.runtime import Runtime
from kiosk.session import Session, SessionHistory
from kiosk.settle import Call, Settler
from kiosk.view import View

AT_BOOT = ("boot", "self_test", "recovery")


class Kiosk:
    state: str  # set by the machine

    def __init__(self, config: KioskConfig, pack: PolicyPack, clock: Clock, ports: Ports, log: EventLog, *,
                 photo_detector: Any = None, photo_decoder: Any = None, events: queue.Queue[Any] | None = None,
                 journal: Journal | None = None, strict: bool | None = None) -> None:
        self.config, self.pack, self.clock, self.ports, self.log = config, pack, clock, ports, log
        self.journal = journal
        # A trigger the state does not take is a bug: raised in development and tests, logged in production.
        self.strict = config.terminal.mode != "production" if strict is None else strict
        self.runtime = Runtime(clock, log, events)
        self.events = self.runtime.events
        self.session = Session()
        self.card_job: CardJob | None = None
        self.insertions = 0  # chip insertions the encoder reported
        self.warning_until: float | None = None
        self.flows: list[Flow] = [cls(self) for cls in FLOWS]
        # Only the services this terminal is configured for (terminal.services) can ever be offered.
        self.availability = Availability({f.SERVICE: f.NEEDS for f in self.flows if f.SERVICE and f.NEEDS
                                          and f.SERVICE.value in config.terminal.services})
        self.chart = Chart(chart_parts())
        owners: dict[str, Any] = {f.CHART.owner: f for f in self.flows}
        self._new_permit = next(f for f in self.flows if isinstance(f, NewPermit))
        owners["issuing"] = self._new_permit.issuing
        self._new_permit.photo_detector, self._new_permit.photo_decoder = (
            photo_detector, photo_decoder or wlt.photo_decoder(log=log))
        self._ending = next(f for f in self.flows if isinstance(f, Ending))
        self.screens: dict[str, ScreenFn] = {k: v for f in self.flows for k, v in f.SCREENS.items()}
        self._settler = Settler(journal, self._printer_facts, log) if journal is not None else None
        self._offered: tuple[Service, ...] | None = None
        self._entered = ""
        self.machine = build_machine(self, self.chart, owners, after_state_change=self._after_state_change)

    # --- life cycle -----------------------------------------------------------------------

    @property
    def finished(self) -> SessionHistory:
        return self._ending.finished

    def post(self, event: Any) -> None:
        self.runtime.post(event)

    def start(self) -> None:
        self.log.emit(LogEvent.KIOSK_STARTED, terminal=self.config.terminal.id,
                      mode=self.config.terminal.mode, policy=self.pack.city)
        self.fire(T.STARTED)
        self._check_health()

    def stop(self) -> None:
        for port in self.ports.devices():
            port.stop()
        self.runtime.shutdown()
        self.ports.backend.close()
        if self.journal is not None:
            self.journal.close()
        self.log.emit(LogEvent.KIOSK_STOPPED)

    def fire(self, trigger: StrEnum) -> bool:
        return fire(self.machine, self, self.chart, trigger)

    def offer(self, trigger: StrEnum) -> bool:
        """A trigger for whichever state takes it (device changes, a card job's outcome after the
        session moved on); False when the current state does not."""
        return self.chart.accepts(self.state, trigger) and self.fire(trigger)

    def run(self, progress: Progress, session: str, on_backend: Callable[[BackendOp, Any], None]) -> None:
        for command in progress.commands:
            send(command, self.ports, self.runtime, session, self.config.timeouts.device_operation, on_backend)

    # --- the main thread's step -----------------------------------------------------------

    def pump(self, max_wait: float = 0.0) -> int:
        return self.runtime.pump(max_wait, self._guarded(self._dispatch), self._guarded(self._on_timer))

    def is_idle(self) -> bool:
        return self.runtime.is_idle()

    def next_deadline(self) -> float | None:
        return self.runtime.next_deadline()

    def settle_due(self) -> float | None:
        """When the settler next sends the open rows' backend calls again (None: nothing to send)."""
        return self.runtime.timers.get("settle")

    def view(self) -> View:
        s, a = self.session, self.availability
        snap = Snapshot(self.state, s, a.offered(), tuple(d.value for d in a.down()), tuple(a.supply_problems()),
                        self.pack.photo_max_tries, now=self.clock.monotonic(),
                        qr_scanner_up=self.ports.qr_scanner is not None and a.is_up(DeviceKind.QR_SCANNER),
                        installed=tuple(a.needs), terminal=self.config.terminal.id, today=self.clock.today(),
                        card_moving=self.card_job is not None)
        left = None
        if self.warning_until is not None and self._spec().session:
            left = max(0, math.ceil(self.warning_until - self.clock.monotonic()))
        return build_view(snap, self.screens, spec=self.chart.specs.get(self.state), warning_left=left,
                          site=self.config.terminal.site, clock_text=self.clock.now().strftime("%Y-%m-%d %H:%M"),
                          countdown=self.runtime.seconds_left(self.chart.shown_timers(self.state)),
                          config=self.config)

    def handle_intent(self, intent: Intent) -> None:
        if isinstance(intent, Tap):
            self._guarded(self._tap)(intent)

    def _tap(self, intent: Tap) -> None:
        if intent.target not in {b.id for b in self.view().all_buttons() if b.enabled}:
            return  # a stale touch on a button that is no longer there
        if self.warning_until is not None:
            self._clear_warning()
            if intent.target == "cancel":
                self.fire(T.TAP_CANCEL)
            return
        self._touch()
        target = intent.target
        if chrome.is_chrome_tap(target):
            chrome.apply(target, self.state, self.session, self.config, self.log)
        elif target.startswith("service."):
            self.check_storage()  # the disk may have filled since the last look: no half-journaled session
            if not self.availability.offers(Service(target.removeprefix("service."))):
                return
            self.session.chosen = Service(target.removeprefix("service."))
            self.fire(T.TAP_SERVICE)
        elif target.startswith("key."):
            self._owner().on_key(target.removeprefix("key."))
            self.fire(T.TAP_KEY)
        elif target.startswith("choice."):
            self._owner().on_choice(target.removeprefix("choice."))
            self.fire(T.TAP_CHOICE)
        elif target in TAPS:
            self.fire(TAPS[target])
        else:
            self._owner().on_tap(target)

    def _guarded(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(arg: Any) -> None:
            try:
                fn(arg)
            except InvalidTrigger as exc:
                self.log.emit(LogEvent.TRIGGER_REFUSED, state=exc.state, trigger=str(exc.trigger))
                if self.strict:
                    raise

        return run

    # --- timers ---------------------------------------------------------------------------

    def _spec(self) -> Any:
        return self.chart.specs.get(self.state) or self.chart.spec("boot")

    def _on_timer(self, name: str) -> None:
        t = self.config.timeouts
        if name == "idle":
            self.warning_until = self.clock.monotonic() + t.idle_warning
            self.runtime.set_timer("warning", t.idle_warning)
            self.session.screens.append("timeout_warning")
        elif name == "warning":
            self.warning_until = None
            self.offer(T.IDLE_TIMEOUT)
        elif name == "closing":
            self.offer(T.CLOSING_TIMEOUT)
        elif name == "health":
            self._check_health()
        elif name == "settle":
            self._settle()
        elif name == "operation":
            if self.card_job is not None:
                self.card_job.on_operation_timeout()
        else:
            declared = next((tm for tm in self._spec().timers if tm.name == name), None)
            if declared is not None:
                self.offer(declared.trigger)
                return
            for flow in self.flows:
                handler = getattr(flow, "on_timer", None)
                if handler is not None:
                    handler(name)

    def _touch(self) -> None:
        spec = self._spec()
        if spec.session:
            self.runtime.set_timer("idle", self.config.timeouts.idle)
        for tm in spec.timers:
            if tm.name == "menu":
                self.runtime.set_timer(tm.name, getattr(self.config.timeouts, tm.setting))

    def _clear_warning(self) -> None:
        self.warning_until = None
        self.runtime.cancel("warning")
        self._touch()

    def _after_state_change(self) -> None:
        state, rt = self.state, self.runtime
        if state == self._entered:  # an internal transition: only the idle timer starts again
            self._touch()
            return
        old = self.chart.specs.get(self._entered)
        rt.cancel("idle", "warning", "closing", *(tm.name for tm in (old.timers if old else ())))
        self._entered = state
        self.warning_until = None
        self.session.help_open = False  # help explained the step that is over
        self.session.cancel_asked = False  # the question was about the step left
        spec = self._spec()
        for tm in spec.timers:
            rt.set_timer(tm.name, getattr(self.config.timeouts, tm.setting))
        self._touch()
        if spec.closing:
            rt.set_timer("closing", self.config.timeouts.done)
        if spec.checks_health and not rt.armed("health"):
            rt.set_timer("health", self.config.timeouts.health_interval)
        if spec.checks_health:
            self._kick_settler()
        if not self.session.screens or self.session.screens[-1] != state:
            self.session.screens.append(state)
            self.log.emit(LogEvent.STATE_ENTERED, state=state)

    # --- events ---------------------------------------------------------------------------

    def _owner(self) -> Flow:
        owner = self.chart.owner_of_state.get(self.state, "boot")
        return next(f for f in self.flows if f.CHART.owner == owner)

    def _dispatch(self, event: Any) -> None:
        done = DONE_WORK.get(type(event))
        if done is not None:
            self.runtime.pending.discard(done(event))
        job = self.card_job
        if isinstance(event, StatusChanged):
            self._on_status(event.status)
        elif isinstance(event, DeviceLogged):
            log_device_note(self.log, event)
        elif isinstance(event, BackendReply):
            self.runtime.pending.discard(f"backend.{event.op}")
            self.log.emit(LogEvent.BACKEND_CALL_ENDED, session=event.session, op=event.op,
                          disposition=type(event.result).__name__)
            if event.then is not None:
                event.then(event.result)
        elif isinstance(event, PrinterResult):
            if event.op is not PrinterOp.STATUS:
                self.runtime.pending.discard("printer")
                self.runtime.cancel("operation")
                if job is not None:
                    job.on_printer(event)
        elif isinstance(event, ChipResult):
            self.runtime.pending.discard("encoder")
            self.runtime.cancel("operation")
            if job is not None:
                job.on_chip(event)
        elif isinstance(event, ChipCardPresent):
            self.insertions = max(self.insertions + 1, event.insertion)
            if job is not None:
                job.on_chip_present(self.insertions)
        elif isinstance(event, PrintedCardTaken):
            if job is not None:
                job.on_taken()
        elif isinstance(event, RemoteCommand):  # from the fleet link (fleet/link.py)
            carry_out(self, event)
        else:
            handler = self._owner().handlers().get(type(event))
            if handler is not None:
                handler(event)

    def _on_status(self, st: DeviceStatus) -> None:
        self.availability.update(st)
        self.log.emit(LogEvent.DEVICE_STATUS, device=st.device, state=st.state, media=st.media, detail=st.detail,
                      supplies=",".join(f"{p.name}={p.level}:{p.count}" for p in st.supplies))
        self._device_changed(st.device)

    def _device_changed(self, device: DeviceKind) -> None:
        if any(f.on_status_anywhere(device) for f in self.flows):
            return
        if self._owner().on_status(device):
            return
        self.services_changed()
        self.offer(T.DEVICES_CHANGED)
        service = self.session.service
        flow = next((f for f in self.flows if f.SERVICE is service), None) if service is not None else None
        needs = flow.NEEDS if flow is not None else None
        if needs is not None and device in needs.devices and not self.availability.is_up(device) \
                and self._spec().session and self.chart.accepts(self.state, T.DEVICE_LOST):
            self.session.fault_device = device.value
            st = self.availability.status.get(device)
            self.log.emit(LogEvent.DEVICE_FAULT, session=self.session.id, device=device,
                          error=st.detail if st is not None and st.detail else "down")
            self.fire(T.DEVICE_LOST)

    def services_changed(self) -> None:
        offered = self.availability.offered()
        if offered != self._offered:
            self._offered = offered
            unavailable = [f"{s.value}:{'+'.join(self.availability.problems(s))}"
                           for s in self.availability.needs if s not in offered]
            self.log.emit(LogEvent.SERVICES_CHANGED, available=",".join(s.value for s in offered),
                          unavailable=",".join(unavailable))

    # --- the backend's health and open rows --------------------------------------------------

    def _check_health(self) -> None:
        self.check_storage()
        if "backend.health" not in self.runtime.pending:
            self.runtime.call("health", self.ports.backend.health, "", then=self._health)
        if self._spec().checks_health:
            self.runtime.set_timer("health", self.config.timeouts.health_interval)

    def check_storage(self) -> None:
        """The journal's disk, read with the backend's health (kiosk/journal_health.py; issue 15)."""
        if self.journal is not None and watch_storage(self.journal.path, self.availability, self.log):
            self.services_changed()
            self.offer(T.DEVICES_CHANGED)

    def _health(self, result: Any) -> None:
        up = bool(result)
        if self.availability.set_backend(up):
            self._device_changed(DeviceKind.BACKEND)
            if up:
                self._kick_settler(now=True)
        elif self.state == "self_test":
            self._owner().on_status(DeviceKind.BACKEND)

    def _printer_facts(self) -> PrinterFacts | None:
        return PrinterFacts.from_status(p) if (p := self.availability.status.get(DeviceKind.PRINTER)) else None

    def _kick_settler(self, now: bool = False) -> None:
        settler = self._settler
        if settler is None or self.state in AT_BOOT or self.runtime.armed("settle"):
            return
        busy = self.card_job.busy_row if self.card_job is not None else None
        if settler.waiting(busy):
            self.runtime.set_timer("settle", 0.0 if now else settler.delay)

    def _settle(self) -> None:
        settler = self._settler
        if settler is None or self.state in AT_BOOT:
            return
        busy = self.card_job.busy_row if self.card_job is not None else None
        for call in settler.due(busy, applying="backend.apply" in self.runtime.pending):
            self.run(Progress((call.command,)), "", self._answer_for(call))

    def _answer_for(self, call: Call) -> Callable[[BackendOp, Any], None]:
        return lambda op, result: self._settled(call, result)

    def _settled(self, call: Call, result: Any) -> None:
        assert self._settler is not None
        self._settler.answered(call, result)
        self._kick_settler()
