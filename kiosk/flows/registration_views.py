"""What the registration screens show: state and session in, data and buttons out (docs/screens.md)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import BACK, CANCEL, CONFIRM, FINISH, NO, NO_PHONE, YES, keypad
from kiosk.flows.registration_data import (
    PROBLEM_SHOWN,
    PROOF_KINDS,
    PROOF_NUMBER,
    PURPOSES,
    RELATIONSHIPS,
    RegData,
    is_close,
)
from kiosk.identity import mask_id
from kiosk.view import Button, ButtonStyle

Screen = tuple[dict[str, Any], tuple[Button, ...]]


def _data(snap: Snapshot) -> RegData:
    d = snap.session.service_data
    return d if isinstance(d, RegData) else RegData()


def _choices(prefix: str, values: tuple[Any, ...]) -> tuple[Button, ...]:
    return tuple(Button(f"choice.{v.value}", f"{prefix}.{v.value}", style=ButtonStyle.TILE) for v in values)


def notice(snap: Snapshot) -> Screen:
    return {}, (CONFIRM, CANCEL)


def read_id(snap: Snapshot) -> Screen:
    return {"error": snap.session.read_error}, (CANCEL,)


def proof_type(snap: Snapshot) -> Screen:
    return {}, (*_choices("reg_kind", PROOF_KINDS), CANCEL)


def proof(snap: Snapshot) -> Screen:
    d = _data(snap)
    problem = PROBLEM_SHOWN.get(d.payload_problem, "other") if d.payload_problem else None
    data = {"kind": d.kind.value if d.kind else None, "digits": d.digits, "problem": problem,
            "scanner": snap.qr_scanner_up}
    return data, (*keypad(bool(PROOF_NUMBER.match(d.digits)))[:-1], BACK, CANCEL)


def relative(snap: Snapshot) -> Screen:
    # Every relationship is offered; the close ones (SH-REG-3) are marked for the screen to group.
    data = {"close": [r.value for r in RELATIONSHIPS if is_close(r)]}
    return data, (*_choices("reg_relative", RELATIONSHIPS), BACK, CANCEL)


def promise(snap: Snapshot) -> Screen:
    d = _data(snap)
    idn = snap.session.identity
    data = {"relationship": d.relationship.value if d.relationship else None,
            "address": d.proof.address if d.proof is not None else "",
            "name": idn.name if idn is not None else ""}
    return data, (Button("confirm", "reg_promise.confirm"), BACK, CANCEL)


def purpose(snap: Snapshot) -> Screen:
    return {}, (*_choices("reg_purpose", PURPOSES), CANCEL)


def address(snap: Snapshot) -> Screen:
    d = _data(snap)
    return {"address": d.proof.address if d.proof is not None else ""}, (YES, NO, CANCEL)


def phone(snap: Snapshot) -> Screen:
    s = snap.session
    return ({"digits": s.phone, "error": s.phone_error},
            (*keypad(bool(s.phone))[:-1], NO_PHONE, BACK, CANCEL))


def confirm(snap: Snapshot) -> Screen:
    s, d = snap.session, _data(snap)
    idn = s.identity
    data = {
        "name": idn.name if idn is not None else "", "id_number": mask_id(idn.id_number) if idn is not None else "",
        "kind": d.kind.value if d.kind else None, "address": d.proof.address if d.proof is not None else "",
        "relationship": d.relationship.value if d.relationship else None,
        "purpose": d.purpose.value if d.purpose else None, "phone": s.phone, "no_phone": s.no_phone,
    }
    return data, (CONFIRM, BACK, CANCEL)


def receipt(snap: Snapshot) -> Screen:
    d = _data(snap)
    r = d.receipt
    left = 0 if d.receipt_deadline is None else max(0, math.ceil(d.receipt_deadline - snap.now))
    data: dict[str, Any] = {"seconds_left": left}
    if r is not None:
        # RULES.md, Status shown to a resident: valid through add_months(declared, 12) - 1 day;
        # a permit from add_months(declared, 6) (the backend's dates, SH-REG-7).
        data.update(receipt_number=r.number, declared=r.declared.isoformat(),
                    permit_possible_on=r.eligible_on.isoformat(),
                    valid_through=(r.expires_on - timedelta(days=1)).isoformat())
    return data, (FINISH,)


def done(snap: Snapshot) -> Screen:
    return {}, (FINISH,)


SCREENS: dict[str, ScreenFn] = {
    "registration.notice": notice,
    "registration.read_id": read_id,
    "registration.proof_type": proof_type,
    "registration.proof": proof,
    "registration.relative": relative,
    "registration.promise": promise,
    "registration.purpose": purpose,
    "registration.address": address,
    "registration.phone": phone,
    "registration.confirm": confirm,
    "registration.receipt": receipt,
    "registration.done": done,
}
