"""The typed identity read from an ID card, one model for every card type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class CardType(StrEnum):
    CITIZEN = "citizen"
    FOREIGN_PERMANENT = "foreign_permanent"  # marker 'I'
    FOREIGN_PERMANENT_2023 = "foreign_permanent_2023"  # marker 'Y'
    HK_MO_TW_RESIDENCE = "hk_mo_tw_residence"  # marker 'J'


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


def mask_id(id_number: str) -> str:
    """The only form of an ID number allowed in a log: first 4 and last 4 characters."""
    if len(id_number) <= 8:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


@dataclass(frozen=True)
class Identity:
    """Personal data: lives in memory for one session only. repr shows nothing personal."""

    card_type: CardType
    name: str = field(repr=False)
    sex: Sex | None = field(repr=False)
    nation: str = field(repr=False)  # GB 3304 code, "01" = 汉
    birth: date | None = field(repr=False)
    address: str = field(repr=False)
    id_number: str = field(repr=False)
    authority: str = field(repr=False)
    valid_from: date | None = field(repr=False)
    valid_to: date | None = field(repr=False)  # None: 长期 (no end)
    photo: bytes = field(default=b"", repr=False)

    @property
    def masked_id(self) -> str:
        return mask_id(self.id_number)
