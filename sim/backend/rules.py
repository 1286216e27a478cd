"""This backend's reading of RULES.md's numbers and date conventions, and of GB 11643.

The numbers come from the city pack, config/policy/<city>.toml, read here with tomllib; only the
keys this backend needs are taken, so a pack may carry settings of the kiosk's alone.
"""

from __future__ import annotations

import calendar
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sim.backend.vocab import Position

PACK_DIR = Path(__file__).resolve().parents[2] / "config" / "policy"
PERMIT_PREFIX = {"shanghai": "SH", "beijing": "BJ"}


class PackError(ValueError):
    pass


@dataclass(frozen=True)
class Pack:
    city: str
    local_prefixes: tuple[str, ...]  # SH-PMT-1: an ID card address here is a local household registration
    min_age: int  # SH-AGE-1
    wait_months: int  # SH-REG-7: six full months
    registration_months: int  # SH-REG-7: valid for one year
    permit_months: int  # a permit's period
    before_days: int  # SH-END-1: the window opens V - 30 days
    grace_days: int  # SH-END-1: 60 days after V; BJ-END-1: none
    authority: str

    @property
    def permit_prefix(self) -> str:
        return PERMIT_PREFIX.get(self.city, self.city[:2].upper())


_KEYS = {
    "local_prefixes": "local_address_prefixes", "min_age": "min_age", "wait_months": "registration_wait_months",
    "registration_months": "registration_valid_months", "permit_months": "permit_valid_months",
    "before_days": "endorsement_before_days", "grace_days": "endorsement_grace_days",
    "authority": "issuing_authority",
}


def load_pack(city: str, directory: Path = PACK_DIR) -> Pack:
    path = directory / f"{city}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"policy pack {city!r}: {type(exc).__name__}") from None
    try:
        values = {mine: data[theirs] for mine, theirs in _KEYS.items()}
    except KeyError as exc:
        raise PackError(f"policy pack {city!r}: missing {exc.args[0]!r}") from None
    for key in ("min_age", "wait_months", "registration_months", "permit_months", "before_days", "grace_days"):
        if isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 0:
            raise PackError(f"policy pack {city!r}: {_KEYS[key]} must be a non-negative integer")
    prefixes = values.pop("local_prefixes")
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise PackError(f"policy pack {city!r}: local_address_prefixes must be a list of strings")
    return Pack(city=str(data.get("city", city)), local_prefixes=tuple(prefixes), **values)


# --- the date conventions ---------------------------------------------------------------------


def add_months(d: date, n: int) -> date:
    """The same day n months on; the month's last day where that day does not exist."""
    year, month = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def full_years(birth: date, today: date) -> int:
    """Age in full years on `today`; the birthday counts from its own day."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Window:
    """The endorsement window of a validity V: opens V - before, on time through V, grace to V + grace."""

    valid_until: date
    opens: date
    grace_ends: date

    def position(self, today: date) -> Position:
        if today < self.opens:
            return Position.NOT_DUE
        if today <= self.valid_until:
            return Position.ON_TIME
        if today <= self.grace_ends:
            return Position.GRACE
        return Position.LAPSED


def window(valid_until: date, pack: Pack) -> Window:
    return Window(valid_until, valid_until - timedelta(days=pack.before_days),
                  valid_until + timedelta(days=pack.grace_days))


def renewed(valid_until: date, endorsed_on: date, pack: Pack) -> tuple[date, date]:
    """The period an endorsement on `endorsed_on` grants (RULES.md, Renewal)."""
    if endorsed_on > window(valid_until, pack).grace_ends:  # SH-END-3 / BJ-END-1: restart from that day
        return endorsed_on, add_months(endorsed_on, pack.permit_months)
    return valid_until, add_months(valid_until, pack.permit_months)


# --- GB 11643-1999 ---------------------------------------------------------------------------

_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 over the first 17 digits."""
    remainder = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11
    return "10X98765432"[remainder]


def id_number_valid(number: str, birth: date | None, today: date) -> bool:
    """RULES.md: format, date or check digit. The date is a real day, not after today, and the one
    printed on the card as the date of birth."""
    if not _ID_FORMAT.fullmatch(number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if born > today or (birth is not None and born != birth):
        return False
    return gb11643_check_character(number[:17]) == number[17]
