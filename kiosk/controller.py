"""The kiosk's core loop step: events in, one machine transition at a time, commands out.

`Kiosk` is the model of the transition table in kiosk/machine.py: its guards ask
kiosk/policy.py, its callbacks command ports, and results of anything slow (devices,
backend, photo analysis, card-face rendering) come back as events on one queue that the
main thread drains in `pump`. Nothing here blocks on I/O or draws.
"""

from __future__ import annotations

import queue
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devices.events import (
    CameraError,
    CameraFailed,
    ChipCardPresent,
    ChipCardRemoved,
    ChipError,
    ChipOp,
    ChipResult,
    IdCardRead,
    IdReaderError,
    IdReadFailed,
    PhotoCaptured,
    PrintedCardTaken,
    PrinterOp,
    PrinterResult,
    StatusChanged,
)
from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition
from kiosk import backend as bk
from kiosk import cardface, wlt
from kiosk import photo as photo_checks
from kiosk.clock import Clock
from kiosk.config import KioskConfig
from kiosk.endorsement import Rewrite, rewrite_decision
from kiosk.events import BackendReply, FaceRendered, PhotoAnalysed, WorkFailed
from kiosk.idcard import CardDataError, card_type_of, parse_card
from kiosk.identity import CardType, Identity
from kiosk.intents import Intent, Quit, Tap
from kiosk.issuance import PRINTER_OP, PRINTER_STEPS, Issuance, IssuanceStep, build_card_face, render_face, same_chip
from kiosk.journal import Final, Journal, JournalRow, Kind, Step
from kiosk.logevents import EventLog, LogEvent
from kiosk.machine import CLOSING, SESSION_WAITING, WAITING, build_machine
from kiosk.policy import NEW_PERMIT_ORDER, PolicyPack, Refusal, first_refusal, id_card_refusals, is_large_text
from kiosk.ports import Ports
from kiosk.presenter import build_view
from kiosk.reasons import Outcome, Reason, Service
from kiosk.recovery import Action, ActionKind, CardPlace, PrinterFacts, RecoveryPlan, plan, plan_stray_card
from kiosk.rewriting import (
    PRINTER_OPS,
    READ_PHASE,
    REWRITE_PHASE,
    VERIFY_PHASE,
    CardRewrite,
    RewriteStep,
    validity_face,
)
from kiosk.session import Session, SessionSummary
from kiosk.view import View

# DESIGN.md, Devices: what each service needs to be offered.
REQUIRES: dict[Service, tuple[DeviceKind, ...]] = {
    Service.NEW_PERMIT: (DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PRINTER, DeviceKind.PERMIT_CARD,
                         DeviceKind.BACKEND),
    Service.CARD_REWRITE: (DeviceKind.PRINTER, DeviceKind.PERMIT_CARD, DeviceKind.BACKEND),
}
PHONE = re.compile(r"^1[3-9]\d{9}$")
TAPS: dict[str, str] = {
    "start": "tap_start",
    "back": "tap_back",
    "confirm": "tap_confirm",
    "cancel": "tap_cancel",
    "capture": "tap_capture",
    "answer.yes": "tap_answer_yes",
    "answer.no": "tap_answer_no",
}


class Kiosk:
    state: str  # set by the machine

    def __init__(
        self,
        config: KioskConfig,
        pack: PolicyPack,
        clock: Clock,
        ports: Ports,
        log: EventLog,
        *,
        photo_detector: Any = None,
        photo_decoder: Any = None,
        events: queue.Queue[Any] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.config = config
        self.pack = pack
        self.clock = clock
        self.ports = ports
        self.log = log
        self.photo_detector = photo_detector
        self.journal = journal
        # The stand-in decodes in well under a millisecond; a vendor library would go to the pool.
        self.photo_decoder = photo_decoder if photo_decoder is not None else wlt.photo_decoder()
        # Adapters are built before the kiosk with this queue's put as their sink.
        self.events: queue.Queue[Any] = events if events is not None else queue.Queue()
        self.session = Session()
        self.status: dict[DeviceKind, DeviceStatus] = {}
        self.backend_up: bool | None = None
        self.timers: dict[str, float] = {}
        self.pending: set[str] = set()
        self.warning_until: float | None = None
        self.finished: list[SessionSummary] = []
        self.issuance: Issuance | None = None
        self._recovery: deque[tuple[RecoveryPlan, Action]] = deque()
        self.rewrite: CardRewrite | None = None
        self._next_photo_request = 1
        self._offered: tuple[str, ...] | None = None
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kiosk-work")
        self.machine = build_machine(self)

    # --- life cycle -----------------------------------------------------------------------

    def post(self, event: Any) -> None:
        """The one sink every adapter and worker posts to; safe from any thread."""
        self.events.put(event)

    def start(self) -> None:
        self.log.emit(LogEvent.KIOSK_STARTED, terminal=self.config.terminal.id,
                      mode=self.config.terminal.mode, policy=self.pack.city)
        self.fire("started")

    def stop(self) -> None:
        for port in (self.ports.id_reader, self.ports.printer, self.ports.encoder, self.ports.camera):
            port.stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.ports.backend.close()
        if self.journal is not None:
            self.journal.close()
        self.log.emit(LogEvent.KIOSK_STOPPED)

    def fire(self, name: str) -> bool:
        """One trigger of the transition table; an event the current state does not take is ignored."""
        return bool(self.machine.trigger_event(self, name))

    # --- the main thread's step -----------------------------------------------------------

    def pump(self, max_wait: float = 0.0) -> int:
        """Wait up to `max_wait` real seconds for an event, then handle all queued events and due timers."""
        handled = 0
        wait = max_wait
        deadline = self.next_deadline()
        if deadline is not None:
            wait = max(0.0, min(wait, deadline - self.clock.monotonic()))
        try:
            event = self.events.get(timeout=wait) if wait > 0 else self.events.get_nowait()
        except queue.Empty:
            event = None
        while event is not None:
            self._dispatch(event)
            handled += 1
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                event = None
        handled += self._fire_due_timers()
        return handled

    def is_idle(self) -> bool:
        """Nothing in flight that a device or the backend will answer."""
        return not self.pending and self.events.empty()

    def next_deadline(self) -> float | None:
        return min(self.timers.values()) if self.timers else None

    def view(self) -> View:
        return build_view(self)

    def handle_intent(self, intent: Intent) -> None:
        if isinstance(intent, Quit):
            return
        if not isinstance(intent, Tap):
            return
        view = self.view()
        if intent.target not in {b.id for b in view.all_buttons() if b.enabled}:
            return  # a stale touch on a button that is no longer there
        if self.warning_until is not None:
            self._clear_warning()
            if intent.target == "cancel":
                self.fire("tap_cancel")
            return
        self._touch()
        target = intent.target
        if target.startswith("service."):
            self.fire("tap_" + target.replace(".", "_"))
        elif target.startswith("key."):
            self._key(target.removeprefix("key."))
            self.fire("tap_key")
        elif target in TAPS:
            self.fire(TAPS[target])

    # --- timers ---------------------------------------------------------------------------

    def _set_timer(self, name: str, seconds: float) -> None:
        self.timers[name] = self.clock.monotonic() + seconds

    def _fire_due_timers(self) -> int:
        fired = 0
        now = self.clock.monotonic()
        for name, due in sorted(self.timers.items(), key=lambda kv: kv[1]):
            if due <= now and self.timers.get(name) == due:
                del self.timers[name]
                self._on_timer(name)
                fired += 1
        return fired

    def _on_timer(self, name: str) -> None:
        t = self.config.timeouts
        if name == "idle":
            self.warning_until = self.clock.monotonic() + t.idle_warning
            self._set_timer("warning", t.idle_warning)
            self.session.screens.append("timeout_warning")
        elif name == "warning":
            self.warning_until = None
            self.fire("idle_timeout")
        elif name == "menu":
            self.fire("menu_timeout")
        elif name == "closing":
            self.fire("closing_timeout")
        elif name == "goodbye":
            self.fire("goodbye_done")
        elif name == "take_card":
            if self.state == "recovery" and self._recovery:
                self._recovery_not_taken()
            else:
                self.fire("take_timeout")
        elif name == "self_test":
            self.pending.discard("self_test")
            self.fire("self_test_done")
        elif name == "health":
            self._check_health()
        elif name == "operation":
            self._issuing_failed("printer", "no_result")

    def _touch(self) -> None:
        if self.state in SESSION_WAITING:
            self._set_timer("idle", self.config.timeouts.idle)
        elif self.state == "ready.menu":
            self._set_timer("menu", self.config.timeouts.idle)

    def _clear_warning(self) -> None:
        self.warning_until = None
        self.timers.pop("warning", None)
        self._touch()

    def _after_state_change(self) -> None:
        for name in ("idle", "warning", "menu", "closing"):
            self.timers.pop(name, None)
        self.warning_until = None
        self._touch()
        if self.state in CLOSING:
            self._set_timer("closing", self.config.timeouts.done)
        if not self.session.screens or self.session.screens[-1] != self.state:  # internal transitions stay put
            self.session.screens.append(self.state)
            self.log.emit(LogEvent.STATE_ENTERED, state=self.state)

    # --- events ---------------------------------------------------------------------------

    def _dispatch(self, event: Any) -> None:
        handler: Callable[[Any], None] | None = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _current(self, session: str) -> bool:
        return session == self.session.id

    def _on_StatusChanged(self, event: StatusChanged) -> None:
        st = event.status
        self.status[st.device] = st
        self.log.emit(LogEvent.DEVICE_STATUS, device=st.device, state=st.state, media=st.media, detail=st.detail)
        self._status_changed(st.device)

    def _status_changed(self, device: DeviceKind) -> None:
        if device is DeviceKind.PRINTER and self.state == "card_rewrite.insert_card":
            st = self.status[device]
            if st.media is MediaPosition.ENTERING:  # a card waits at the front slot
                self.fire("card_inserted")
                return
        if self.state == "self_test":
            self._maybe_self_test_done()
            return
        self._note_offer()
        self.fire("devices_changed")
        service = self.session.service
        lost = service is not None and device in REQUIRES[service] and not self._is_up(device)
        if lost and self.state in SESSION_WAITING:
            self.session.fault_device = device.value
            self.log.emit(LogEvent.DEVICE_FAULT, session=self.session.id, device=device,
                          error=self.status[device].detail if device in self.status else "down")
            self.fire("device_lost")

    def _on_IdCardRead(self, event: IdCardRead) -> None:
        if self.state != "new_permit.read_id":
            return
        try:
            identity = parse_card(event.text, event.photo)
        except CardDataError:
            card_type = card_type_of(event.text)
            self.log.emit(LogEvent.ID_READ_FAILED, session=self.session.id, error="unparsable")
            if card_type is CardType.CITIZEN:
                self.session.read_error = "unknown_card"
                return
            # SH-PMT-6: the marker alone decides; a field we cannot parse must not hide the reason.
            identity = Identity(card_type, "", None, "", None, "", "", "", None, None)
        self.session.identity = identity
        self.session.id_photo = wlt.decode_photo(identity.photo, self.photo_decoder)
        self.session.read_error = None
        self.session.large_text = is_large_text(identity.birth, self.clock.today(), self.pack)
        self.log.emit(LogEvent.ID_CARD_READ, session=self.session.id, card_type=identity.card_type,
                      masked_id=identity.masked_id)
        self._touch()
        self.fire("id_read")

    def _on_IdReadFailed(self, event: IdReadFailed) -> None:
        if self.state != "new_permit.read_id":
            return
        errors = {
            IdReaderError.NO_CARD: None,
            IdReaderError.READ_FAILED: "read_failed",
            IdReaderError.UNKNOWN_CARD: "unknown_card",
        }
        self.session.read_error = errors.get(event.error, "reader_fault")
        if event.error is not IdReaderError.NO_CARD:
            self.log.emit(LogEvent.ID_READ_FAILED, session=self.session.id, error=event.error)

    def _on_BackendReply(self, event: BackendReply) -> None:
        self.pending.discard(f"backend.{event.op}")
        disposition = type(event.result).__name__
        self.log.emit(LogEvent.BACKEND_CALL_ENDED, session=event.session, op=event.op, disposition=disposition)
        if event.then is not None:
            event.then(event.result)
        if event.op == "health":
            up = bool(event.result)
            if up != self.backend_up:
                self.backend_up = up
                self.status[DeviceKind.BACKEND] = DeviceStatus(
                    DeviceKind.BACKEND, DeviceState.ONLINE if up else DeviceState.OFFLINE)
                self._status_changed(DeviceKind.BACKEND)
            elif self.state == "self_test":
                self._maybe_self_test_done()
            return
        if not self._current(event.session):
            return  # the session this answered has ended
        self.session.last_reply = event.result
        if event.op == "precheck":
            if isinstance(event.result, bk.Precheck):
                self.session.record_refusals = tuple(event.result.refusals)
                self.session.registered_address = event.result.registered_address
            self.fire("precheck_done")
        elif event.op == "face_check":
            if isinstance(event.result, bk.FaceCheck):
                self.session.face_match = event.result.match
            self.fire("face_checked")
        elif event.op == "apply":
            if isinstance(event.result, bk.Approval):
                self.session.grant = event.result.permit
            elif isinstance(event.result, Refusal):
                self.session.refusal = event.result
            self.fire("applied")

    def _on_PhotoCaptured(self, event: PhotoCaptured) -> None:
        self.pending.discard("camera")
        if event.request_id != self.session.photo_request or self.state != "new_permit.photo":
            return
        session = self.session.id
        detector = self.photo_detector

        def analyse() -> Any:
            kwargs = {"detector": detector} if detector is not None else {}
            check = photo_checks.check_photo(event.width, event.height, event.rgb, **kwargs)
            if check.problem is not None or check.face_box is None:
                problem = check.problem.value if check.problem is not None else "no_face"
                return PhotoAnalysed(session, event.request_id, problem, None)
            portrait = photo_checks.portrait(event.width, event.height, event.rgb, check.face_box)
            return PhotoAnalysed(session, event.request_id, None, portrait, photo_checks.to_png(portrait))

        self._work("photo", session, analyse)

    def _on_CameraFailed(self, event: CameraFailed) -> None:
        self.pending.discard("camera")
        if event.request_id != self.session.photo_request or self.state != "new_permit.photo":
            return
        if event.error is CameraError.NO_DEVICE:
            self.session.fault_device = DeviceKind.CAMERA.value
            self.fire("device_lost")
            return
        self.post(PhotoAnalysed(self.session.id, event.request_id, "camera", None))

    def _on_PhotoAnalysed(self, event: PhotoAnalysed) -> None:
        self.pending.discard("work.photo")
        if not self._current(event.session) or event.request_id != self.session.photo_request:
            return
        s = self.session
        s.photo_request = None
        s.photo_problem = event.problem
        if event.problem is None:
            s.portrait = event.portrait
            s.portrait_png = event.png
        self.log.emit(LogEvent.PHOTO_CHECKED, session=s.id, attempt=s.photo_attempts, problem=event.problem)
        self.fire("photo_checked")

    def _on_FaceRendered(self, event: FaceRendered) -> None:
        self.pending.discard("work.face")
        if not self._current(event.session) or self.issuance is None:
            return
        self.issuance.face_ready(event)
        self._issuance_advance()

    def _on_WorkFailed(self, event: WorkFailed) -> None:
        self.pending.discard(f"work.{event.what}")
        if not self._current(event.session):
            return
        if event.what == "face":
            self._issuing_failed("printer", "render_failed")
        elif event.what == "photo" and self.state == "new_permit.photo":
            self.session.photo_request = None
            self.session.photo_problem = "camera"
            self.fire("photo_checked")

    def _on_PrinterResult(self, event: PrinterResult) -> None:
        if self.state == "recovery" and self._recovery:
            if event.op is PrinterOp.RETRACT:
                self._recovery_retracted(event.ok)
            elif event.op is PrinterOp.PRESENT:
                if event.ok:
                    self._set_timer("take_card", self.config.timeouts.take_card)
                else:
                    rplan, action = self._recovery[0]
                    self._recovery_stuck(rplan, action, "present_failed")
            return
        if self.rewrite is not None:
            self._rewrite_printer_result(event)
            return
        issuance = self.issuance
        if issuance is None or event.op is PrinterOp.STATUS:
            return
        in_flight = issuance.in_flight
        expected = PRINTER_OP.get(in_flight) if in_flight is not None else None
        if event.op is not PrinterOp.RETRACT and event.op is not expected:
            return  # not the answer to the step in flight
        self.pending.discard("printer")
        self.timers.pop("operation", None)
        self.log.emit(LogEvent.ISSUANCE_STEP, session=self.session.id, step=event.op,
                      disposition="ok" if event.ok else str(event.error))
        if event.op is PrinterOp.RETRACT:
            issuance.retracted(event.ok)
            self.session.card_retained = True
            self.session.card_inside = False
            self._finish_failed_issuance()
            return
        assert in_flight is not None
        if not event.ok:
            issuance.failed(in_flight, event.error)
            self._issuing_failed("printer", str(event.error))
            return
        issuance.step_done(in_flight)
        self.session.card_inside = issuance.card_inside
        if in_flight is IssuanceStep.PRESENT:
            self.fire("card_presented")
            return
        self._issuance_advance()

    def _on_ChipResult(self, event: ChipResult) -> None:
        if self.rewrite is not None:
            self._rewrite_chip_result(event)
            return
        issuance = self.issuance
        want = {IssuanceStep.ENCODE: ChipOp.PERSONALISE, IssuanceStep.VERIFY: ChipOp.READ}
        if issuance is None or issuance.in_flight not in want or event.op is not want[issuance.in_flight]:
            return
        step = issuance.in_flight
        self.pending.discard("encoder")
        self.timers.pop("operation", None)
        self.log.emit(LogEvent.ISSUANCE_STEP, session=self.session.id, step=step,
                      disposition="ok" if event.ok else str(event.error))
        if not event.ok:
            issuance.failed(step, event.error)
            self._issuing_failed("permit_card", str(event.error))
            return
        data: Any = event.data
        if step is IssuanceStep.ENCODE:
            issuance.step_done(step, card_serial=data.card.serial)
        elif issuance.chip is not None and same_chip(issuance.chip, data.contents):
            issuance.step_done(step)
        else:
            issuance.failed(step, None)
            self._issuing_failed("permit_card", "verify_mismatch")
            return
        self._issuance_advance()

    def _on_ChipCardRemoved(self, event: ChipCardRemoved) -> None:
        if self.rewrite is not None:
            self._rewrite_advance()

    def _on_ChipCardPresent(self, event: ChipCardPresent) -> None:
        if self.state == "new_permit.issuing":
            self._issuance_advance()
        elif self.rewrite is not None:
            self._rewrite_advance()

    def _on_PrintedCardTaken(self, event: PrintedCardTaken) -> None:
        if self.state == "recovery" and self._recovery:
            rplan, action = self._recovery[0]
            if action.kind is ActionKind.RETURN_CARD and rplan.row_id is not None and action.step is not None:
                self.timers.pop("take_card", None)
                assert self.journal is not None
                self.journal.step_done(rplan.row_id, action.step)
                self._recovered_action(rplan, action, "ok")
                self._recover_next()
            return
        if self.rewrite is not None and self.state == "card_rewrite.return_card":
            self.rewrite.taken()
            self.fire("card_returned")
            return
        if self.issuance is None:
            return
        self.issuance.taken()
        self.session.card_inside = False
        self.fire("card_taken")

    # --- guards (named predicates; the rules themselves are in kiosk/policy.py) ------------

    def _is_up(self, device: DeviceKind) -> bool:
        if device is DeviceKind.BACKEND:
            return bool(self.backend_up)
        st = self.status.get(device)
        return st is not None and st.is_up

    def service_available(self, service: Service) -> bool:
        return all(self._is_up(d) for d in REQUIRES.get(service, (DeviceKind.BACKEND, DeviceKind.ID_READER))) \
            and service in REQUIRES

    def any_service_available(self) -> bool:
        return any(self.service_available(s) for s in REQUIRES)

    def new_permit_available(self) -> bool:
        return self.service_available(Service.NEW_PERMIT)

    def card_rewrite_available(self) -> bool:
        return self.service_available(Service.CARD_REWRITE)

    def rewrite_due(self) -> bool:
        return self.rewrite is not None and isinstance(self.rewrite.decision, Rewrite)

    def card_was_rewritten(self) -> bool:
        return self.rewrite is not None and self.rewrite.rewritten

    def card_was_unusable(self) -> bool:
        return self.session.rewrite_error is not None

    def rewrite_faulted(self) -> bool:
        return self.session.fault_device is not None

    def id_card_refused(self) -> bool:
        assert self.session.identity is not None
        refusal = first_refusal(id_card_refusals(self.session.identity, self.clock.today(), self.pack))
        self.session.refusal = refusal
        return refusal is not None

    def backend_failed(self) -> bool:
        if isinstance(self.session.last_reply, bk.BackendFailure):
            self.session.fault_device = DeviceKind.BACKEND.value
            return True
        return False

    def refused_before_address(self) -> bool:
        limit = NEW_PERMIT_ORDER.index(Reason.ADDRESS_CHANGED)
        early = [r for r in self.session.record_refusals if NEW_PERMIT_ORDER.index(r.reason) < limit]
        self.session.refusal = first_refusal(early)
        return self.session.refusal is not None

    def refused_after_address(self) -> bool:
        self.session.lives_there = True
        self.session.refusal = first_refusal(list(self.session.record_refusals))
        return self.session.refusal is not None

    def photo_pending(self) -> bool:
        return self.session.photo_request is not None

    def photo_usable(self) -> bool:
        return self.session.photo_problem is None and self.session.portrait is not None

    def photo_attempts_exhausted(self) -> bool:
        if self.session.photo_attempts >= self.pack.photo_max_tries:
            self.session.refusal = Refusal(Reason.PHOTO_QUALITY)
            return True
        return False

    def face_matches(self) -> bool:
        return bool(self.session.face_match)

    def phone_valid(self) -> bool:
        return bool(PHONE.match(self.session.phone))

    def approved(self) -> bool:
        return self.session.grant is not None

    # --- callbacks: commands through ports ---------------------------------------------------

    def enter_self_test(self) -> None:
        self.pending.add("self_test")
        for port in (self.ports.id_reader, self.ports.printer, self.ports.encoder, self.ports.camera):
            port.start()
        self._set_timer("self_test", self.config.timeouts.self_test)
        self._check_health()

    def _maybe_self_test_done(self) -> None:
        needed = (DeviceKind.ID_READER, DeviceKind.PRINTER, DeviceKind.PERMIT_CARD, DeviceKind.CAMERA)
        if all(d in self.status for d in needed) and self.backend_up is not None:
            self.timers.pop("self_test", None)
            self.pending.discard("self_test")
            self.fire("self_test_done")

    # --- recovery: unfinished journal rows are resolved before anyone is served -------------------

    def recovery_needed(self) -> bool:
        return self.journal is not None and bool(self.journal.unfinished())

    def enter_recovery(self) -> None:
        if self.journal is None:
            self.fire("recovered")
            return
        rows = self.journal.unfinished()
        printer = self.status.get(DeviceKind.PRINTER)
        facts = PrinterFacts.from_status(printer) if printer is not None else None
        if facts is None:
            if rows:
                # Without the printer's sensors nothing may be planned: a card could still be inside.
                self.log.emit(LogEvent.RECOVERY_ENDED, disposition="printer_silent")
                self.fire("recovery_blocked")
            else:
                self.fire("recovered")
            return
        plans = [plan(r, facts if r.card_in_play else PrinterFacts(CardPlace.NONE), None) for r in rows]
        stray = plan_stray_card(rows, facts)
        if stray is not None:
            plans.append(stray)
        if not plans:
            self.fire("recovered")
            return
        self.log.emit(LogEvent.RECOVERY_STARTED, rows=len(rows), printer_card=facts.card)
        self._recovery = deque((p, a) for p in plans for a in p.actions)
        self.pending.add("recovery")
        self._recover_next()

    def _recover_next(self) -> None:
        journal = self.journal
        assert journal is not None
        while self._recovery:
            rplan, action = self._recovery[0]
            row_id = rplan.row_id
            if action.kind in (ActionKind.RECORD, ActionKind.MARK_FINAL):
                if row_id is not None:
                    if action.kind is ActionKind.RECORD and action.step is not None:
                        journal.record(row_id, action.step)
                    elif action.final is not None:
                        journal.finish(row_id, action.final)
                self._recovered_action(rplan, action, "ok")
                continue
            if action.kind is ActionKind.RETRACT_TO_BIN:
                if row_id is not None:
                    journal.step_started(row_id, Step.RETRACTED)
                self.ports.printer.retract()
                return
            if action.kind in (ActionKind.CONFIRM_ISSUANCE, ActionKind.VOID_APPROVAL) and row_id is not None:
                step = Step.CONFIRMED if action.kind is ActionKind.CONFIRM_ISSUANCE else Step.VOIDED
                row = journal.get(row_id)
                journal.step_started(row_id, step)
                if row.kind is Kind.REWRITE and step is Step.VOIDED:
                    # Nothing of a rewrite reaches the backend before its confirmation: the void is ours.
                    journal.step_done(row_id, step)
                    self._recovered_action(rplan, action, "ok")
                    continue
                self._recovery_call(row, step)
                return
            if action.kind is ActionKind.RETURN_CARD and row_id is not None and action.step is not None:
                # A rewrite's card goes back to the resident, who may still be waiting; if nobody takes
                # it, the take-card timer retracts it and the row is planned again.
                journal.step_started(row_id, action.step)
                self.ports.printer.present()
                return
            self._recovery_stuck(rplan, action, "unsupported")
            return
        self.pending.discard("recovery")
        self.log.emit(LogEvent.RECOVERY_ENDED, disposition="resolved")
        self.fire("recovered")

    def _recovery_call(self, row: JournalRow, step: Step) -> None:
        """The session's own request ids: a call that reached the backend before the cut replays."""
        backend = self.ports.backend
        if row.kind is Kind.REWRITE:
            rid = f"{row.request_id}-rewrite_confirm"
            if row.valid_from is None or row.valid_until is None or row.card_serial is None:
                self._recovery_backend(bk.BackendFailure(bk.FailureKind.BAD_REPLY))
                return
            decision = Rewrite(row.valid_from, row.valid_until)
            self._call("rewrite_confirm",
                       lambda: backend.confirm_rewrite(rid, row.permit_number, row.card_serial, decision),
                       session="", then=self._recovery_backend)
            return
        if step is Step.CONFIRMED:
            rid = f"{row.request_id}-confirm"
            self._call("confirm", lambda: backend.confirm_issuance(rid, row.permit_number, row.card_serial),
                       session="", then=self._recovery_backend)
        else:
            rid = f"{row.request_id}-void"
            self._call("void", lambda: backend.void_issuance(rid, row.permit_number, Reason.DEVICE_FAULT),
                       session="", then=self._recovery_backend)

    def _recovered_action(self, rplan: RecoveryPlan, action: Action, disposition: str) -> None:
        self._recovery.popleft()
        self.log.emit(LogEvent.RECOVERY_ACTION, row=rplan.row_id or 0, rule=rplan.rule, action=action.kind,
                      disposition=disposition)

    def _recovery_stuck(self, rplan: RecoveryPlan, action: Action, disposition: str) -> None:
        self.log.emit(LogEvent.RECOVERY_ACTION, row=rplan.row_id or 0, rule=rplan.rule, action=action.kind,
                      disposition=disposition)
        self._recovery.clear()
        self.pending.discard("recovery")
        self.log.emit(LogEvent.RECOVERY_ENDED, disposition="blocked")
        self.fire("recovery_blocked")

    def _recovery_not_taken(self) -> None:
        """Nobody took the returned card: retract it, then plan the row again from what is now true."""
        rplan, action = self._recovery[0]
        self.log.emit(LogEvent.RECOVERY_ACTION, row=rplan.row_id or 0, rule=rplan.rule, action=action.kind,
                      disposition="not_taken")
        self._recovery.clear()
        retract = Action(ActionKind.RETRACT_TO_BIN, Step.RETRACTED)
        self._recovery.append((RecoveryPlan(rplan.row_id, "not_taken", (retract,)), retract))
        if rplan.row_id is not None and self.journal is not None:
            self.journal.step_started(rplan.row_id, Step.RETRACTED)
        self.ports.printer.retract()

    def _recovery_retracted(self, ok: bool) -> None:
        rplan, action = self._recovery[0]
        if not ok:  # a jammed card: a technician's work; the row stays open and counts the attempt
            self._recovery_stuck(rplan, action, "retract_failed")
            return
        if rplan.row_id is not None and self.journal is not None:
            self.journal.step_done(rplan.row_id, Step.RETRACTED)
        self._recovered_action(rplan, action, "ok")
        if rplan.rule == "not_taken":
            self.enter_recovery()  # plan again: the card is in the bin now
            return
        self._recover_next()

    def _recovery_backend(self, result: Any) -> None:
        if not self._recovery or self.state != "recovery":
            return
        rplan, action = self._recovery[0]
        assert self.journal is not None and rplan.row_id is not None
        step = Step.CONFIRMED if action.kind is ActionKind.CONFIRM_ISSUANCE else Step.VOIDED
        answered = isinstance(result, bk.Confirmed | bk.Voided | bk.Rewritten)
        refused = isinstance(result, bk.BackendFailure) and result.kind is bk.FailureKind.REFUSED_REQUEST
        if not (answered or refused):
            self._recovery_stuck(rplan, action, "backend_unavailable")  # retried when the backend returns
            return
        # A refusal means the backend already settled this approval the other way; the card's
        # whereabouts decided the journal, and the log carries the conflict for an operator.
        self.journal.step_done(rplan.row_id, step)
        self._recovered_action(rplan, action, "ok" if answered else "backend_disagrees")
        self._recover_next()

    def enter_out_of_service(self) -> None:
        self._note_offer()
        self._set_timer("health", self.config.timeouts.health_interval)

    def enter_attract(self) -> None:
        self._note_offer()
        self._set_timer("health", self.config.timeouts.health_interval)

    def enter_new_permit(self) -> None:
        if self.session.service is None:
            self.session.service = Service.NEW_PERMIT
            self.log.emit(LogEvent.SESSION_STARTED, session=self.session.id, service=Service.NEW_PERMIT)

    # --- card-face rewrite (SH-END-4) ---------------------------------------------------------------

    def enter_card_rewrite(self) -> None:
        if self.session.service is None:
            self.session.service = Service.CARD_REWRITE
            self.log.emit(LogEvent.SESSION_STARTED, session=self.session.id, service=Service.CARD_REWRITE)

    def enter_insert_card(self) -> None:
        self.rewrite = None
        # A card already waiting at the slot counts as inserted: the next status tells.
        self.ports.printer.refresh_status()

    def enter_read_chip(self) -> None:
        self.session.rewrite_error = None
        self.rewrite = CardRewrite(self.session.id, self.journal)
        self.rewrite.start(READ_PHASE)
        self._rewrite_advance()

    def enter_check_endorsement(self) -> None:
        rw = self.rewrite
        assert rw is not None and rw.chip is not None
        c = rw.chip.contents
        rid = self.session.request_id("endorsement")
        backend = self.ports.backend
        self._call("endorsement",
                   lambda: backend.check_endorsement(rid, c.permit_number, c.id_number, c.validity.valid_until),
                   then=self._endorsement_checked)

    def _endorsement_checked(self, result: Any) -> None:
        rw = self.rewrite
        if rw is None or self.state != "card_rewrite.check_endorsement":
            return
        if isinstance(result, bk.UnknownPermit):
            self.session.rewrite_error = "not_a_permit_card"
            self.fire("card_unusable")
            return
        if not isinstance(result, bk.EndorsementCheck):
            self.session.fault_device = DeviceKind.BACKEND.value
            self.session.end(Outcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.fire("card_unusable")
            return
        mine = rewrite_decision(result.permit.standing, rw.chip.contents.validity.valid_until, self.clock.today(),
                                self.pack)
        if mine != result.decision:
            # The backend is the authority, but a card is not rewritten on a decision the kiosk's own
            # reading of RULES.md does not share: the card goes back and the case to a counter.
            self.log.emit(LogEvent.REFUSED, session=self.session.id, reason="decision_mismatch")
            self.session.fault_device = DeviceKind.BACKEND.value
            self.session.end(Outcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.fire("card_unusable")
            return
        rw.decision = result.decision
        if isinstance(result.decision, Refusal):
            self.session.refusal = result.decision
        self.fire("endorsement_checked")

    def enter_rewrite(self) -> None:
        rw = self.rewrite
        assert rw is not None and isinstance(rw.decision, Rewrite)
        chip = rw.chip
        rw.begin_journal(chip.contents.permit_number, chip.card.serial)
        face = validity_face(chip, self.pack.issuing_authority, rw.decision.valid_from, rw.decision.valid_until)
        area = cardface.AREAS["validity"]
        rw.area = area
        rw.validity_bits = cardface.pack_bits(cardface.render(face, "validity"))
        rw.ticket = {"permit_number": chip.contents.permit_number, "validity": rw.decision.printed}
        rw.start(REWRITE_PHASE)
        self._rewrite_advance()

    def enter_verify(self) -> None:
        assert self.rewrite is not None
        self.rewrite.start(VERIFY_PHASE)
        self._rewrite_advance()

    def enter_return_card(self) -> None:
        rw = self.rewrite
        if rw is None or not rw.card_inside:
            self.fire("card_returned")  # nothing inside to give back
            return
        self._set_timer("take_card", self.config.timeouts.take_card)
        rw.start((RewriteStep.PRESENT,))
        self._rewrite_advance()

    def enter_rewrite_done(self) -> None:
        rw = self.rewrite
        assert rw is not None and isinstance(rw.decision, Rewrite)
        self.session.end(Outcome.CARD_REWRITTEN, Reason.OK)
        rw.confirm_started()
        rid = self.session.request_id("rewrite_confirm")
        number, serial, decision = rw.chip.contents.permit_number, rw.chip.card.serial, rw.decision
        backend = self.ports.backend

        def confirmed(result: Any) -> None:
            if isinstance(result, bk.Rewritten):
                rw.confirmed()

        self._call("rewrite_confirm", lambda: backend.confirm_rewrite(rid, number, serial, decision), then=confirmed)

    def _rewrite_advance(self) -> None:
        rw = self.rewrite
        if rw is None:
            return
        enc = self.status.get(DeviceKind.PERMIT_CARD)
        in_field = enc is not None and enc.media is MediaPosition.PRESENT
        step = rw.next_command(in_field)
        if step is None:
            if rw.awaiting_chip(in_field):
                self.pending.add("encoder.field")
                self._set_timer("operation", self.config.timeouts.device_operation)
            elif rw.phase_done:
                self._rewrite_phase_done()
            return
        self.pending.discard("encoder.field")
        self.pending.add("printer" if step in PRINTER_OPS else "encoder")
        self._set_timer("operation", self.config.timeouts.device_operation)
        self.session.issuing_step = step.value
        rw.sent(step)
        printer, encoder = self.ports.printer, self.ports.encoder
        if step is RewriteStep.TAKE_IN:
            printer.take_in()
        elif step in (RewriteStep.TO_ENCODER, RewriteStep.VERIFY_MOVE):
            printer.to_encoder()
        elif step in (RewriteStep.READ, RewriteStep.VERIFY_READ):
            encoder.read_card()
        elif step is RewriteStep.WRITE_CHIP:
            d = rw.decision
            encoder.write_validity(d.valid_from, d.valid_until, rw.chip.contents.validity.endorsement_count + 1)
        elif step is RewriteStep.ERASE:
            a = rw.area
            printer.erase_area(a.x, a.y, a.width, a.height)
        elif step is RewriteStep.TICKET:
            printer.ticket(rw.ticket)
        elif step is RewriteStep.PRINT:
            a = rw.area
            printer.print_area(a.x, a.y, a.width, a.height, rw.validity_bits)
        elif step is RewriteStep.PRESENT:
            printer.present()

    def _rewrite_phase_done(self) -> None:
        if self.state == "card_rewrite.read_chip":
            self.fire("chip_read")
        elif self.state == "card_rewrite.rewrite":
            self.fire("rewritten")
        elif self.state == "card_rewrite.verify":
            self.fire("verified")

    def _rewrite_printer_result(self, event: PrinterResult) -> None:
        rw = self.rewrite
        assert rw is not None
        if event.op is PrinterOp.STATUS:
            return
        if event.op is PrinterOp.RETRACT:
            self.pending.discard("printer")
            rw.retracted(event.ok)
            self.session.card_retained = True
            rw.close_retained()
            self.fire("rewrite_failed")
            return
        step = rw.in_flight
        if step is None or PRINTER_OPS.get(step) is not event.op:
            return
        self.pending.discard("printer")
        self.timers.pop("operation", None)
        if not event.ok:
            rw.failed()
            self._rewrite_failed("printer", str(event.error))
            return
        rw.done(step)
        if step is RewriteStep.PRESENT:
            return  # now the resident takes it: PrintedCardTaken
        self._rewrite_advance()

    def _rewrite_chip_result(self, event: ChipResult) -> None:
        rw = self.rewrite
        assert rw is not None
        step = rw.in_flight
        want = {RewriteStep.READ: ChipOp.READ, RewriteStep.VERIFY_READ: ChipOp.READ,
                RewriteStep.WRITE_CHIP: ChipOp.WRITE_VALIDITY}
        if step not in want or event.op is not want[step]:
            return
        self.pending.discard("encoder")
        self.timers.pop("operation", None)
        data: Any = event.data
        if step is RewriteStep.READ:
            if not event.ok:
                rw.failed()
                # Not a permit card, or unreadable: give it back and say so (never keep a resident's card
                # that was not touched).
                self.session.rewrite_error = "not_a_permit_card" if event.error in (
                    ChipError.NOT_A_PERMIT_CARD, ChipError.NOT_A_BLANK_CARD) else "unreadable"
                self.fire("card_unusable")
                return
            rw.chip = data
        elif step is RewriteStep.WRITE_CHIP:
            d = rw.decision
            if not event.ok or data is None or (data.valid_from, data.valid_until) != (d.valid_from, d.valid_until):
                rw.failed()
                self._rewrite_failed("permit_card", str(event.error or "verify_mismatch"))
                return
        else:  # VERIFY_READ: the same card, the new validity
            d = rw.decision
            same = (event.ok and data is not None and data.card.serial == rw.chip.card.serial
                    and (data.contents.validity.valid_from, data.contents.validity.valid_until)
                    == (d.valid_from, d.valid_until))
            if not same:
                rw.failed()
                self._rewrite_failed("permit_card", str(event.error or "verify_mismatch"))
                return
        rw.done(step)
        self._rewrite_advance()

    def _rewrite_failed(self, device: str, error: str) -> None:
        """After the chip write began the card may be half rewritten: it is retained, never handed back."""
        rw = self.rewrite
        assert rw is not None
        self.log.emit(LogEvent.DEVICE_FAULT, session=self.session.id, device=device, error=error)
        self.session.fault_device = device
        self.session.end(Outcome.COUNTER_REFERRAL, Reason.DEVICE_FAULT)
        if rw.row_id is not None and rw.card_inside and not rw.retracting:
            rw.retract_started()
            self.pending.add("printer")
            self.ports.printer.retract()
            return
        if rw.card_inside and self.state in ("card_rewrite.read_chip",):
            self.fire("card_unusable")  # nothing was written: the card goes back
            return
        self.fire("rewrite_failed")

    def enter_read_id(self) -> None:
        self.session.read_error = None
        self.ports.id_reader.set_reading(True)

    def exit_read_id(self) -> None:
        self.ports.id_reader.set_reading(False)

    def enter_precheck(self) -> None:
        card = self.session.identity
        rid = self.session.request_id("precheck")
        self._call("precheck", lambda: self.ports.backend.precheck(rid, card))

    def enter_photo(self) -> None:
        if self.session.portrait is not None:  # back from details: a retake starts afresh
            self.session.portrait = None
            self.session.portrait_png = b""
            self.session.photo_attempts = 0
        self.session.photo_problem = None

    def capture_photo(self) -> None:
        s = self.session
        s.photo_attempts += 1
        s.photo_request = self._next_photo_request
        self._next_photo_request += 1
        self.pending.add("camera")
        self.ports.camera.capture(s.photo_request)

    def enter_verify_face(self) -> None:
        card, png = self.session.identity, self.session.portrait_png
        rid = self.session.request_id("face_check")
        self._call("face_check", lambda: self.ports.backend.face_check(rid, card, png))

    def enter_submit(self) -> None:
        s = self.session
        card, phone, png = s.identity, s.phone, s.portrait_png
        rid = s.request_id("apply")
        self._call("apply", lambda: self.ports.backend.apply(rid, card, True, phone, png))

    def enter_issuing(self) -> None:
        s = self.session
        assert s.grant is not None and s.identity is not None
        self.issuance = Issuance.begin(s.grant.number, s.id, self.journal)
        self.log.emit(LogEvent.ISSUANCE_STARTED, session=s.id, permit_number=s.grant.number)
        face = build_card_face(s.grant, s.identity, s.portrait)
        session = s.id
        self._work("face", session, lambda: render_face(session, face))
        self._issuance_advance()

    def _issuance_advance(self) -> None:
        issuance = self.issuance
        if issuance is None or self.state != "new_permit.issuing":
            return
        enc = self.status.get(DeviceKind.PERMIT_CARD)
        in_field = enc is not None and enc.media is MediaPosition.PRESENT
        step = issuance.next_command(chip_in_field=in_field)
        if step is None:
            if issuance.awaiting_chip(in_field):
                # The card is at the encoder and pcscd has yet to see its chip: that is device
                # time, bounded by the operation timer, not a pause in which time may jump.
                self.pending.add("encoder.field")
                self._set_timer("operation", self.config.timeouts.device_operation)
            return
        self.pending.discard("encoder.field")
        self.session.issuing_step = step.value
        self.pending.add("printer" if step in PRINTER_STEPS else "encoder")
        self._set_timer("operation", self.config.timeouts.device_operation)
        issuance.sent(step)  # journaled before the command goes out
        printer = self.ports.printer
        if step is IssuanceStep.FEED:
            printer.feed()
        elif step is IssuanceStep.TICKET:
            printer.ticket(issuance.ticket)
        elif step is IssuanceStep.PRINT:
            printer.print_area(0, 0, issuance.width, issuance.height, issuance.bits)
        elif step is IssuanceStep.TO_ENCODER:
            printer.to_encoder()
        elif step is IssuanceStep.ENCODE:
            assert issuance.chip is not None
            self.ports.encoder.personalise(issuance.chip)
        elif step is IssuanceStep.VERIFY:
            self.ports.encoder.read_card()
        elif step is IssuanceStep.PRESENT:
            printer.present()

    def _issuing_failed(self, device: str, error: str) -> None:
        """A step after the approval failed: retain any card, void the approval, then the fault screen."""
        s = self.session
        self.timers.pop("operation", None)
        self.log.emit(LogEvent.DEVICE_FAULT, session=s.id, device=device, error=error)
        s.fault_device = device
        if self.issuance is not None and self.issuance.card_inside and not self.issuance.retracting:
            self.issuance.retract_started()
            self.pending.add("printer")
            self.ports.printer.retract()
            return
        self._finish_failed_issuance()

    def _finish_failed_issuance(self) -> None:
        issuance = self.issuance
        if issuance is None or issuance.closed:
            return
        issuance.closed = True
        self._void(issuance, Reason.DEVICE_FAULT if self.state != "goodbye" else Reason.TIMEOUT)
        self.log.emit(LogEvent.ISSUANCE_ENDED, session=self.session.id, permit_number=issuance.permit_number,
                      disposition="retained" if self.session.card_retained else "voided")
        self.ports.printer.refresh_status()
        if self.state in ("new_permit.issuing", "new_permit.take_card"):
            self.fire("issuing_failed")

    def _void(self, issuance: Issuance, reason: Reason) -> None:
        # The issuance keeps its session's id: a retract can finish after the session was wiped.
        sid, number = issuance.session_id, issuance.permit_number
        final = Final.RETAINED if issuance.picked else Final.VOIDED
        issuance.backend_started(Step.VOIDED)

        def voided(result: Any) -> None:
            if isinstance(result, bk.Voided):
                issuance.backend_done(Step.VOIDED, final)
            # Otherwise the row stays open: recovery at the next start voids it again (same request id).

        self._call("void", lambda: self.ports.backend.void_issuance(f"{sid}-void", number, reason), session=sid,
                   then=voided)

    def enter_take_card(self) -> None:
        self.timers.pop("operation", None)
        self._set_timer("take_card", self.config.timeouts.take_card)

    def exit_take_card(self) -> None:
        self.timers.pop("take_card", None)

    def retract_untaken_card(self) -> None:
        self.session.end(Outcome.ABORTED, Reason.TIMEOUT)
        if self.rewrite is not None and self.rewrite.card_inside:
            self.rewrite.retract_started()
            self.pending.add("printer")
            self.ports.printer.retract()
            return
        if self.issuance is not None:
            self.issuance.retract_started()
            self.pending.add("printer")
            self.ports.printer.retract()

    def enter_done(self) -> None:
        s = self.session
        issuance = self.issuance
        if issuance is not None and not issuance.closed:
            issuance.closed = True
            rid = f"{issuance.session_id}-confirm"
            number, serial = issuance.permit_number, issuance.card_serial
            issuance.backend_started(Step.CONFIRMED)

            def confirmed(result: Any) -> None:
                if isinstance(result, bk.Confirmed):
                    issuance.backend_done(Step.CONFIRMED, Final.ISSUED)

            self._call("confirm", lambda: self.ports.backend.confirm_issuance(rid, number, serial), then=confirmed)
            self.log.emit(LogEvent.ISSUANCE_ENDED, session=s.id, permit_number=number, disposition="taken")
        s.end(Outcome.ISSUED, Reason.OK)
        self.ports.printer.refresh_status()

    def enter_refusal(self) -> None:
        s = self.session
        reason = s.refusal.reason if s.refusal is not None else Reason.DEVICE_FAULT
        s.end(Outcome.COUNTER_REFERRAL, reason)
        self.log.emit(LogEvent.REFUSED, session=s.id, reason=reason)

    def enter_fault(self) -> None:
        s = self.session
        reason = Reason.BACKEND_UNAVAILABLE if s.fault_device == DeviceKind.BACKEND.value else Reason.DEVICE_FAULT
        s.end(Outcome.COUNTER_REFERRAL, reason)

    def note_address_changed(self) -> None:
        self.session.lives_there = False
        self.session.refusal = Refusal(Reason.ADDRESS_CHANGED)
        self.session.end(Outcome.COUNTER_REFERRAL, Reason.ADDRESS_CHANGED)

    def note_face_mismatch(self) -> None:
        self.session.refusal = Refusal(Reason.FACE_MISMATCH)
        self.session.end(Outcome.COUNTER_REFERRAL, Reason.FACE_MISMATCH)

    def note_cancelled(self) -> None:
        self.session.end(Outcome.ABORTED, Reason.USER_CANCELLED)

    def note_timed_out(self) -> None:
        self.session.end(Outcome.ABORTED, Reason.TIMEOUT)

    def note_device_fault(self) -> None:
        self.session.end(Outcome.COUNTER_REFERRAL, Reason.DEVICE_FAULT)

    def enter_goodbye(self) -> None:
        s = self.session
        if s.outcome is None:
            s.end(Outcome.ABORTED, Reason.USER_CANCELLED)
        s.screens.append(self.state)
        summary = SessionSummary(
            session=s.id,
            service=s.service.value if s.service else None,
            outcome=str(s.outcome),
            reason=str(s.reason),
            available_on=s.available_on.isoformat() if s.available_on else None,
            screens=tuple(s.screens),
            large_text=s.large_text,
        )
        self.finished.append(summary)
        self.log.emit(LogEvent.SESSION_ENDED, session=s.id, service=summary.service,
                      outcome=summary.outcome, reason=summary.reason)
        self._set_timer("goodbye", self.config.timeouts.goodbye)

    def exit_goodbye(self) -> None:
        # SH-PRIV-1: the session's personal data goes with it.
        self.session = Session()
        self.rewrite = None
        if self.issuance is not None and self.issuance.closed:
            self.issuance = None

    # --- helpers ------------------------------------------------------------------------------

    def _key(self, key: str) -> None:
        s = self.session
        if key == "del":
            s.phone = s.phone[:-1]
        elif key.isdigit() and len(s.phone) < 11:
            s.phone += key

    def _check_health(self) -> None:
        if "backend.health" in self.pending:
            return
        self._call("health", self.ports.backend.health, session="")
        if self.state in ("ready.attract", "out_of_service"):
            self._set_timer("health", self.config.timeouts.health_interval)

    def _call(self, op: str, fn: Callable[[], Any], session: str | None = None,
              then: Callable[[Any], None] | None = None) -> None:
        """A backend call off the main thread; its result comes back as a BackendReply."""
        sid = self.session.id if session is None else session
        self.pending.add(f"backend.{op}")
        self.log.emit(LogEvent.BACKEND_CALL_STARTED, session=sid, op=op)

        def run() -> None:
            try:
                result = fn()
            except Exception:
                result = bk.BackendFailure(bk.FailureKind.BAD_REPLY)
            self.post(BackendReply(sid, op, result, then))

        self._executor.submit(run)

    def _work(self, what: str, session: str, fn: Callable[[], Any]) -> None:
        self.pending.add(f"work.{what}")

        def run() -> None:
            try:
                self.post(fn())
            except Exception:
                self.post(WorkFailed(session, what))

        self._executor.submit(run)

    def _note_offer(self) -> None:
        offered = tuple(s.value for s in REQUIRES if self.service_available(s))
        if offered != self._offered:
            self._offered = offered
            unavailable = tuple(s.value for s in REQUIRES if s.value not in offered)
            self.log.emit(LogEvent.SERVICES_CHANGED, available=",".join(offered), unavailable=",".join(unavailable))

    def waiting_state(self) -> bool:
        return self.state in WAITING
