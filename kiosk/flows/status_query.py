"""Status query (SH-PTS-1, SH-PTS-2, SH-REG-7, SH-END-1..4, BJ-END-1): the ID card, the backend's
facts, and a screen that says where the resident's registration, application, permit, endorsement
and points stand and what to do next, with the next service offered where the kiosk has it.

The dates and states shown are the kiosk's own (kiosk/resident_status.py) from the backend's facts;
when the backend's own reading differs in what the resident would be told, nothing is shown
(DECISION_DISAGREED, the fault screen), as for an approval or a rewrite decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from devices.events import IdCardRead, IdReadFailed
from devices.status import DeviceKind
from kiosk import backend as bk
from kiosk import resident_status as rs
from kiosk.availability import Needs
from kiosk.chart import ChartPart, Edge, StateSpec
from kiosk.chart import Trigger as T
from kiosk.endorsement import PermitStanding
from kiosk.flows.base import Flow
from kiosk.flows.id_card_step import IdCardStep
from kiosk.flows.status_query_views import SCREENS
from kiosk.logevents import LogEvent
from kiosk.policy import STATUS_QUERY_ID_ORDER, PolicyPack
from kiosk.reasons import Outcome, Reason, Service
from kiosk.view import Waiting

Q = "status_query"


class SQ(StrEnum):
    ID_READ = "status_id_read"
    LOOKED_UP = "status_looked_up"


@dataclass(frozen=True)
class StatusFacts:
    """What the show screen says: the kiosk's computation, and the backend's facts it is made from."""

    registration: rs.RegistrationShown | None
    endorsement: rs.EndorsementShown
    points: rs.PointsShown
    offered: Service | None
    report: bk.StatusReport = field(repr=False)
    grace_days: int = 0


def facts_of(report: bk.StatusReport, birth: date | None, today: date, pack: PolicyPack) -> StatusFacts:
    reg = rs.registration(report.registration.declared, today, pack) if report.registration is not None else None
    standing: PermitStanding | None = report.permit.permit.standing if report.permit is not None else None
    card = report.permit.card_valid_until if report.permit is not None else None
    shown = rs.endorsement(standing, card, today, pack)
    return StatusFacts(reg, shown, rs.points_shown(standing, today, pack),
                       rs.offer(reg, standing, shown, birth, today, pack), report, pack.endorsement_grace_days)


def disagreement(facts: StatusFacts) -> rs.Disagreement | None:
    r = facts.report
    backend_reg = None if r.registration is None else (
        r.registration.eligible_on, r.registration.valid_through, r.registration.expired)
    state = r.permit.endorsement_state if r.permit is not None else None
    return rs.disagreement(reg=facts.registration, backend_reg=backend_reg, shown=facts.endorsement,
                           backend_state=state, pts=facts.points,
                           backend_points=(r.points.state.value, r.points.valid_until))


class StatusQuery(Flow):
    SERVICE = Service.STATUS_QUERY
    NEEDS = Needs((DeviceKind.ID_READER, DeviceKind.BACKEND))
    SCREENS = SCREENS
    CHART = ChartPart(
        owner=Q,
        states=(StateSpec(Q, on_enter="enter_service", children=(
            StateSpec("read_id", Waiting.ID_CARD, session=True, on_enter="enter_read_id", on_exit="exit_read_id"),
            StateSpec("lookup", on_enter="enter_lookup"),
            # Idle, cancel and a lost device end it as any waiting screen; its offers hand the session over.
            StateSpec("show", Waiting.TOUCH, session=True, offers=True, on_enter="enter_show"),
            StateSpec("done", Waiting.TOUCH, closing=True, on_enter="enter_done"),
        )),),
        edges=(
            Edge(T.TAP_SERVICE, "ready.menu", f"{Q}.read_id", conditions=("chosen",)),
            Edge(SQ.ID_READ, f"{Q}.read_id", f"{Q}.lookup"),
            Edge(SQ.LOOKED_UP, f"{Q}.lookup", f"{Q}.show"),
            Edge(T.TAP_CONFIRM, f"{Q}.show", f"{Q}.done"),
            Edge(T.REFUSED, Q, "refusal"),
            Edge(T.FAULTED, Q, "fault"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.id_card = IdCardStep(core, f"{Q}.read_id", SQ.ID_READ, STATUS_QUERY_ID_ORDER)

    def handlers(self) -> dict[type, Any]:
        return {IdCardRead: self.id_card.on_read, IdReadFailed: self.id_card.on_failed}

    def chosen(self) -> bool:
        return self.core.session.chosen is Service.STATUS_QUERY and self.core.availability.offers(Service.STATUS_QUERY)

    def enter_lookup(self) -> None:
        s = self.core.session
        card, rid, backend = s.identity, s.request_id("status"), self.core.ports.backend
        assert card is not None
        self.call_backend("status", lambda: backend.query_status(rid, card), self._looked_up)

    def _looked_up(self, result: Any) -> None:
        s = self.core.session
        if self.core.state != f"{Q}.lookup" or self.backend_failed(result):
            return
        if not isinstance(result, bk.StatusReport):
            s.fault_device = DeviceKind.BACKEND.value
            self.core.fire(T.FAULTED)
            return
        birth = s.identity.birth if s.identity is not None else None
        facts = facts_of(result, birth, self.core.clock.today(), self.core.pack)
        differs = disagreement(facts)
        if differs is not None:
            # The backend is the authority on the facts, but the kiosk tells a resident nothing its own
            # reading of RULES.md does not share: the case goes to a counter.
            self.core.log.emit(LogEvent.DECISION_DISAGREED, session=s.id, op=f"status.{differs.what}",
                               backend=differs.backend, kiosk=differs.kiosk)
            s.fault_device, s.fault_detail = DeviceKind.BACKEND.value, "decision_disagreed"
            s.end(Outcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.core.fire(T.FAULTED)
            return
        s.service_data = facts
        self.core.fire(SQ.LOOKED_UP)

    def enter_show(self) -> None:
        self.core.session.end(Outcome.INFO_SHOWN, Reason.OK)

    def enter_done(self) -> None:
        # The resident is finished with it: what was shown leaves the screen now, the rest at goodbye.
        self.core.session.service_data = None
