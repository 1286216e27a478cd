"""Endorsement windows, renewal and the card-face rewrite decision (卡面擦写), as pure functions.

RULES.md "Card-face rewrite" and "Date conventions"; SH-END-1..5, BJ-END-1, SH-PTS-1. The simulated
backend decides with these functions and the kiosk can run them again on the backend's answer, so a
backend that disagrees with the rules is caught at the kiosk.

How the backend's record reads (the project's reading, also in docs/backend-api.yaml):
- `valid_from`/`valid_until` are the backend's current validity. An endorsement that passed has already
  moved them to the period it granted (`renewal`), whenever it passed.
- `endorsement` is the outcome of the latest endorsement: `passed` (the current validity is the one it
  granted), `not_passed` (it ran and failed), `none` (none since issue).
- The card shows `card_valid_until` (V). The card face is current when it shows the validity a passed
  endorsement granted and the next window has not opened; before that window, a card whose validity no
  endorsement has touched yet (a new permit) is "not due" instead, with the day the window opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kiosk.dates import EndorsementWindow, Window, add_months, format_validity
from kiosk.policy import PolicyPack, Refusal
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, PermitStatus

# RULES.md, Order of checks, card-face rewrite: the first that applies is the answer.
REWRITE_ORDER: tuple[Reason, ...] = (
    Reason.PERMIT_CANCELLED,
    Reason.ADDRESS_CHANGED,
    Reason.CARD_FACE_CURRENT,
    Reason.ENDORSEMENT_NOT_DUE,
    Reason.ENDORSEMENT_LAPSED,
    Reason.ENDORSEMENT_NOT_PASSED,
)


@dataclass(frozen=True)
class PermitStanding:
    """What the backend holds about a permit that the rewrite decision reads; nothing personal."""

    status: PermitStatus
    address_changed: bool  # SH-END-5: a reported move not yet settled at a service centre
    valid_from: date
    valid_until: date
    endorsement: EndorsementState


@dataclass(frozen=True)
class Rewrite:
    """Rewrite the card face and chip to this validity."""

    valid_from: date
    valid_until: date

    @property
    def printed(self) -> str:
        return format_validity(self.valid_from, self.valid_until)


class PointsState(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"  # within grace: the permit's functions are suspended (SH-END-2), not void
    VOID = "void"  # SH-PTS-1: cancelled permit or lapsed endorsement
    NONE = "none"  # no permit


@dataclass(frozen=True)
class Points:
    state: PointsState
    valid_until: date | None = None  # the permit's validity while the points stand
    reason: Reason | None = None  # PERMIT_CANCELLED or ENDORSEMENT_LAPSED when void


def window(valid_until: date, pack: PolicyPack) -> EndorsementWindow:
    """SH-END-1 (30 days before, 60 after) or BJ-END-1 (30 days before, no grace), from the pack."""
    return EndorsementWindow(valid_until, pack.endorsement_before_days, pack.endorsement_grace_days)


def renewal(valid_until: date, endorsed_on: date, pack: PolicyPack) -> tuple[date, date]:
    """The period an endorsement on `endorsed_on` grants (RULES.md, Renewal).

    On time or within grace, continuity is kept: V to add_months(V, 12). After the grace (SH-END-3; in
    Beijing any day after V, BJ-END-1) the period, and the years of residence, restart from that day.
    """
    months = pack.permit_valid_months
    if window(valid_until, pack).position(endorsed_on) is Window.LAPSED:
        return endorsed_on, add_months(endorsed_on, months)
    return valid_until, add_months(valid_until, months)


def rewrite_decision(
    standing: PermitStanding, card_valid_until: date, today: date, pack: PolicyPack
) -> Rewrite | Refusal:
    """Whether a card showing `card_valid_until` may be rewritten today, in the order of REWRITE_ORDER."""
    if standing.status is PermitStatus.CANCELLED:  # SH-PMT-7: a cancelled permit serves nothing
        return Refusal(Reason.PERMIT_CANCELLED)
    if standing.address_changed:  # SH-END-5: no self-service rewrite until the move is reported
        return Refusal(Reason.ADDRESS_CHANGED)
    card = window(card_valid_until, pack)
    if (
        standing.valid_until == card_valid_until
        and standing.endorsement is EndorsementState.PASSED
        and today < card.opens
    ):
        return Refusal(Reason.CARD_FACE_CURRENT)
    if standing.valid_until > card_valid_until:  # SH-END-4: passed, whenever it passed
        return Rewrite(standing.valid_from, standing.valid_until)
    position = card.position(today)
    if position is Window.NOT_DUE:
        return Refusal(Reason.ENDORSEMENT_NOT_DUE, available_on=card.opens)
    if position is Window.LAPSED:  # SH-END-3, BJ-END-1
        return Refusal(Reason.ENDORSEMENT_LAPSED)
    return Refusal(Reason.ENDORSEMENT_NOT_PASSED)  # SH-END-2: suspended until endorsed


def points(standing: PermitStanding | None, today: date, pack: PolicyPack) -> Points:
    """SH-PTS-1: points are valid as long as the permit; a lapsed endorsement or cancellation voids them."""
    if standing is None:
        return Points(PointsState.NONE)
    if standing.status is PermitStatus.CANCELLED:
        return Points(PointsState.VOID, reason=Reason.PERMIT_CANCELLED)
    position = window(standing.valid_until, pack).position(today)
    if position is Window.LAPSED:
        return Points(PointsState.VOID, reason=Reason.ENDORSEMENT_LAPSED)
    if position is Window.GRACE:
        return Points(PointsState.SUSPENDED, standing.valid_until)
    return Points(PointsState.VALID, standing.valid_until)
