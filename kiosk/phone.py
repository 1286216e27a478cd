"""The resident's mobile number, as typed: what is wrong with it, in a fixed code the screen puts
into words (issue 13: a phone error that says what is wrong).

RULES.md says nothing of the number itself; SH-END-4 says the endorsement is announced by SMS,
which is what the number is for. A resident without a mobile number declares so (`no_phone`):
no SMS is sent, and the screens say how they learn the result instead (the status query on any
terminal, or the service centre).
"""

from __future__ import annotations

import re
from enum import StrEnum

MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number: 11 digits, 13x to 19x
LENGTH = 11


class PhoneProblem(StrEnum):
    TOO_SHORT = "too_short"  # fewer than 11 digits
    NOT_MOBILE = "not_mobile"  # 11 digits, but not a mobile number (a landline, 10x, 11x, 12x)


def phone_problem(digits: str) -> PhoneProblem | None:
    if MOBILE.match(digits):
        return None
    if len(digits) < LENGTH:
        return PhoneProblem.TOO_SHORT
    return PhoneProblem.NOT_MOBILE
