"""What the status-query screens show: state and session in, data and buttons out (docs/screens.md).

The show screen's data is flat: every value the screen draws, computed by the kiosk
(kiosk/resident_status.py) from the backend's facts. A value that is None is not drawn.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import CANCEL, FINISH
from kiosk.view import Button, ButtonStyle

Screen = tuple[dict[str, Any], tuple[Button, ...]]


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def read_id(snap: Snapshot) -> Screen:
    return {"error": snap.session.read_error}, (CANCEL,)


def lookup(snap: Snapshot) -> Screen:
    return {}, ()


def show(snap: Snapshot) -> Screen:
    facts = snap.session.service_data
    report = getattr(facts, "report", None)
    if report is None:  # nothing (left) to show
        return {}, (FINISH,)
    reg, app, permit, e, p = facts.registration, report.application, report.permit, facts.endorsement, facts.points
    standing = permit.permit.standing if permit is not None else None
    data: dict[str, Any] = {
        "registered": reg is not None,
        "reg_address": report.registration.address if report.registration is not None else None,
        "reg_declared": _iso(reg.declared) if reg else None,
        "reg_valid_through": _iso(reg.valid_through) if reg else None,
        "reg_expired": reg.expired if reg else None,
        "permit_possible_on": _iso(reg.permit_possible_on) if reg else None,
        # an application is in progress while its card has not reached the resident
        "app_stage": _stage(app) if app is not None else None,
        "app_decided_on": _iso(app.decided_on) if app is not None else None,
        "app_reason": str(app.reason) if app is not None and app.reason is not None else None,
        "app_available_on": _iso(app.available_on) if app is not None else None,
        "permit_number": permit.permit.number if permit is not None else None,
        "permit_status": standing.status.value if standing is not None else None,
        "permit_valid_until": _iso(standing.valid_until) if standing is not None else None,
        "card_valid_until": _iso(permit.card_valid_until) if permit is not None else None,
        "address_changed": standing.address_changed if standing is not None else None,
        "endorsement": e.state.value,
        "endorsement_opens": _iso(e.opens),
        "endorsement_closes": _iso(e.closes),
        "grace": facts.grace_days > 0,
        "points_state": p.state.value,
        "points_valid_until": _iso(p.valid_until),
        "points": report.points_value if permit is not None else None,
        # SH-PTS-2: the notice a resident may take away, only for points that stand
        "points_notice": report.points_notice if p.state.value == "valid" else None,
        "offered": facts.offered.value if facts.offered is not None else None,
    }
    buttons: list[Button] = []
    if facts.offered is not None and facts.offered in snap.offered:
        buttons.append(Button(f"service.{facts.offered.value}", f"service.{facts.offered.value}"))
    buttons.append(Button(FINISH.id, FINISH.label, style=ButtonStyle.SECONDARY if buttons else ButtonStyle.PRIMARY))
    return data, tuple(buttons)


def _stage(app: Any) -> str:
    if not app.approved:
        return "refused"
    return str(app.issuance or "approved")


def done(snap: Snapshot) -> Screen:
    return {}, (FINISH,)


SCREENS: dict[str, ScreenFn] = {
    "status_query.read_id": read_id,
    "status_query.lookup": lookup,
    "status_query.show": show,
    "status_query.done": done,
}
