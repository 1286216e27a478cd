"""kiosk.resident_status: what the status query shows (RULES.md, "Status shown to a resident").

Each boundary on both sides, both packs, against dates written out by hand, and the backend's
reading compared with the kiosk's (a disagreement shows nothing).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk import backend as bk
from kiosk.dates import Window
from kiosk.endorsement import PermitStanding, Points, PointsState
from kiosk.flows.base import Snapshot
from kiosk.flows.status_query import disagreement, facts_of
from kiosk.flows.status_query_views import show
from kiosk.policy import load_pack
from kiosk.reasons import Reason, Service
from kiosk.records import EndorsementState, PermitStatus
from kiosk.resident_status import (
    Endorsement,
    EndorsementShown,
    PointsShown,
    endorsement,
    offer,
    points_shown,
    registration,
)
from kiosk.session import Session

SH = load_pack("shanghai")
BJ = load_pack("beijing")
V = date(2026, 12, 10)
ADULT = date(1990, 3, 7)


def standing(valid_until: date = V, *, status: PermitStatus = PermitStatus.ACTIVE, moved: bool = False,
             endorsed: EndorsementState = EndorsementState.NONE) -> PermitStanding:
    return PermitStanding(status, moved, date(valid_until.year - 1, valid_until.month, valid_until.day),
                          valid_until, endorsed)


def test_sh_reg_7_valid_through_the_day_before_the_anniversary_and_six_full_months():
    r = registration(date(2026, 4, 1), date(2026, 10, 20), SH)
    assert (r.valid_through, r.permit_possible_on, r.expired) == (date(2027, 3, 31), date(2026, 10, 1), False)
    month_end = registration(date(2026, 8, 31), date(2026, 9, 1), SH)  # add_months clamps to the month's end
    assert (month_end.valid_through, month_end.permit_possible_on) == (date(2027, 8, 30), date(2027, 2, 28))
    assert registration(date(2025, 11, 22), date(2026, 11, 21), SH).expired is False  # its last valid day
    assert registration(date(2025, 11, 22), date(2026, 11, 22), SH).expired is True


@pytest.mark.parametrize(("today", "state"), [
    (V - timedelta(days=31), Endorsement.NOT_DUE),  # SH-END-1: opens at V - 30
    (V - timedelta(days=30), Endorsement.OPEN),
    (V, Endorsement.OPEN),
    (V + timedelta(days=1), Endorsement.GRACE),  # SH-END-2: suspended, not cancelled
    (V + timedelta(days=60), Endorsement.GRACE),
    (V + timedelta(days=61), Endorsement.LAPSED),  # SH-END-3: years restart
])
def test_sh_end_1_2_3_states_on_both_sides_of_each_boundary(today: date, state: Endorsement):
    shown = endorsement(standing(), V, today, SH)
    assert shown == EndorsementShown(state, date(2026, 11, 10), date(2027, 2, 8))


@pytest.mark.parametrize(("today", "state"), [
    (V - timedelta(days=31), Endorsement.NOT_DUE),
    (V - timedelta(days=30), Endorsement.OPEN),
    (V, Endorsement.OPEN),
    (V + timedelta(days=1), Endorsement.LAPSED),  # BJ-END-1: no grace
])
def test_bj_end_1_has_no_grace(today: date, state: Endorsement):
    assert endorsement(standing(), V, today, BJ) == EndorsementShown(state, date(2026, 11, 10), V)


def test_sh_end_4_passed_when_the_backend_validity_is_later_than_the_card_whenever_it_passed():
    renewed = standing(date(2027, 12, 10), endorsed=EndorsementState.PASSED)
    for today in (date(2026, 11, 20), date(2027, 1, 5), date(2027, 11, 30)):
        shown = endorsement(renewed, V, today, SH)
        # the dates of the window the card still shows (the one the endorsement renewed)
        assert shown == EndorsementShown(Endorsement.PASSED, date(2026, 11, 10), date(2027, 2, 8))
    assert endorsement(renewed, V, date(2027, 1, 5), BJ).closes == V


def test_sh_pmt_7_a_cancelled_permit_has_nothing_to_endorse_and_no_permit_neither():
    assert endorsement(standing(status=PermitStatus.CANCELLED), V, V, SH).state is Endorsement.NONE
    assert endorsement(None, None, V, SH) == EndorsementShown(Endorsement.NONE, None, None)


@pytest.mark.parametrize(("today", "pack", "want"), [
    (V, SH, PointsShown(PointsState.VALID, V)),  # SH-PTS-1: valid through V
    (V + timedelta(days=1), SH, PointsShown(PointsState.SUSPENDED, V)),  # SH-END-2
    (V + timedelta(days=60), SH, PointsShown(PointsState.SUSPENDED, V)),
    (V + timedelta(days=61), SH, PointsShown(PointsState.VOID, None)),  # lapsed: void
    (V + timedelta(days=1), BJ, PointsShown(PointsState.VOID, None)),
])
def test_sh_pts_1_points_valid_through_v_void_once_lapsed(today: date, pack, want: PointsShown):
    assert points_shown(standing(), today, pack) == want


def test_sh_pts_1_points_of_a_cancelled_permit_are_void_and_none_without_one():
    assert points_shown(standing(status=PermitStatus.CANCELLED), V, SH).state is PointsState.VOID
    assert points_shown(None, V, SH) == PointsShown(PointsState.NONE, None)


def test_the_next_service_offered():
    today = date(2026, 11, 22)
    reg = registration(date(2026, 5, 22), today, SH)
    passed = standing(date(2027, 12, 10), endorsed=EndorsementState.PASSED)
    shown_passed = endorsement(passed, V, today, SH)
    none = endorsement(None, None, today, SH)
    assert offer(reg, passed, shown_passed, ADULT, today, SH) is Service.CARD_REWRITE  # SH-END-4
    moved = standing(date(2027, 12, 10), endorsed=EndorsementState.PASSED, moved=True)
    assert offer(reg, moved, shown_passed, ADULT, today, SH) is None  # SH-END-5 first
    assert offer(reg, None, none, ADULT, today, SH) is Service.NEW_PERMIT  # six full months to the day
    assert offer(reg, None, none, ADULT, today - timedelta(days=1), SH) is None  # one day too early
    assert offer(None, None, none, ADULT, today, SH) is Service.REGISTRATION
    expired = registration(date(2025, 11, 22), today, SH)
    assert offer(expired, standing(), endorsement(standing(), V, today, SH), ADULT, today, SH) is Service.REGISTRATION
    assert offer(reg, None, none, date(2012, 6, 1), today, SH) is None  # SH-AGE-1: neither service serves a minor
    cancelled = standing(status=PermitStatus.CANCELLED)
    assert offer(reg, cancelled, endorsement(cancelled, V, today, SH), ADULT, today, SH) is None


# --- the backend's reading against the kiosk's -------------------------------------------------------


def report(*, state: str = "open", pts: Points | None = None, eligible: date = date(2026, 11, 1),
           valid_through: date | None = date(2027, 4, 30), value: int | None = 80,
           notice: str | None = "JFSH1") -> bk.StatusReport:
    record = bk.PermitRecord("SH1", date(2025, 12, 10), standing())
    window = bk.WindowInfo(date(2026, 11, 10), V, date(2027, 2, 8), Window.ON_TIME)
    reg = bk.RegistrationInfo(date(2026, 5, 1), eligible, date(2027, 5, 1), False, "某地址", valid_through)
    return bk.StatusReport(reg, None, bk.PermitInfo(record, V, window, state),
                           pts or Points(PointsState.VALID, V), value, notice)


TODAY = date(2026, 11, 22)


def snapshot(facts: object, offered: tuple[Service, ...] = ()) -> Snapshot:
    return Snapshot("status_query.show", Session(service_data=facts), offered, (), (), 3)


def test_an_agreeing_backend_is_shown_with_the_kiosks_dates():
    facts = facts_of(report(), ADULT, TODAY, SH)
    assert disagreement(facts) is None
    data, buttons = show(snapshot(facts))
    assert (data["endorsement"], data["endorsement_opens"], data["endorsement_closes"]) == (
        "open", "2026-11-10", "2027-02-08")
    assert (data["reg_valid_through"], data["permit_possible_on"]) == ("2027-04-30", "2026-11-01")
    assert (data["points"], data["points_notice"], data["points_valid_until"]) == (80, "JFSH1", "2026-12-10")
    assert [b.id for b in buttons] == ["confirm"]


def test_the_offer_button_shows_only_where_the_kiosk_offers_that_service():
    facts = facts_of(report(), ADULT, TODAY, SH)
    passed = bk.StatusReport(facts.report.registration, None, bk.PermitInfo(
        bk.PermitRecord("SH1", date(2025, 12, 10), standing(date(2027, 12, 10), endorsed=EndorsementState.PASSED)),
        V, facts.report.permit.window if facts.report.permit else None, "passed"),  # type: ignore[arg-type]
        Points(PointsState.VALID, date(2027, 12, 10)), 80, "JFSH1")
    offered = facts_of(passed, ADULT, TODAY, SH)
    assert offered.offered is Service.CARD_REWRITE and disagreement(offered) is None
    data, buttons = show(snapshot(offered, (Service.CARD_REWRITE,)))
    assert data["offered"] == "card_rewrite" and [b.id for b in buttons] == ["service.card_rewrite", "confirm"]
    data, buttons = show(snapshot(offered))  # not offered now (the printer is down): the advice stays
    assert data["offered"] == "card_rewrite" and [b.id for b in buttons] == ["confirm"]


@pytest.mark.parametrize(("changed", "what"), [
    ({"state": "grace"}, "endorsement"),  # SH-END-2 by the backend's reading, on time by the kiosk's
    ({"pts": Points(PointsState.VOID, None, Reason.ENDORSEMENT_LAPSED)}, "points"),  # SH-PTS-1
    ({"pts": Points(PointsState.VALID, date(2027, 12, 10))}, "points"),
    ({"eligible": date(2026, 10, 1)}, "registration"),  # SH-REG-7
    ({"valid_through": date(2027, 5, 1)}, "registration"),
])
def test_a_backend_reading_that_differs_in_what_the_resident_is_told_is_a_disagreement(changed, what):
    facts = facts_of(report(**changed), ADULT, TODAY, SH)
    found = disagreement(facts)
    assert found is not None and found.what == what


def test_sh_pts_2_the_points_notice_is_not_shown_for_points_that_do_not_stand():
    # SH-PTS-2: a notice the backend sent while the kiosk reads the points as suspended is not drawn.
    grace_day = V + timedelta(days=3)
    rep = report(state="grace", pts=Points(PointsState.SUSPENDED, V))
    facts = facts_of(rep, ADULT, grace_day, SH)
    assert disagreement(facts) is None
    data, _ = show(snapshot(facts))
    assert data["points_state"] == "suspended" and data["points_notice"] is None
