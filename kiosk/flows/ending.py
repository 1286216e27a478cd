"""The end of every session: refusal, fault, goodbye, and the edges every waiting state shares
(cancel, the idle timeout and a lost device; closing screens close; kiosk/machine.py adds them).

Goodbye writes what is kept of the session (nothing personal) and then drops the session
with every personal field in it (SH-PRIV-1).
"""

from __future__ import annotations

from typing import Any

from devices.status import DeviceKind
from kiosk.chart import MORE_TIME_TIMES, ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.flows import closing_views as views
from kiosk.flows.base import Flow, Snapshot
from kiosk.logevents import LogEvent
from kiosk.reasons import Outcome, Reason, Service
from kiosk.session import Session, SessionHistory, SessionSummary
from kiosk.view import Button, Waiting


class Ending(Flow):
    CHART = ChartPart(
        owner="end",
        states=(
            StateSpec("refusal", Waiting.TOUCH, closing=True, offers=True, on_enter="enter_refusal"),
            StateSpec("fault", Waiting.TOUCH, closing=True, on_enter="enter_fault"),
            # A card the kiosk kept: its retention number as a QR code and in digits, what to bring.
            StateSpec("kept", Waiting.TOUCH, closing=True),
            StateSpec("goodbye", timers=(TimerSpec("goodbye", "goodbye", T.GOODBYE_DONE, shown=True),),
                      on_enter="enter_goodbye", on_exit="exit_goodbye"),
        ),
        edges=(
            Edge(T.GOODBYE_DONE, "goodbye", "recovery", conditions=("recovery_needed",)),
            Edge(T.GOODBYE_DONE, "goodbye", "ready.attract", conditions=("any_service_available",)),
            Edge(T.GOODBYE_DONE, "goodbye", "out_of_service"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.finished = SessionHistory()

    # --- guards ------------------------------------------------------------------------------

    def any_service_available(self) -> bool:
        return self.core.availability.any_offered()

    def recovery_needed(self) -> bool:
        """A card of an earlier row is still in play and nothing is moving it: resolve it first."""
        journal, job = self.core.journal, self.core.card_job
        if journal is None or job is not None or self.core.availability.card_stuck:
            return False
        return any(r.card_in_play for r in journal.unfinished())

    # --- shared edges ------------------------------------------------------------------------

    def note_cancelled(self) -> None:
        self.core.session.cancel_asked = False
        self.core.session.end(Outcome.ABORTED, Reason.USER_CANCELLED)

    def ask_cancel(self) -> None:
        """Cancel asks once: "确定要取消吗？" over the same step (the presenter's overlay)."""
        s = self.core.session
        s.cancel_asked = True
        s.screens.append("cancel_confirm")

    def keep_going(self) -> None:
        self.core.session.cancel_asked = False

    def more_time_used_up(self) -> bool:
        return self.core.session.more_time_taken >= MORE_TIME_TIMES

    def more_time(self) -> None:
        """The screen's countdown starts again from its full length (a take-card timer)."""
        s, spec = self.core.session, self.core.chart.spec(self.core.state)
        s.more_time_taken += 1
        for timer in spec.timers:
            if timer.shown:
                self.core.runtime.set_timer(timer.name, getattr(self.core.config.timeouts, timer.setting))
        self.core.log.emit(LogEvent.MORE_TIME, session=s.id, state=self.core.state, times=s.more_time_taken)

    def note_timed_out(self) -> None:
        self.core.session.end(Outcome.ABORTED, Reason.TIMEOUT)

    def note_device_fault(self) -> None:
        self.core.session.end(Outcome.COUNTER_REFERRAL, Reason.DEVICE_FAULT)

    # --- states ------------------------------------------------------------------------------

    def enter_refusal(self) -> None:
        s = self.core.session
        reason = s.refusal.reason if s.refusal is not None else Reason.DEVICE_FAULT
        s.end(Outcome.COUNTER_REFERRAL, reason)
        self.core.log.emit(LogEvent.REFUSED, session=s.id, reason=reason)

    def enter_fault(self) -> None:
        s = self.core.session
        reason = Reason.BACKEND_UNAVAILABLE if s.fault_device == DeviceKind.BACKEND.value else Reason.DEVICE_FAULT
        s.end(Outcome.COUNTER_REFERRAL, reason)

    def warn_retract(self) -> None:
        """The louder last warning before an untaken card is retracted (its screen plays the cue)."""
        self.core.log.emit(LogEvent.RETRACT_WARNING, session=self.core.session.id, state=self.core.state)

    def enter_goodbye(self) -> None:
        self._close_session("goodbye")

    def hand_over(self) -> None:
        """An offered service was taken: this session ends here and the offered one starts afresh
        (its own checks, its own ID card read); only the choice, the text size and the language carry
        over: the same resident is still at the screen."""
        old = self.core.session
        self._close_session(None)
        self.core.session = Session(chosen=old.chosen, large_text=old.large_text, lang=old.lang,
                                    volume=old.volume)

    def _close_session(self, last_screen: str | None) -> None:
        s = self.core.session
        if s.outcome is None:
            s.end(Outcome.ABORTED, Reason.USER_CANCELLED)
        if last_screen is not None:
            s.screens.append(last_screen)
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
        self.core.log.emit(LogEvent.SESSION_ENDED, session=s.id, service=summary.service,
                           outcome=summary.outcome, reason=summary.reason)

    def exit_goodbye(self) -> None:
        # SH-PRIV-1: the session's personal data goes with it; the next resident starts in the
        # defaults (standard text, the terminal's language), not in this one's choices.
        self.core.session = Session()


# Refusals whose remedy is another service of this kiosk: the refusal screen offers it.
OFFERED_AFTER: dict[Reason, Service] = {
    Reason.NO_REGISTRATION: Service.REGISTRATION,  # declare registration first
    Reason.REG_EXPIRED: Service.REGISTRATION,  # SH-REG-7: declare again
}


def refusal_view(snap: Snapshot) -> tuple[dict[str, Any], tuple[Button, ...]]:
    s = snap.session
    reason = s.reason or (s.refusal.reason if s.refusal else None)
    return views.refusal(snap, OFFERED_AFTER.get(reason) if reason is not None else None)


Ending.SCREENS = {"refusal": refusal_view, "fault": views.fault, "kept": views.kept, "goodbye": views.goodbye,
                  "new_permit.last_call": views.last_call, "card_rewrite.last_call": views.last_call}
