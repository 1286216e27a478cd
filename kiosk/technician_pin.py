"""RULES.md "Technician PIN": the lockout policy, pure.

After 3 wrong PINs in a row a card is locked for 60 s; each further wrong PIN doubles the
lockout (120 s, 240 s, ...), capped at 1 hour; a right PIN resets the count. The count and the
lockout are kept per technician card in the journal's database (kiosk/diagnostics_store.py), so
they survive a restart; this module only decides.

While a card is locked its PIN is not checked at all: a guess during the lockout neither counts
nor can succeed, so the lockout really bounds the rate of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_TRIES = 3  # wrong PINs in a row before the first lockout
FIRST_LOCKOUT_S = 60
MAX_LOCKOUT_S = 3600


@dataclass(frozen=True)
class PinRecord:
    """What is kept of one technician card: wrong PINs in a row and the end of its lockout."""

    wrong_in_row: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class PinVerdict:
    record: PinRecord  # to store
    accepted: bool
    lockout_s: int  # the lockout this attempt imposed (0: none)


def lockout_for(wrong_in_row: int) -> int:
    """Seconds of lockout after the `wrong_in_row`-th wrong PIN in a row (0 before the third)."""
    if wrong_in_row < FREE_TRIES:
        return 0
    return min(FIRST_LOCKOUT_S * 2 ** (wrong_in_row - FREE_TRIES), MAX_LOCKOUT_S)


def locked_for(record: PinRecord, now: datetime) -> int:
    """Whole seconds the card is still locked (0: a PIN may be tried).

    Never more than the lockout its count imposes: a clock set back (or a restart on a clock
    that starts earlier) cannot stretch a lockout beyond its length."""
    if record.locked_until is None:
        return 0
    left = (record.locked_until - now).total_seconds()
    if left <= 0:
        return 0
    cap = lockout_for(record.wrong_in_row) or FIRST_LOCKOUT_S
    return int(min(left, cap) + 0.999)


def attempt(record: PinRecord, pin_is_right: bool, now: datetime) -> PinVerdict:
    """One PIN typed on an unlocked card (the caller checks `locked_for` first)."""
    if locked_for(record, now):
        raise ValueError("a locked card's PIN is not checked")
    if pin_is_right:
        return PinVerdict(PinRecord(), True, 0)
    wrong = record.wrong_in_row + 1
    lockout = lockout_for(wrong)
    until = now + timedelta(seconds=lockout) if lockout else None
    return PinVerdict(PinRecord(wrong, until), False, lockout)


def tries_left(record: PinRecord) -> int:
    """Wrong PINs still allowed before the next lockout (1 once the card has been locked)."""
    return max(1, FREE_TRIES - record.wrong_in_row)
