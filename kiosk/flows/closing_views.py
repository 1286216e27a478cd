"""The views of the screens that end a session, shared by the ending and the services' own last
steps (not a flow): refusal, fault, a kept card, the last warning before a retract, goodbye.

Each says what happened, truthfully (issue 13): goodbye's words are per outcome, the ID card is
asked for only when one was read, a kept card's retention number is shown as a QR code and in
digits, and a refusal or fault offers a QR code with its reason code and the date to come back
(kiosk/retention.py, docs/protocols/resident-qr.md).
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from kiosk.flows.base import Snapshot
from kiosk.flows.buttons import UNDERSTOOD
from kiosk.reasons import Outcome, Reason, Service
from kiosk.retention import referral_payload
from kiosk.session import Session
from kiosk.view import Button

Screen = tuple[dict[str, Any], tuple[Button, ...]]
RETRACT_CUE = "retract_warning"  # the sound cue hook's name (View data `cue`)


class EndingKind(StrEnum):
    """What goodbye says happened: one set of words each (goodbye.outcome.<value>)."""

    ISSUED = "issued"
    REGISTERED = "registered"
    CARD_REWRITTEN = "card_rewritten"
    INFO_SHOWN = "info_shown"
    REFUSED = "refused"
    FAULT = "fault"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    CARD_KEPT = "card_kept"
    NOTHING_DONE = "nothing_done"


SERVED = {Outcome.ISSUED: EndingKind.ISSUED, Outcome.REGISTERED: EndingKind.REGISTERED,
          Outcome.CARD_REWRITTEN: EndingKind.CARD_REWRITTEN, Outcome.INFO_SHOWN: EndingKind.INFO_SHOWN}
FAULTS = (Reason.DEVICE_FAULT, Reason.BACKEND_UNAVAILABLE)


def ending_of(s: Session) -> EndingKind:
    if s.card_retained or s.retention is not None:
        return EndingKind.CARD_KEPT
    if s.outcome in SERVED:
        return SERVED[s.outcome]
    if s.outcome is Outcome.COUNTER_REFERRAL:
        return EndingKind.FAULT if s.reason in FAULTS else EndingKind.REFUSED
    if s.reason is Reason.TIMEOUT:
        return EndingKind.TIMED_OUT
    # Cancelled before anything was read or sent: nothing was done, and nothing needs undoing.
    return EndingKind.CANCELLED if started(s) else EndingKind.NOTHING_DONE


def started(s: Session) -> bool:
    """Anything of the resident's was read or sent: an ID card, a permit card, an application."""
    return s.identity is not None or s.card_address is not None or s.rewrite_error is not None


def retention_data(s: Session) -> dict[str, Any]:
    r = s.retention
    if r is None:
        return {"retention_number": None, "retention_qr": None, "terminal": None}
    return {"retention_number": r.number, "retention_qr": r.payload(), "terminal": r.terminal}


def _referral(snap: Snapshot, reason: Reason | None) -> str | None:
    if reason is None or not snap.terminal or snap.today is None:
        return None
    return referral_payload(reason, snap.today, snap.session.available_on, snap.terminal)


def refusal(snap: Snapshot, offer: Service | None) -> Screen:
    s = snap.session
    reason = s.reason or (s.refusal.reason if s.refusal else None)
    buttons: tuple[Button, ...] = (UNDERSTOOD,)
    if offer is not None and offer in snap.offered and s.service is not offer:
        buttons = (Button(f"service.{offer.value}", f"offer.{offer.value}"), UNDERSTOOD)
    return ({"reason": str(reason or ""), "available_on": s.available_on.isoformat() if s.available_on else None,
             "offer": offer.value if offer is not None and len(buttons) > 1 else None,
             "referral_qr": _referral(snap, reason)},
            buttons)


def fault(snap: Snapshot) -> Screen:
    s = snap.session
    return ({"reason": str(s.reason), "card_retained": s.card_retained, "device": s.fault_device,
             "detail": s.fault_detail, "service": s.service.value if s.service else None,
             "referral_qr": _referral(snap, s.reason), "card_moving": snap.card_moving, **retention_data(s)},
            # Not closed by a touch while a card is still being taken in: its retention number comes then.
            (replace(UNDERSTOOD, enabled=not snap.card_moving),))


def kept(snap: Snapshot) -> Screen:
    s = snap.session
    return {"service": s.service.value if s.service else None, "reason": str(s.reason),
            "id_card_used": s.identity is not None, **retention_data(s)}, \
        (replace(UNDERSTOOD, enabled=not snap.card_moving),)  # the number comes with the retract's answer


def last_call(snap: Snapshot) -> Screen:
    s = snap.session
    return {"service": s.service.value if s.service else None, "cue": RETRACT_CUE}, ()


def goodbye(snap: Snapshot) -> Screen:
    s = snap.session
    return {"outcome": str(s.outcome), "ending": ending_of(s).value, "id_card_used": s.identity is not None,
            "service": s.service.value if s.service else None}, ()
