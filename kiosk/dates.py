"""The date conventions of RULES.md, in one place for the kiosk and the simulated backend."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


def add_months(d: date, n: int) -> date:
    """Same day n months later; the last day of that month where the day does not exist."""
    month_index = d.year * 12 + (d.month - 1) + n
    year, month0 = divmod(month_index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def age_on(birth: date, today: date) -> int:
    """Age in full years; the birthday counts from its own day (29 Feb: from 1 Mar in other years)."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def full_months_passed(since: date, months: int, today: date) -> bool:
    """"满N个月": true from add_months(since, months) on."""
    return today >= add_months(since, months)


class Window(StrEnum):
    NOT_DUE = "not_due"
    ON_TIME = "on_time"
    GRACE = "grace"
    LAPSED = "lapsed"


@dataclass(frozen=True)
class EndorsementWindow:
    valid_until: date
    before_days: int
    grace_days: int

    @property
    def opens(self) -> date:
        return self.valid_until - timedelta(days=self.before_days)

    @property
    def grace_ends(self) -> date:
        return self.valid_until + timedelta(days=self.grace_days)

    def position(self, today: date) -> Window:
        if today < self.opens:
            return Window.NOT_DUE
        if today <= self.valid_until:
            return Window.ON_TIME
        if today <= self.grace_ends:
            return Window.GRACE
        return Window.LAPSED


def renewed_period(valid_until: date, endorsed_on: date, window: Window, months: int = 12) -> tuple[date, date]:
    """The new validity period after an endorsement (RULES.md, Renewal)."""
    if window is Window.LAPSED:
        return endorsed_on, add_months(endorsed_on, months)
    return valid_until, add_months(valid_until, months)


def format_card_date(d: date) -> str:
    return f"{d.year:04d}.{d.month:02d}.{d.day:02d}"


def format_validity(start: date, end: date) -> str:
    """The card face's validity: YYYY.MM.DD-YYYY.MM.DD."""
    return f"{format_card_date(start)}-{format_card_date(end)}"
