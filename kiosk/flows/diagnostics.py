"""Technician diagnostics: a mode of its own, entered with a technician card and PIN.

At the attract screen or out of service a card pushed into the printer's front slot is taken
in and its technician profile read at the encoder (kiosk/technician_card.py). A revoked or
expired card, a card that is not a technician's, or one still locked out is refused and given
back. Otherwise the PIN is typed on the keypad and checked against the card's verification
value by the encoder's key service (never kept, never logged); the lockout is RULES.md's
"Technician PIN" (kiosk/technician_pin.py), kept per card in the journal's database.

While a technician is in, the kiosk serves nobody: the screen is the technician's, and the ID
reader reads only inside a service's ID-card step, which the mode never enters. The technician
card stays at the encoder. The mode ends when the
technician leaves or after 10 idle minutes: the card is given back and the kiosk goes to what
its devices allow. Every step is audited (kiosk/diagnostics_store.py). The board and its
actions are kiosk/flows/diagnostics_board.py; the self-tests kiosk/flows/diagnostics_tests.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from devices.status import DeviceKind, MediaPosition
from kiosk import technician_pin as tp
from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.commands import Outcome, Progress
from kiosk.diagnostics_store import AuditAction, DiagnosticsStore
from kiosk.flows.base import Flow
from kiosk.flows.card_job import ProcedureJob
from kiosk.flows.diagnostics_board import Board, DiagState
from kiosk.flows.diagnostics_views import SCREENS
from kiosk.logevents import LogEvent
from kiosk.printer_test import FEED_TEST, TEST_PRINT, PrinterTest, PStep
from kiosk.session import Session
from kiosk.technician_card import TechnicianCard
from kiosk.view import Waiting

D = "diagnostics"
REST = ("ready.attract", "out_of_service")
IDLE_TIMER = "diagnostics_idle"
PIN_LENGTH = (4, 8)


class DG(StrEnum):
    CARD_AT_SLOT = "technician_card_at_slot"
    CARD_READ = "technician_card_read"
    CARD_REFUSED = "technician_card_refused"
    PIN_RIGHT = "pin_right"
    LOCKED = "pin_locked"
    RUN_TESTS = "run_selftests"
    TESTS_DONE = "selftests_done"
    LEAVE = "leave_diagnostics"
    IDLE_LEAVE = "diagnostics_idle"
    CARD_BACK = "technician_card_back"
    PRINTER_JOB = "printer_job"
    PATH_FREE = "card_path_free"


class Diagnostics(ProcedureJob, Flow):
    SCREENS = SCREENS
    CHART = ChartPart(
        owner=D,
        states=(StateSpec(D, children=(
            StateSpec("card_in", on_enter="enter_card_in"),
            StateSpec("pin", Waiting.DIGITS, on_enter="enter_pin"),
            StateSpec("board", Waiting.TOUCH, on_enter="enter_board"),
            StateSpec("testing", on_enter="enter_testing"),
            # The printer's feed test and test print need the card path: the technician card goes out first.
            StateSpec("free_path", Waiting.TAKE_CARD, on_enter="enter_free_path"),
            StateSpec("printer_job", on_enter="enter_printer_job"),
            StateSpec("card_out", Waiting.TAKE_CARD, timers=(TimerSpec("take_card", "take_card", T.TAKE_TIMEOUT),),
                      on_enter="enter_card_out"),
        )),),
        edges=(
            Edge(DG.CARD_AT_SLOT, REST, f"{D}.card_in"),
            Edge(DG.CARD_READ, f"{D}.card_in", f"{D}.pin"),
            Edge(DG.CARD_REFUSED, (f"{D}.card_in", f"{D}.pin"), f"{D}.card_out"),
            Edge(T.TAP_KEY, f"{D}.pin", None),
            Edge(T.TAP_CONFIRM, f"{D}.pin", None, conditions=("pin_complete",), after="check_pin"),
            Edge(T.TAP_CANCEL, f"{D}.pin", f"{D}.card_out", before="note_left"),
            Edge(DG.PIN_RIGHT, f"{D}.pin", f"{D}.board"),
            Edge(DG.LOCKED, f"{D}.pin", f"{D}.card_out"),
            Edge(DG.RUN_TESTS, f"{D}.board", f"{D}.testing"),
            Edge(DG.TESTS_DONE, (f"{D}.testing", f"{D}.printer_job", f"{D}.free_path"), f"{D}.board"),
            Edge(DG.PRINTER_JOB, f"{D}.board", f"{D}.free_path", conditions=("card_inside",)),
            Edge(DG.PRINTER_JOB, f"{D}.board", f"{D}.printer_job"),
            Edge(DG.PATH_FREE, f"{D}.free_path", f"{D}.printer_job"),
            Edge(DG.LEAVE, f"{D}.board", f"{D}.card_out", before="note_left"),
            Edge(DG.IDLE_LEAVE, (f"{D}.pin", f"{D}.board", f"{D}.testing"), f"{D}.card_out", before="note_idle"),
            Edge(T.TAKE_TIMEOUT, f"{D}.card_out", None, after="not_taken"),
            Edge(DG.CARD_BACK, f"{D}.card_out", "out_of_service", conditions=("held_out",), after="look_at_slot"),
            Edge(DG.CARD_BACK, f"{D}.card_out", "ready.attract", conditions=("any_service_available",),
                 after="look_at_slot"),
            Edge(DG.CARD_BACK, f"{D}.card_out", "out_of_service", after="look_at_slot"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.card: TechnicianCard | None = None
        self.ptest: PrinterTest | None = None
        self.job: tuple[PStep, ...] = FEED_TEST
        self._store: DiagnosticsStore | None = None
        self.board = Board(self)
        self._restored = False

    # --- the store and the audit trail --------------------------------------------------------

    @property
    def store(self) -> DiagnosticsStore | None:
        if self._store is None and self.core.journal is not None:
            self._store = DiagnosticsStore(self.core.config.journal.file, now=self.core.clock.now)
        return self._store

    @property
    def st(self) -> DiagState:
        data = self.core.session.service_data
        if not isinstance(data, DiagState):
            data = DiagState()
            self.core.session.service_data = data
        return data

    def audit(self, action: AuditAction, result: str = "ok") -> None:
        card = self.st.card_id or "unknown"
        if self.store is not None:
            self.store.audit(card, action, result)
        self.core.log.emit(LogEvent.TECHNICIAN_ACTION, card=card, action=action.value, result=result)

    def pin_complete(self) -> bool:
        data = self.core.session.service_data
        return isinstance(data, DiagState) and PIN_LENGTH[0] <= len(data.digits) <= PIN_LENGTH[1]

    def card_inside(self) -> bool:
        return self.card is not None and (self.card.inside or self.card.at_slot)

    def held_out(self) -> bool:
        return self.core.availability.held_out

    def any_service_available(self) -> bool:
        return self.core.availability.any_offered()

    # --- entering -----------------------------------------------------------------------------

    def on_status_anywhere(self, device: DeviceKind) -> bool:
        """At rest, a card pushed into the front slot is a technician's (residents insert one only in a service)."""
        if not self._restored:  # the first status of the run: a technician's hold survives a restart
            self._restored = True
            self.board.restore_hold()
            if self.core.availability.held_out:
                self.core.services_changed()
        if device is DeviceKind.PRINTER:
            self.board.supply_alerts()
        return device is DeviceKind.PRINTER and self.look_at_slot(status=True)

    def look_at_slot(self, status: bool = False) -> bool:
        """At rest, a card in the slot is taken in: told by a `status`, or left there by a technician.
        Untold, only by a printer that can take it: a card it could not would go round for ever."""
        a, st = self.core.availability, self.core.availability.status.get(DeviceKind.PRINTER)
        if self.core.state not in REST or self.core.card_job is not None or st is None \
                or st.media is not MediaPosition.ENTERING or not (status or (st.is_up and not a.card_stuck)):
            return False
        return self.core.fire(DG.CARD_AT_SLOT)

    def enter_card_in(self) -> None:
        self.core.session = Session()
        self.core.session.service_data = DiagState()
        self.card = TechnicianCard(insertions=self.core.insertions)
        self.core.card_job = self
        self._carry_out(self.card.take_in())

    def _card_read(self) -> None:
        card, s = self.card, self.st
        assert card is not None and card.data is not None
        data = card.data
        s.card_id, s.role = data.technician_id, data.role
        s.valid_until = data.valid_until.isoformat() if data.valid_until else ""
        self.audit(AuditAction.CARD_INSERTED, data.card.serial)
        problem = ""
        if data.status.value != "active":
            problem = "revoked"
        elif data.valid_until is not None and data.valid_until < self.core.clock.today():
            problem = "expired"
        elif self.store is not None:
            left = tp.locked_for(self.store.pin_record(s.card_id), self.core.clock.now())
            if left:
                problem, s.lockout_s = "locked", left
        self.core.log.emit(LogEvent.TECHNICIAN_CARD, card=s.card_id, result=problem or "ok")
        if problem:
            s.problem = problem
            self.audit(AuditAction.CARD_REFUSED, problem if problem != "locked" else f"locked:s={s.lockout_s}")
            self.core.fire(DG.CARD_REFUSED)
            return
        self.core.fire(DG.CARD_READ)

    def _card_unreadable(self, error: str) -> None:
        self.st.problem = error or "unreadable"
        self.audit(AuditAction.CARD_REFUSED, self.st.problem)
        self.core.offer(DG.CARD_REFUSED)

    # --- the PIN ------------------------------------------------------------------------------

    def enter_pin(self) -> None:
        self.touched()
        s = self.st
        s.digits = ""
        if self.store is not None:
            s.tries_left = tp.tries_left(self.store.pin_record(s.card_id))

    def on_key(self, key: str) -> None:
        self.touched()
        s = self.st
        if key == "del":
            s.digits = s.digits[:-1]
        elif key.isdigit() and len(s.digits) < PIN_LENGTH[1]:
            s.digits += key
            s.wrong = False

    def check_pin(self) -> None:
        s, card = self.st, self.card
        pin, s.digits = s.digits, ""
        assert card is not None and card.data is not None
        store, now = self.store, self.core.clock.now()
        record = store.pin_record(s.card_id) if store is not None else tp.PinRecord()
        left = tp.locked_for(record, now)
        if left:  # locked while the screen was open (another kiosk process, a restart)
            s.problem, s.lockout_s = "locked", left
            self.audit(AuditAction.PIN_WHILE_LOCKED, f"s={left}")
            self.core.fire(DG.LOCKED)
            return
        verdict = tp.attempt(record, self.core.ports.encoder.pin_matches(card.data, pin), now)
        del pin
        if store is not None:
            store.save_pin_record(s.card_id, verdict.record)
        if verdict.accepted:
            self.audit(AuditAction.PIN_RIGHT)
            self.core.fire(DG.PIN_RIGHT)
            return
        s.wrong, s.lockout_s = True, verdict.lockout_s
        s.last_lockout_s = verdict.lockout_s
        self.audit(AuditAction.PIN_WRONG, f"wrong={verdict.record.wrong_in_row}:lockout={verdict.lockout_s}")
        self.core.log.emit(LogEvent.TECHNICIAN_PIN_WRONG, card=s.card_id, wrong=verdict.record.wrong_in_row,
                           lockout_s=verdict.lockout_s)
        if verdict.lockout_s:
            s.problem = "locked"
            self.audit(AuditAction.LOCKED, f"s={verdict.lockout_s}")
            self.core.fire(DG.LOCKED)
            return
        s.tries_left = tp.tries_left(verdict.record)

    # --- in the mode --------------------------------------------------------------------------

    def touched(self) -> None:
        self.core.runtime.set_timer(IDLE_TIMER, self.core.config.diagnostics.idle)

    def on_timer(self, name: str) -> None:
        if name == IDLE_TIMER:
            self.core.offer(DG.IDLE_LEAVE)
        else:
            self.board.on_timer(name)

    def on_tap(self, target: str) -> bool:
        if not self.core.state.startswith(D + "."):
            return False
        self.touched()
        if target == "diag.selftests":
            self.core.fire(DG.RUN_TESTS)
        elif target == "diag.leave":
            self.core.fire(DG.LEAVE)
        elif target in ("diag.feed_test", "diag.test_print"):
            self.job = FEED_TEST if target == "diag.feed_test" else TEST_PRINT
            self.core.fire(DG.PRINTER_JOB)
        else:
            return self.board.action(target)
        return True

    def enter_board(self) -> None:
        if not self.st.entered:
            self.st.entered = True
            self.audit(AuditAction.ENTERED)
            self.core.log.emit(LogEvent.TECHNICIAN_ENTERED, card=self.st.card_id)
        self.touched()
        self.board.refresh()

    def enter_testing(self) -> None:
        self.board.tests.start()

    def enter_free_path(self) -> None:
        assert self.card is not None
        self._carry_out(self.card.give_back())

    def enter_printer_job(self) -> None:
        self.st.testing = f"printer.{'feed' if self.job == FEED_TEST else 'print'}"
        self.ptest = PrinterTest(self.job, insertions=self.core.insertions)
        self.core.card_job = self
        self._carry_out(self.ptest.start())

    def _printer_job_ended(self, ptest: PrinterTest) -> None:
        self.ptest = None
        self.board.tests.printer_job(ptest)
        self.st.testing = ""
        self.core.ports.printer.refresh_status()
        self.core.offer(DG.TESTS_DONE)

    def tests_done(self) -> None:
        self.core.offer(DG.TESTS_DONE)

    def handlers(self) -> dict[type, Any]:
        return self.board.tests.handlers()

    def on_status(self, device: Any) -> bool:
        if self.core.state.startswith(D + "."):
            self.board.refresh(records=False)
            self.core.services_changed()
            if device is DeviceKind.QR_SCANNER:
                self.board.tests.qr_status()
            if device is DeviceKind.PRINTER:
                self.board.tests.printer_status()
                self.board.printer_status()
            return True
        return False

    # --- leaving ------------------------------------------------------------------------------

    def note_left(self) -> None:
        self.st.problem = self.st.problem or "left"

    def note_idle(self) -> None:
        self.st.problem = "idle"

    def enter_card_out(self) -> None:
        self.core.runtime.cancel(IDLE_TIMER)
        s = self.st
        if s.entered:
            self.audit(AuditAction.LEFT, s.problem or "left")
            self.core.log.emit(LogEvent.TECHNICIAN_LEFT, card=s.card_id, why=s.problem or "left")
        if self.card is None:
            self._back()
            return
        self._carry_out(self.card.give_back())

    def not_taken(self) -> None:
        if self.card is not None:
            self._carry_out(self.card.not_taken())

    def _back(self) -> None:
        if self.core.card_job is self:
            self.core.card_job = None
        self.card = None
        # The technician's state goes with the mode; a resident starts from nothing.
        self.core.session = Session()
        self.core.offer(DG.CARD_BACK)

    # --- the card job -------------------------------------------------------------------------

    def _procedure(self) -> TechnicianCard | PrinterTest | None:
        return self.ptest if self.ptest is not None else self.card

    def _outcomes(self, card: TechnicianCard | PrinterTest, progress: Progress) -> None:
        core = self.core
        if isinstance(card, PrinterTest):
            if Outcome.STUCK in progress.outcomes:
                core.availability.mark_card_stuck()
                core.log.emit(LogEvent.CARD_STUCK, device=DeviceKind.PRINTER, error=progress.error)
            if Outcome.CLOSED in progress.outcomes or Outcome.STUCK in progress.outcomes:
                self._printer_job_ended(card)
            return
        for outcome in progress.outcomes:
            if outcome is Outcome.PHASE_DONE and core.state == f"{D}.card_in":
                self._card_read()
            elif outcome is Outcome.PHASE_DONE and self.board.tests.running:
                self.board.tests.card_read(True, "")
            elif outcome is Outcome.FAILED and core.state == f"{D}.card_in":
                self._card_unreadable(progress.error)
            elif outcome is Outcome.FAILED and self.board.tests.running:
                self.board.tests.card_read(False, progress.error)
            elif outcome is Outcome.PRESENTED:
                core.runtime.cancel("operation")
            elif outcome is Outcome.TAKEN and core.state == f"{D}.free_path":
                self.audit(AuditAction.CARD_RETURNED, "for_printer_test")
                self.card = None
                core.fire(DG.PATH_FREE)
            elif outcome is Outcome.RETRACTED and core.state == f"{D}.card_out":
                self.audit(AuditAction.CARD_RETAINED, "not_taken")
                self._back()
            elif outcome is Outcome.TAKEN:
                if core.state == f"{D}.card_out":
                    self.audit(AuditAction.CARD_RETURNED)
                    self._back()
            elif outcome is Outcome.STUCK:
                core.availability.mark_card_stuck()
                core.log.emit(LogEvent.CARD_STUCK, device=DeviceKind.PRINTER, error=progress.error)
                if core.state == f"{D}.free_path":
                    # The card did not come out: the printer test cannot run; the board says why.
                    self.board.tests.path_blocked(progress.error or "stuck")
                    core.fire(DG.TESTS_DONE)
                elif core.state == f"{D}.card_out":
                    self._back()
                else:
                    core.offer(DG.CARD_REFUSED)
