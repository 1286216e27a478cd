"""GB 11643-1999 citizen ID numbers: format, region, birth date, check digit."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_FORMAT = re.compile(r"^\d{17}[\dX]$")
# Province-level codes of GB/T 2260 (first two digits).
PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


def check_digit(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def birth_of(id_number: str) -> date | None:
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def sex_of(id_number: str) -> str:
    """'M' or 'F' from the sequence digit (odd: male)."""
    return "M" if int(id_number[16]) % 2 == 1 else "F"


def is_valid(id_number: str, birth: date | None = None, sex: str | None = None) -> bool:
    """Valid under GB 11643; when birth or sex are given they must agree with the number."""
    if not _FORMAT.match(id_number):
        return False
    if int(id_number[:2]) not in PROVINCE_CODES:
        return False
    born = birth_of(id_number)
    if born is None or born.year < 1900:
        return False
    if birth is not None and born != birth:
        return False
    if sex is not None and sex_of(id_number) != sex:
        return False
    return check_digit(id_number[:17]) == id_number[17]
