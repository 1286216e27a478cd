"""The date conventions of RULES.md, to the day, against a straightforward reference."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kiosk.dates import (
    EndorsementWindow,
    Window,
    add_months,
    age_on,
    format_validity,
    full_months_passed,
    renewed_period,
)


def reference_add_months(d: date, n: int) -> date:
    """Count months one at a time and walk back from the wanted day until it exists."""
    year, month = d.year, d.month
    for _ in range(n):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    day = d.day
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def test_add_months_month_end_rule():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)  # leap year
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 3, 31), 1) == date(2026, 4, 30)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 11, 22), 12) == date(2027, 11, 22)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 36))
def test_add_months_matches_reference(d: date, n: int):
    assert add_months(d, n) == reference_add_months(d, n)


def test_sh_reg_7_six_full_months_to_the_day():
    declared = date(2026, 5, 22)
    assert not full_months_passed(declared, 6, date(2026, 11, 21))
    assert full_months_passed(declared, 6, date(2026, 11, 22))


def test_age_counts_from_the_birthday_itself():
    assert age_on(date(2010, 11, 22), date(2026, 11, 21)) == 15
    assert age_on(date(2010, 11, 22), date(2026, 11, 22)) == 16
    # 29 February: a full year more only once the day after 28 February has come.
    assert age_on(date(2008, 2, 29), date(2024, 2, 28)) == 15
    assert age_on(date(2008, 2, 29), date(2024, 2, 29)) == 16
    assert age_on(date(2008, 2, 29), date(2025, 2, 28)) == 16
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def reference_birthday(birth: date, year: int) -> date:
    """The day a birthday falls on in a given year: 29 February counts from 1 March in other years."""
    try:
        return date(year, birth.month, birth.day)
    except ValueError:
        return date(year, 3, 1)


@given(st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 12, 31)), st.integers(0, 30000))
def test_age_matches_reference(birth: date, days: int):
    today = birth + timedelta(days=days)
    years = 0
    while reference_birthday(birth, birth.year + years + 1) <= today:
        years += 1
    assert age_on(birth, today) == years


def test_sh_end_1_endorsement_window_boundaries():
    w = EndorsementWindow(date(2026, 12, 10), before_days=30, grace_days=60)
    assert w.position(date(2026, 11, 9)) is Window.NOT_DUE
    assert w.position(date(2026, 11, 10)) is Window.ON_TIME
    assert w.position(date(2026, 12, 10)) is Window.ON_TIME
    assert w.position(date(2026, 12, 11)) is Window.GRACE
    assert w.position(date(2027, 2, 8)) is Window.GRACE
    assert w.position(date(2027, 2, 9)) is Window.LAPSED
    assert w.opens == date(2026, 11, 10)


def test_bj_end_1_no_grace():
    w = EndorsementWindow(date(2026, 12, 10), before_days=30, grace_days=0)
    assert w.position(date(2026, 12, 10)) is Window.ON_TIME
    assert w.position(date(2026, 12, 11)) is Window.LAPSED


def test_sh_end_3_renewal_keeps_or_restarts_the_period():
    v = date(2026, 12, 10)
    assert renewed_period(v, date(2026, 12, 1), Window.ON_TIME) == (v, date(2027, 12, 10))
    assert renewed_period(v, date(2027, 1, 20), Window.GRACE) == (v, date(2027, 12, 10))
    assert renewed_period(v, date(2027, 3, 1), Window.LAPSED) == (date(2027, 3, 1), date(2028, 3, 1))


def test_validity_as_printed():
    assert format_validity(date(2026, 11, 22), date(2027, 11, 22)) == "2026.11.22-2027.11.22"
