"""Card-face rewrite (卡面擦写, SH-END-4): the resident's permit in at the slot, its chip read, the
residence question, the backend's decision cross-checked, the chip and the validity area
rewritten, and the card back in the resident's hands; or retained when it cannot be.

The card is moved by the rewrite procedure (kiosk/rewriting.py); this flow turns its
outcomes into triggers. The order of checks is RULES.md's: PERMIT_CANCELLED → ADDRESS_CHANGED
(the resident's answer, or a reported move) → the backend's decision.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from devices.status import DeviceKind, DeviceState, MediaPosition
from kiosk import backend as bk
from kiosk import cardface, retention
from kiosk.availability import Needs
from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.commands import Outcome, Progress
from kiosk.endorsement import Rewrite, rewrite_decision
from kiosk.flows.base import Flow
from kiosk.flows.card_job import ProcedureJob
from kiosk.flows.card_rewrite_views import SCREENS
from kiosk.logevents import LogEvent
from kiosk.policy import Refusal, is_large_text
from kiosk.reasons import Outcome as SessionOutcome
from kiosk.reasons import Reason, Service
from kiosk.recovery import LastBinCount, bin_count
from kiosk.rewriting import READ_PHASE, VERIFY_PHASE, CardRewrite, validity_face
from kiosk.view import Waiting

C = "card_rewrite"
AT_SLOT = (f"{C}.return_card", f"{C}.last_call")  # the card is out at the slot, waiting for a hand


class CR(StrEnum):
    CARD_INSERTED = "card_inserted"
    CHIP_READ = "chip_read"
    ENDORSEMENT_CHECKED = "endorsement_checked"
    GIVE_BACK = "give_back"
    REWRITTEN = "rewritten"
    VERIFIED = "verified"
    CARD_RETURNED = "card_returned"


class CardRewriteFlow(ProcedureJob, Flow):
    SERVICE = Service.CARD_REWRITE
    NEEDS = Needs((DeviceKind.PRINTER, DeviceKind.PERMIT_CARD, DeviceKind.BACKEND), may_retract=True, journals=True)
    SCREENS = SCREENS
    CHART = ChartPart(
        owner=C,
        states=(StateSpec(C, on_enter="enter_service", children=(
            StateSpec("notice", Waiting.TOUCH, session=True),
            StateSpec("insert_card", Waiting.PERMIT_CARD, session=True, back=f"{C}.notice",
                      on_enter="enter_insert_card", on_exit="exit_insert_card"),
            StateSpec("read_chip", on_enter="enter_read_chip"),
            # The card is inside: leaving gives it back first, so the shared exits do not apply.
            StateSpec("residence", Waiting.TOUCH, session=True, own_exits=True),
            StateSpec("check_endorsement", on_enter="enter_check_endorsement"),
            StateSpec("rewrite", on_enter="enter_rewrite"),
            StateSpec("verify", on_enter="enter_verify"),
            StateSpec("return_card", Waiting.TAKE_CARD, more_time=True, on_enter="enter_return_card",
                      timers=(TimerSpec("take_card", "take_card", T.TAKE_TIMEOUT, shown=True),)),
            # The louder last warning: the card is still at the slot, a sound cue plays.
            StateSpec("last_call", Waiting.TAKE_CARD, more_time=True, on_enter="end:warn_retract",
                      timers=(TimerSpec("take_card", "take_card_last", T.TAKE_TIMEOUT, shown=True),)),
            StateSpec("done", Waiting.TOUCH, closing=True, on_enter="enter_done"),
        )),),
        edges=(
            Edge(T.TAP_SERVICE, "ready.menu", f"{C}.notice", conditions=("chosen",)),
            Edge(T.TAP_CONFIRM, f"{C}.notice", f"{C}.insert_card"),
            Edge(CR.CARD_INSERTED, f"{C}.insert_card", f"{C}.read_chip"),
            Edge(CR.CHIP_READ, f"{C}.read_chip", f"{C}.residence"),
            Edge(T.TAP_ANSWER_YES, f"{C}.residence", f"{C}.check_endorsement", before="note_lives_there"),
            Edge(T.TAP_ANSWER_NO, f"{C}.residence", f"{C}.check_endorsement", before="note_moved"),
            Edge(T.TAP_CANCEL_CONFIRM, f"{C}.residence", f"{C}.return_card", before="end:note_cancelled"),
            Edge(T.IDLE_TIMEOUT, f"{C}.residence", f"{C}.return_card", before="end:note_timed_out"),
            Edge(T.DEVICE_LOST, f"{C}.residence", "fault", before="end:note_device_fault"),
            Edge(CR.ENDORSEMENT_CHECKED, f"{C}.check_endorsement", f"{C}.rewrite"),
            Edge(CR.GIVE_BACK, (f"{C}.read_chip", f"{C}.check_endorsement"), f"{C}.return_card"),
            Edge(CR.REWRITTEN, f"{C}.rewrite", f"{C}.verify"),
            Edge(CR.VERIFIED, f"{C}.verify", f"{C}.return_card"),
            Edge(CR.CARD_RETURNED, AT_SLOT, "goodbye", conditions=("session_aborted",)),
            Edge(CR.CARD_RETURNED, AT_SLOT, f"{C}.done", conditions=("card_was_rewritten",)),
            Edge(CR.CARD_RETURNED, AT_SLOT, f"{C}.insert_card", conditions=("card_was_unusable",)),
            Edge(CR.CARD_RETURNED, AT_SLOT, "fault", conditions=("rewrite_faulted",)),
            Edge(CR.CARD_RETURNED, AT_SLOT, "refusal"),
            Edge(T.TAKE_TIMEOUT, f"{C}.return_card", f"{C}.last_call"),
            Edge(T.TAKE_TIMEOUT, f"{C}.last_call", "kept", before="not_taken"),
            Edge(T.FAULTED, C, "fault"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.rw: CardRewrite | None = None
        self._ending = False  # not_taken is running: the session is on its way to goodbye

    # --- guards (pure) ------------------------------------------------------------------------

    def chosen(self) -> bool:
        return self.core.session.chosen is Service.CARD_REWRITE and self.core.availability.offers(Service.CARD_REWRITE)

    def session_aborted(self) -> bool:
        return self.core.session.outcome is SessionOutcome.ABORTED

    def card_was_rewritten(self) -> bool:
        return self.core.session.card_rewritten

    def card_was_unusable(self) -> bool:
        return self.core.session.rewrite_error is not None

    def rewrite_faulted(self) -> bool:
        return self.core.session.fault_device is not None

    # --- notes --------------------------------------------------------------------------------

    def note_lives_there(self) -> None:
        self.core.session.lives_there = True

    def note_moved(self) -> None:
        self.core.session.lives_there = False

    # --- states -------------------------------------------------------------------------------


    def enter_insert_card(self) -> None:
        self.rw = None
        # A card already waiting at the slot counts as inserted: the next status tells.
        self.core.ports.printer.refresh_status()
        self.core.ports.printer.watch_slot(True)

    def exit_insert_card(self) -> None:
        self.core.ports.printer.watch_slot(False)

    def on_status(self, device: Any) -> bool:
        if device is DeviceKind.PRINTER and self.core.state == f"{C}.insert_card":
            st = self.core.availability.status[device]
            if st.media is MediaPosition.ENTERING:  # a card waits at the front slot
                self.core.fire(CR.CARD_INSERTED)
                return True
        return False

    def enter_read_chip(self) -> None:
        s = self.core.session
        s.rewrite_error = None
        status = self.core.availability.status
        self.rw = CardRewrite(s.id, self.core.journal, insertions=self.core.insertions,
                              bins=LastBinCount(lambda: status.get(DeviceKind.PRINTER)),
                              slot_has_card=lambda: _media(status.get(DeviceKind.PRINTER)) is MediaPosition.ENTERING)
        self.core.card_job = self
        self._carry_out(self.rw.start(READ_PHASE))

    def enter_check_endorsement(self) -> None:
        rw = self.rw
        assert rw is not None and rw.chip is not None
        c = rw.chip.contents
        s = self.core.session
        rid, backend, sid = s.request_id("endorsement"), self.core.ports.backend, s.id

        def back(result: Any) -> None:
            if self.core.session.id == sid and self.core.state == f"{C}.check_endorsement":
                self._endorsement_checked(result)

        self.core.runtime.call(
            "endorsement", lambda: backend.check_endorsement(rid, c.permit_number, c.id_number, c.validity.valid_until),
            sid, then=back)

    def _endorsement_checked(self, result: Any) -> None:
        rw, s = self.rw, self.core.session
        assert rw is not None and rw.chip is not None
        if isinstance(result, bk.UnknownPermit):
            s.rewrite_error = "not_a_permit_card"
            self.core.fire(CR.GIVE_BACK)
            return
        if not isinstance(result, bk.EndorsementCheck):
            s.fault_device = DeviceKind.BACKEND.value
            s.end(SessionOutcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.core.fire(CR.GIVE_BACK)
            return
        mine = rewrite_decision(result.permit.standing, rw.chip.contents.validity.valid_until,
                                self.core.clock.today(), self.core.pack)
        if mine != result.decision:
            # The backend is the authority, but a card is not rewritten on a decision the kiosk's own
            # reading of RULES.md does not share: the card goes back and the case to a counter.
            self.core.log.emit(LogEvent.DECISION_DISAGREED, session=s.id, op="endorsement",
                               backend=_code(result.decision), kiosk=_code(mine))
            s.fault_device, s.fault_detail = DeviceKind.BACKEND.value, "decision_disagreed"
            s.end(SessionOutcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.core.fire(CR.GIVE_BACK)
            return
        decision: Rewrite | Refusal = result.decision
        cancelled = isinstance(decision, Refusal) and decision.reason is Reason.PERMIT_CANCELLED
        if s.lives_there is False and not cancelled:
            decision = Refusal(Reason.ADDRESS_CHANGED)  # SH-END-5: second in the order of checks
        if isinstance(decision, Refusal):
            s.refusal = decision
            self.core.fire(CR.GIVE_BACK)
            return
        s.rewrite_decision = decision
        self.core.fire(CR.ENDORSEMENT_CHECKED)

    def enter_rewrite(self) -> None:
        rw, decision = self.rw, self.core.session.rewrite_decision
        assert rw is not None and rw.chip is not None and isinstance(decision, Rewrite)
        chip = rw.chip
        face = validity_face(chip, self.core.pack.issuing_authority, decision.valid_from, decision.valid_until)
        area = cardface.AREAS["validity"]
        bits = cardface.pack_bits(cardface.render(face, "validity"))
        ticket = {"permit_number": chip.contents.permit_number, "validity": decision.printed}
        self._carry_out(rw.begin_rewrite(decision, area, bits, ticket))

    def enter_verify(self) -> None:
        assert self.rw is not None
        self._carry_out(self.rw.start(VERIFY_PHASE))

    def enter_return_card(self) -> None:
        rw = self.rw
        if rw is None:
            self.core.fire(CR.CARD_RETURNED)  # nothing inside to give back
            return
        self._carry_out(rw.give_back())

    def not_taken(self) -> None:
        s = self.core.session
        s.end(SessionOutcome.ABORTED, Reason.TIMEOUT)
        if self.rw is not None:
            printer = self.core.availability.status.get(DeviceKind.PRINTER)
            answers = printer is None or printer.state not in (DeviceState.OFFLINE, DeviceState.NO_DEVICE)
            # The retention record comes with the retract's answer, as in new_permit_issuing.py.
            self._ending = True  # on the way to goodbye already: a card stuck now fires nothing
            try:
                self._carry_out(self.rw.not_taken(answers, bin_count(printer)))
            finally:
                self._ending = False

    def enter_done(self) -> None:
        self.core.session.end(SessionOutcome.CARD_REWRITTEN, Reason.OK)

    # --- the card job -------------------------------------------------------------------------

    def _procedure(self) -> CardRewrite | None:
        return self.rw

    def _outcomes(self, rw: CardRewrite, progress: Progress) -> None:
        core, s = self.core, self.core.session
        current = s.id == rw.session_id
        for outcome in progress.outcomes:
            state = core.state
            if outcome is Outcome.PHASE_DONE:
                nxt = {f"{C}.read_chip": CR.CHIP_READ, f"{C}.rewrite": CR.REWRITTEN, f"{C}.verify": CR.VERIFIED}
                if state in nxt:
                    if state == f"{C}.read_chip" and rw.chip is not None:
                        s.card_address = rw.chip.contents.residence_address
                        # SH-AGE-2: the permit's holder of 65 or over reads the rest in large text.
                        s.large_text = s.large_text or is_large_text(rw.chip.contents.birth, core.clock.today(),
                                                                     core.pack)
                    if state == f"{C}.verify":
                        s.card_rewritten = rw.rewritten
                    core.fire(nxt[state])
            elif outcome is Outcome.PRESENTED:
                core.runtime.cancel("operation")
            elif outcome is Outcome.TAKEN:
                if state in AT_SLOT:
                    core.fire(CR.CARD_RETURNED)
            elif outcome is Outcome.FAILED:
                self._failed(rw, progress)
            elif outcome is Outcome.RETRACTED and current:
                s.card_retained = True
                retention.keep(core, s, _kept_why(s.reason), _serial(rw))
            elif outcome is Outcome.STUCK:
                if current:
                    s.card_retained = True
                    retention.keep(core, s, _kept_why(s.reason), _serial(rw))
                core.availability.mark_card_stuck()
                core.log.emit(LogEvent.CARD_STUCK, device=DeviceKind.PRINTER, error=progress.error)
                core.services_changed()
                if state.startswith(C + ".") and not self._ending:
                    core.offer(T.FAULTED)
        if rw.over:
            self._release(rw)

    def _failed(self, rw: CardRewrite, progress: Progress) -> None:
        core, s = self.core, self.core.session
        core.log.emit(LogEvent.DEVICE_FAULT, session=rw.session_id, device=progress.device, error=progress.error)
        if s.id != rw.session_id:
            return
        state = core.state
        if rw.read_problem is not None:
            s.rewrite_error = rw.read_problem.value  # nothing written: it goes back, and the screen says why
        else:
            s.fault_device = progress.device
            s.end(SessionOutcome.COUNTER_REFERRAL, Reason.DEVICE_FAULT)
        s.card_retained = rw.retained
        if rw.retained:  # the resident's own permit stays in the machine: a record, a number
            retention.keep(core, s, Reason.DEVICE_FAULT, _serial(rw))
        if rw.retained or (not rw.card_inside and not rw.at_slot):
            core.offer(T.FAULTED)  # kept, or never inside: nothing to give back
        elif state in (f"{C}.read_chip", f"{C}.check_endorsement"):
            core.fire(CR.GIVE_BACK)

    def _release(self, rw: CardRewrite) -> None:
        if self.core.card_job is self:
            self.core.card_job = None
        self.rw = None
        self.core.ports.printer.refresh_status()


def _code(decision: Any) -> str:
    if isinstance(decision, Rewrite):
        return f"rewrite:{decision.valid_from.isoformat()}/{decision.valid_until.isoformat()}"
    if isinstance(decision, Refusal):
        return str(decision.reason)
    return type(decision).__name__


def _media(printer: Any) -> MediaPosition | None:
    return printer.media if printer is not None else None


def _serial(rw: CardRewrite) -> str | None:
    return rw.chip.card.serial if rw.chip is not None else None


def _kept_why(reason: Reason | None) -> Reason:
    """A kept card's reason code: not taken in time, or a device fault."""
    return Reason.TIMEOUT if reason is Reason.TIMEOUT else Reason.DEVICE_FAULT
