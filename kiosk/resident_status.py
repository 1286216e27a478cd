"""What the status query shows a resident, computed by the kiosk (RULES.md, "Status shown to a resident").

The backend reports its facts (declared date, validities, whether the permit is cancelled) and its
own reading of them; the screen shows what this module computes from the facts, and
`disagreement` names where the backend's reading differs in a way that would change what the
resident is told (then nothing is shown: the pattern of `policy.grant_disagreement`).

- registration (SH-REG-7): valid through add_months(declared, 12) - 1 day; a permit can be
  applied for from add_months(declared, 6).
- endorsement, with V the backend's validity: `passed` when V is later than the card's validity
  (SH-END-4: the card face needs a rewrite); otherwise by V's window (SH-END-1, BJ-END-1):
  `not_due` before V - 30 days, `open` through V, `grace` through the last day of grace
  (Shanghai V + 60 days, SH-END-2; Beijing has none), `lapsed` after it (SH-END-3). A cancelled
  permit has nothing to endorse (SH-PMT-7): `none`, as without a permit.
- points (SH-PTS-1): valid through V while the permit stands; suspended in the grace; void when
  lapsed or cancelled (kiosk.endorsement.points). The points notice (SH-PTS-2) only while valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kiosk.dates import Window, add_months, age_on
from kiosk.endorsement import PermitStanding, PointsState, points, window
from kiosk.policy import PolicyPack
from kiosk.reasons import Service
from kiosk.records import PermitStatus


class Endorsement(StrEnum):
    PASSED = "passed"
    NOT_DUE = "not_due"
    OPEN = "open"
    GRACE = "grace"
    LAPSED = "lapsed"
    NONE = "none"  # no permit, or a cancelled one


_BY_WINDOW = {Window.NOT_DUE: Endorsement.NOT_DUE, Window.ON_TIME: Endorsement.OPEN,
              Window.GRACE: Endorsement.GRACE, Window.LAPSED: Endorsement.LAPSED}


@dataclass(frozen=True)
class RegistrationShown:
    declared: date
    valid_through: date
    permit_possible_on: date
    expired: bool


@dataclass(frozen=True)
class EndorsementShown:
    state: Endorsement
    opens: date | None  # V - 30 days of the window the state is about
    closes: date | None  # its last day: the end of grace (Beijing: V itself)


@dataclass(frozen=True)
class PointsShown:
    state: PointsState
    valid_until: date | None


def registration(declared: date, today: date, pack: PolicyPack) -> RegistrationShown:
    """SH-REG-7: a year's validity (its last day is the day before the anniversary), six months' wait."""
    ends = add_months(declared, pack.registration_valid_months)
    return RegistrationShown(declared, ends - timedelta(days=1),
                             add_months(declared, pack.registration_wait_months), today >= ends)


def endorsement(standing: PermitStanding | None, card_valid_until: date | None, today: date,
                pack: PolicyPack) -> EndorsementShown:
    """The endorsement state and the dates of the window it is about.

    Passed: the window of the validity the card still shows (the one the endorsement renewed).
    Otherwise: the window of the backend's validity V.
    """
    if standing is None or card_valid_until is None or standing.status is PermitStatus.CANCELLED:
        return EndorsementShown(Endorsement.NONE, None, None)
    if standing.valid_until > card_valid_until:  # SH-END-4
        w = window(card_valid_until, pack)
        return EndorsementShown(Endorsement.PASSED, w.opens, w.grace_ends)
    w = window(standing.valid_until, pack)
    return EndorsementShown(_BY_WINDOW[w.position(today)], w.opens, w.grace_ends)


def points_shown(standing: PermitStanding | None, today: date, pack: PolicyPack) -> PointsShown:
    p = points(standing, today, pack)
    return PointsShown(p.state, p.valid_until)


def offer(reg: RegistrationShown | None, standing: PermitStanding | None, shown: EndorsementShown,
          birth: date | None, today: date, pack: PolicyPack) -> Service | None:
    """The one next service the screen recommends, where the kiosk can serve it.

    A passed endorsement on an old card face → the card-face rewrite (SH-END-4), unless a reported
    move blocks it (SH-END-5); no registration or an expired one → declare it (SH-REG-7); a
    registration six months old and no permit → a new permit. A minor is served by neither a
    registration nor a new permit here (SH-AGE-1), so neither is offered to one.
    """
    if shown.state is Endorsement.PASSED and standing is not None and not standing.address_changed:
        return Service.CARD_REWRITE
    adult = birth is None or age_on(birth, today) >= pack.min_age
    if not adult:
        return None
    if reg is None or reg.expired:
        return Service.REGISTRATION
    if standing is None and today >= reg.permit_possible_on:
        return Service.NEW_PERMIT
    return None


@dataclass(frozen=True)
class Disagreement:
    """What differs: `what` (registration | endorsement | points) and both readings, as text."""

    what: str
    backend: str
    kiosk: str


def _text(values: tuple[object, ...]) -> str:
    return "/".join(v.isoformat() if isinstance(v, date) else str(v) for v in values)


def disagreement(*, reg: RegistrationShown | None, backend_reg: tuple[date, date | None, bool] | None,
                 shown: EndorsementShown, backend_state: str | None,
                 pts: PointsShown, backend_points: tuple[str, date | None]) -> Disagreement | None:
    """Where the backend's reading differs from the kiosk's in what the resident would be told.

    `backend_reg` is (eligible_on, valid_through, expired); `backend_state` the backend's endorsement
    state (not compared for a cancelled permit, which the kiosk shows as `none`); `backend_points`
    its points state and valid-until."""
    if reg is not None and backend_reg is not None:
        mine = (reg.permit_possible_on, reg.valid_through, reg.expired)
        if backend_reg != mine:
            return Disagreement("registration", _text(backend_reg), _text(mine))
    if shown.state is not Endorsement.NONE and backend_state is not None and backend_state != shown.state.value:
        return Disagreement("endorsement", backend_state, shown.state.value)
    mine_points = (pts.state.value, pts.valid_until)
    if backend_points != mine_points:
        return Disagreement("points", _text(backend_points), _text(mine_points))
    return None
