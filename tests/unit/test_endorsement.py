"""kiosk.endorsement against a straightforward reference: RULES.md "Card-face rewrite" and "Renewal".

The reference below counts days with integers (days before V, days after V) instead of using the
module's windows, and builds the backend's record the way an endorsement would have left it, so
that the two are written independently. Both packs: Shanghai (grace 60 days) and Beijing (none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from kiosk.dates import Window, add_months
from kiosk.endorsement import (
    REWRITE_ORDER,
    PermitStanding,
    Points,
    PointsState,
    Rewrite,
    points,
    renewal,
    rewrite_decision,
    window,
)
from kiosk.policy import PolicyPack, Refusal, load_pack
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, PermitStatus

SHANGHAI = load_pack("shanghai")
BEIJING = load_pack("beijing")
DAYS_BEFORE = 30  # SH-END-1, BJ-END-1: the window opens 30 days before V


# --- the reference ---------------------------------------------------------------------------


def ref_renewal(v: date, endorsed_on: date, grace_days: int) -> tuple[date, date]:
    """RULES.md Renewal: up to grace days after V keeps continuity; later restarts from the day."""
    if (endorsed_on - v).days <= grace_days:
        return v, add_months(v, 12)
    return endorsed_on, add_months(endorsed_on, 12)


@dataclass(frozen=True)
class Case:
    """One permit as the backend holds it and the card the resident inserts."""

    v: date  # the validity the permit had before its latest endorsement (what an old card shows)
    today: date
    state: EndorsementState
    endorsed_on: date | None  # with PASSED: the day it passed
    rewritten: bool  # with PASSED: the card already shows the new validity
    cancelled: bool = False
    address_changed: bool = False

    def record(self, grace_days: int) -> tuple[PermitStanding, date]:
        """The backend's standing and what the card shows."""
        if self.state is EndorsementState.PASSED:
            assert self.endorsed_on is not None
            start, end = ref_renewal(self.v, self.endorsed_on, grace_days)
            card = end if self.rewritten else self.v
        else:
            start, end, card = add_months(self.v, -12), self.v, self.v
        status = PermitStatus.CANCELLED if self.cancelled else PermitStatus.ACTIVE
        return PermitStanding(status, self.address_changed, start, end, self.state), card


def reference_decision(case: Case, grace_days: int) -> Rewrite | Refusal:
    if case.cancelled:
        return Refusal(Reason.PERMIT_CANCELLED)
    if case.address_changed:
        return Refusal(Reason.ADDRESS_CHANGED)
    standing, card = case.record(grace_days)
    if case.state is EndorsementState.PASSED and not case.rewritten:
        return Rewrite(standing.valid_from, standing.valid_until)
    days_left = (card - case.today).days  # > 30: before the window opens
    if case.state is EndorsementState.PASSED and days_left > DAYS_BEFORE:
        return Refusal(Reason.CARD_FACE_CURRENT)
    if days_left > DAYS_BEFORE:
        return Refusal(Reason.ENDORSEMENT_NOT_DUE, available_on=card - timedelta(days=DAYS_BEFORE))
    if -days_left > grace_days:
        return Refusal(Reason.ENDORSEMENT_LAPSED)
    return Refusal(Reason.ENDORSEMENT_NOT_PASSED)


# --- strategies ---------------------------------------------------------------------------------

validities = st.dates(min_value=date(2000, 1, 1), max_value=date(2150, 12, 31))


# Days from the card's V: the edges of both packs' windows, and anywhere around them.
EDGES = (-31, -30, -29, -1, 0, 1, 59, 60, 61)
offsets = st.one_of(st.sampled_from(EDGES), st.integers(min_value=-400, max_value=500))


@st.composite
def cases(draw: st.DrawFn, *, flags: bool = True) -> Case:
    v = draw(validities)
    state = draw(st.sampled_from(EndorsementState))
    endorsed_on, rewritten, card = None, False, v
    if state is EndorsementState.PASSED:
        # On time, in grace, or late at a service centre.
        endorsed_on = v + timedelta(days=draw(st.integers(min_value=-DAYS_BEFORE, max_value=400)))
        rewritten = draw(st.booleans())
        if rewritten:
            card = ref_renewal(v, endorsed_on, 60)[1]  # either pack's: only moves `today` around it
    today = card + timedelta(days=draw(offsets))
    assume(endorsed_on is None or endorsed_on <= today)  # an endorsement passed is in the past
    cancelled = flags and draw(st.integers(0, 9)) == 0
    address_changed = flags and draw(st.integers(0, 9)) == 0
    return Case(v, today, state, endorsed_on, rewritten, cancelled, address_changed)


def decide(case: Case, pack: PolicyPack) -> Rewrite | Refusal:
    standing, card = case.record(pack.endorsement_grace_days)
    return rewrite_decision(standing, card, case.today, pack)


# --- the rewrite decision against the reference --------------------------------------------------


# The rarest branch by chance: a rewritten card on the day its next window opens, and the day before.
OPENING_DAY = Case(date(2026, 12, 10), date(2027, 11, 10), EndorsementState.PASSED, date(2026, 12, 1), True)
DAY_BEFORE_OPENING = Case(date(2026, 12, 10), date(2027, 11, 9), EndorsementState.PASSED, date(2026, 12, 1), True)


@settings(max_examples=500)  # pure date arithmetic: 500 cases take well under a second
@given(cases())
@example(OPENING_DAY)
@example(DAY_BEFORE_OPENING)
def test_sh_end_1_to_5_rewrite_decision_matches_the_reference_shanghai(case: Case) -> None:
    assert decide(case, SHANGHAI) == reference_decision(case, grace_days=60)


@settings(max_examples=500)
@given(cases())
@example(OPENING_DAY)
@example(DAY_BEFORE_OPENING)
def test_bj_end_1_rewrite_decision_matches_the_reference_beijing(case: Case) -> None:
    assert decide(case, BEIJING) == reference_decision(case, grace_days=0)


@pytest.mark.parametrize("pack", [SHANGHAI, BEIJING], ids=["shanghai", "beijing"])
@given(case=cases())
def test_sh_pmt_7_and_sh_end_5_cancellation_then_address_change_come_first(pack: PolicyPack, case: Case) -> None:
    result = decide(case, pack)
    if case.cancelled:
        assert result == Refusal(Reason.PERMIT_CANCELLED)
    elif case.address_changed:
        assert result == Refusal(Reason.ADDRESS_CHANGED)
    else:
        assert isinstance(result, Rewrite) or result.reason not in (Reason.PERMIT_CANCELLED, Reason.ADDRESS_CHANGED)


@pytest.mark.parametrize("pack", [SHANGHAI, BEIJING], ids=["shanghai", "beijing"])
@given(case=cases(flags=False))
def test_sh_end_4_a_passed_endorsement_is_rewritten_whenever_it_passed(pack: PolicyPack, case: Case) -> None:
    result = decide(case, pack)
    passed_not_shown = case.state is EndorsementState.PASSED and not case.rewritten
    assert isinstance(result, Rewrite) == passed_not_shown
    if isinstance(result, Rewrite):
        assert result.valid_until == add_months(result.valid_from, 12)
        assert result.valid_from >= case.v  # continuity from V, or a restart later (SH-END-3)


@pytest.mark.parametrize("pack", [SHANGHAI, BEIJING], ids=["shanghai", "beijing"])
@given(case=cases(flags=False))
def test_sh_end_1_not_due_shows_the_day_the_window_opens(pack: PolicyPack, case: Case) -> None:
    standing, card = case.record(pack.endorsement_grace_days)
    result = rewrite_decision(standing, card, case.today, pack)
    if isinstance(result, Refusal) and result.reason is Reason.ENDORSEMENT_NOT_DUE:
        assert result.available_on == card - timedelta(days=30)
        assert case.today < result.available_on
        # On the day it names, the answer is no longer "not due".
        assert rewrite_decision(standing, card, result.available_on, pack) != result
    elif isinstance(result, Refusal):
        assert result.available_on is None


# --- the window's edges, day by day --------------------------------------------------------------


V = date(2026, 12, 10)
NOT_DUE_V = Refusal(Reason.ENDORSEMENT_NOT_DUE, date(2026, 11, 10))


@pytest.mark.parametrize(
    ("pack", "today", "expected"),
    [
        (SHANGHAI, date(2026, 11, 9), NOT_DUE_V),  # V - 31
        (SHANGHAI, date(2026, 11, 10), Refusal(Reason.ENDORSEMENT_NOT_PASSED)),  # V - 30: opens (SH-END-1)
        (SHANGHAI, V, Refusal(Reason.ENDORSEMENT_NOT_PASSED)),  # the last day on time
        (SHANGHAI, date(2027, 2, 8), Refusal(Reason.ENDORSEMENT_NOT_PASSED)),  # V + 60: last day of grace
        (SHANGHAI, date(2027, 2, 9), Refusal(Reason.ENDORSEMENT_LAPSED)),  # V + 61 (SH-END-3)
        (BEIJING, date(2026, 11, 9), NOT_DUE_V),
        (BEIJING, V, Refusal(Reason.ENDORSEMENT_NOT_PASSED)),
        (BEIJING, date(2026, 12, 11), Refusal(Reason.ENDORSEMENT_LAPSED)),  # V + 1: no grace (BJ-END-1)
    ],
)
def test_sh_end_1_sh_end_3_bj_end_1_window_edges(pack: PolicyPack, today: date, expected: Refusal) -> None:
    standing = PermitStanding(PermitStatus.ACTIVE, False, date(2025, 12, 10), V, EndorsementState.NONE)
    assert rewrite_decision(standing, V, today, pack) == expected


def test_sh_end_4_card_face_current_after_the_rewrite_until_the_next_window() -> None:
    standing = PermitStanding(PermitStatus.ACTIVE, False, V, date(2027, 12, 10), EndorsementState.PASSED)
    assert rewrite_decision(standing, V, date(2026, 12, 1), SHANGHAI) == Rewrite(V, date(2027, 12, 10))
    assert rewrite_decision(standing, V, date(2026, 12, 1), SHANGHAI).printed == "2026.12.10-2027.12.10"
    shown = date(2027, 12, 10)
    assert rewrite_decision(standing, shown, date(2027, 11, 9), SHANGHAI) == Refusal(Reason.CARD_FACE_CURRENT)
    # The next window is open and this year's endorsement has not passed (yet).
    assert rewrite_decision(standing, shown, date(2027, 11, 10), SHANGHAI) == Refusal(Reason.ENDORSEMENT_NOT_PASSED)


# --- renewal (RULES.md Renewal, SH-END-3, BJ-END-1) ----------------------------------------------


@pytest.mark.parametrize(("pack", "grace"), [(SHANGHAI, 60), (BEIJING, 0)], ids=["shanghai", "beijing"])
@given(v=validities, offset=st.integers(min_value=-30, max_value=400))
def test_sh_end_3_bj_end_1_renewal_keeps_continuity_until_the_grace_ends(
    pack: PolicyPack, grace: int, v: date, offset: int
) -> None:
    endorsed_on = v + timedelta(days=offset)
    assert renewal(v, endorsed_on, pack) == ref_renewal(v, endorsed_on, grace)


@pytest.mark.parametrize(
    ("pack", "v", "endorsed_on", "expected"),
    [
        (SHANGHAI, date(2026, 8, 31), date(2026, 8, 1), (date(2026, 8, 31), date(2027, 8, 31))),  # on time
        (SHANGHAI, date(2026, 8, 31), date(2026, 10, 30), (date(2026, 8, 31), date(2027, 8, 31))),  # V + 60
        (SHANGHAI, date(2026, 8, 31), date(2026, 10, 31), (date(2026, 10, 31), date(2027, 10, 31))),  # restarts
        (SHANGHAI, date(2027, 2, 28), date(2028, 2, 29), (date(2028, 2, 29), date(2029, 2, 28))),  # month end
        (BEIJING, date(2026, 8, 31), date(2026, 8, 31), (date(2026, 8, 31), date(2027, 8, 31))),
        (BEIJING, date(2026, 8, 31), date(2026, 9, 1), (date(2026, 9, 1), date(2027, 9, 1))),  # BJ-END-1
    ],
)
def test_sh_end_3_bj_end_1_renewal_examples(
    pack: PolicyPack, v: date, endorsed_on: date, expected: tuple[date, date]
) -> None:
    assert renewal(v, endorsed_on, pack) == expected


# --- points (SH-PTS-1) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pack", "grace"), [(SHANGHAI, 60), (BEIJING, 0)], ids=["shanghai", "beijing"])
@given(v=validities, offset=st.integers(min_value=-400, max_value=400), cancelled=st.booleans())
def test_sh_pts_1_points_last_as_long_as_the_permit(
    pack: PolicyPack, grace: int, v: date, offset: int, cancelled: bool
) -> None:
    status = PermitStatus.CANCELLED if cancelled else PermitStatus.ACTIVE
    standing = PermitStanding(status, False, add_months(v, -12), v, EndorsementState.NONE)
    today = v + timedelta(days=offset)
    if cancelled:
        expected = Points(PointsState.VOID, reason=Reason.PERMIT_CANCELLED)
    elif offset > grace:
        expected = Points(PointsState.VOID, reason=Reason.ENDORSEMENT_LAPSED)
    elif offset > 0:
        expected = Points(PointsState.SUSPENDED, v)  # SH-END-2: suspended, not void
    else:
        expected = Points(PointsState.VALID, v)
    assert points(standing, today, pack) == expected


def test_sh_pts_1_no_permit_no_points() -> None:
    assert points(None, V, SHANGHAI) == Points(PointsState.NONE)


# --- the pack's numbers are what the window reads ------------------------------------------------


def test_sh_end_1_bj_end_1_window_reads_the_pack() -> None:
    assert (window(V, SHANGHAI).opens, window(V, SHANGHAI).grace_ends) == (date(2026, 11, 10), date(2027, 2, 8))
    assert (window(V, BEIJING).opens, window(V, BEIJING).grace_ends) == (date(2026, 11, 10), V)
    assert window(V, BEIJING).position(date(2026, 12, 11)) is Window.LAPSED


def test_rewrite_order_is_rules_md() -> None:
    assert REWRITE_ORDER[:3] == (Reason.PERMIT_CANCELLED, Reason.ADDRESS_CHANGED, Reason.CARD_FACE_CURRENT)
    assert set(REWRITE_ORDER[3:]) == {
        Reason.ENDORSEMENT_NOT_DUE, Reason.ENDORSEMENT_NOT_PASSED, Reason.ENDORSEMENT_LAPSED,
    }


# --- Beijing: the rules the Beijing pack enforces at the card-face rewrite ----------------------

BJ = load_pack("beijing")


def test_bj_chg_1_a_reported_address_change_blocks_the_rewrite() -> None:
    # BJ-CHG-1: a changed address must be reported; until it is settled nothing is rewritten here.
    v = date(2026, 12, 10)
    standing = PermitStanding(PermitStatus.ACTIVE, True, v, date(2027, 12, 10), EndorsementState.PASSED)
    assert rewrite_decision(standing, v, date(2026, 11, 22), BJ) == Refusal(Reason.ADDRESS_CHANGED)


def test_bj_pmt_3_a_cancelled_permit_serves_nothing() -> None:
    # BJ-PMT-3 adds death to the reasons for cancellation; whatever the reason, a cancelled permit
    # is refused first, before any window check.
    v = date(2026, 12, 10)
    standing = PermitStanding(PermitStatus.CANCELLED, False, v, date(2027, 12, 10), EndorsementState.PASSED)
    assert rewrite_decision(standing, v, date(2026, 11, 22), BJ) == Refusal(Reason.PERMIT_CANCELLED)
