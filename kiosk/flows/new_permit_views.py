"""What the new-permit screens show: state and session in, data and buttons out (docs/screens.md)."""

from __future__ import annotations

from typing import Any

from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import BACK, CANCEL, CONFIRM, FINISH, NO, NO_PHONE, YES, keypad
from kiosk.identity import mask_id
from kiosk.nations import nation_name
from kiosk.photo_guidance import OUTLINE
from kiosk.view import Button

Screen = tuple[dict[str, Any], tuple[Button, ...]]


def notice(snap: Snapshot) -> Screen:
    return {}, (CONFIRM, CANCEL)


def read_id(snap: Snapshot) -> Screen:
    return {"error": snap.session.read_error}, (CANCEL,)


def residence(snap: Snapshot) -> Screen:
    return {"address": snap.session.registered_address or ""}, (YES, NO, CANCEL)


def photo(snap: Snapshot) -> Screen:
    s = snap.session
    busy = s.photo_request is not None
    # The live preview: the display blits the camera's frames itself (devices/camera_preview.py);
    # the view only says that it is on, where the head outline goes, the advice and the countdown.
    data = {"attempt": s.photo_attempts + (0 if busy else 1), "max_attempts": snap.photo_max_tries,
            "problem": s.photo_problem, "busy": busy, "preview": True, "outline": list(OUTLINE),
            "guidance": s.photo_guidance, "countdown": s.countdown, "retake": s.face_mismatches > 0}
    return data, (Button("capture", "button.capture", enabled=not busy and s.countdown is None), CANCEL)


def retake(snap: Snapshot) -> Screen:
    """FACE_MISMATCH the first time: one more photo is offered (issue 12)."""
    return {}, (CONFIRM, CANCEL)


def details(snap: Snapshot) -> Screen:
    s = snap.session
    idn = s.identity
    data: dict[str, Any] = {}
    if idn is not None:
        data.update(
            name=idn.name, sex=idn.sex.value if idn.sex else "", nation=nation_name(idn.nation),
            birth=idn.birth.isoformat() if idn.birth else "", id_number=mask_id(idn.id_number),
            id_address=idn.address, residence_address=s.registered_address or "", photo=s.portrait,
            id_photo=s.id_photo,
        )
    return data, (CONFIRM, BACK, CANCEL)


def phone(snap: Snapshot) -> Screen:
    """Confirm is on once a digit is typed: a wrong number is then told what is wrong (kiosk/phone.py)."""
    s = snap.session
    keys = keypad(bool(s.phone))
    return {"digits": s.phone, "error": s.phone_error}, (*keys[:-1], NO_PHONE, keys[-1])


# The issuance's steps (kiosk/issuance.IssuanceStep) as the resident's three: taking a blank card,
# making it (the face, then the chip, which residents are not told of), handing it out. Without
# this, every step after the print but the last showed the first one spinning again.
SHOWN_STEP = {"feed": "feed", "ticket": "feed", "print": "print", "to_encoder": "print", "encode": "print",
              "verify": "print", "present": "present"}


def issuing(snap: Snapshot) -> Screen:
    return {"step": SHOWN_STEP.get(snap.session.issuing_step or "", "feed")}, ()


def done(snap: Snapshot) -> Screen:
    g = snap.session.grant
    data: dict[str, Any] = {} if g is None else {"permit_number": g.number, "valid_until": g.valid_until.isoformat()}
    data["no_phone"] = snap.session.no_phone  # SH-END-4's SMS will not come: the screen says where to look
    return data, (FINISH,)


SCREENS: dict[str, ScreenFn] = {
    "new_permit.notice": notice,
    "new_permit.read_id": read_id,
    "new_permit.residence": residence,
    "new_permit.photo": photo,
    "new_permit.retake": retake,
    "new_permit.details": details,
    "new_permit.phone": phone,
    "new_permit.issuing": issuing,
    "new_permit.done": done,
}
