"""The 256-byte text block of an ID card (as the GA 467 SAM returns it) to the typed Identity.

Four layouts share the block; the UCS-2LE character at byte 248 tells them apart:
'I' foreigner's permanent residence card (2017 version), 'Y' the 2023 version,
'J' Hong Kong/Macao/Taiwan residents' residence permit, anything else the citizen card.
Offsets and widths are in bytes; docs/protocols/id-reader.md lists every field and its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from kiosk.identity import CardType, Identity, Sex

TEXT_LEN = 256
MARKER_OFFSET = 248
LONG_TERM = "长期"  # "valid to" of a card with no end date

MARKERS: dict[str, CardType] = {
    "I": CardType.FOREIGN_PERMANENT,
    "Y": CardType.FOREIGN_PERMANENT_2023,
    "J": CardType.HK_MO_TW_RESIDENCE,
}


@dataclass(frozen=True)
class Field:
    offset: int
    size: int

    def slice(self, text: bytes) -> bytes:
        return text[self.offset : self.offset + self.size]


# Field name -> position, per layout. Names not in a layout are empty on that card.
LAYOUTS: dict[CardType, dict[str, Field]] = {
    CardType.CITIZEN: {
        "name": Field(0, 30),
        "sex": Field(30, 2),
        "nation": Field(32, 4),  # GB 3304 code, 2 digits
        "birth": Field(36, 16),
        "address": Field(52, 70),
        "id_number": Field(122, 36),
        "authority": Field(158, 30),
        "valid_from": Field(188, 16),
        "valid_to": Field(204, 16),
        # 220..256 reserved
    },
    CardType.HK_MO_TW_RESIDENCE: {
        "name": Field(0, 30),
        "sex": Field(30, 2),
        # 32..36 reserved (no ethnicity on this card)
        "birth": Field(36, 16),
        "address": Field(52, 70),
        "id_number": Field(122, 36),  # 18 characters, GB 11643 form with 81/82/83 regions
        "authority": Field(158, 30),
        "valid_from": Field(188, 16),
        "valid_to": Field(204, 16),
        "pass_number": Field(220, 18),  # number of the home-return / Taiwan compatriot permit
        "issue_count": Field(238, 4),
        # 242..248 reserved, 248 marker 'J', 250..256 reserved
    },
    CardType.FOREIGN_PERMANENT: {
        "english_name": Field(0, 120),
        "sex": Field(120, 2),
        "id_number": Field(122, 30),  # 15 characters
        "nation": Field(152, 6),  # ISO 3166-1 alpha-3 country or region code
        "chinese_name": Field(158, 30),
        "valid_from": Field(188, 16),
        "valid_to": Field(204, 16),
        "birth": Field(220, 16),
        "card_version": Field(236, 4),
        "authority": Field(240, 8),  # code of the accepting authority, e.g. "3100"
        # 248 marker 'I', 250..256 reserved
    },
    CardType.FOREIGN_PERMANENT_2023: {
        "chinese_name": Field(0, 30),
        "sex": Field(30, 2),
        "renewal_count": Field(32, 4),
        "birth": Field(36, 16),
        "english_name": Field(52, 70),  # characters 1-35
        "id_number": Field(122, 36),  # 18 characters, starting with 9
        # 158..188 reserved
        "valid_from": Field(188, 16),
        "valid_to": Field(204, 16),
        "english_name_ext": Field(220, 22),  # characters 36-46
        "nation": Field(242, 6),
        # 248 marker 'Y', 250..256 link to the 2017-version number
    },
}

_PADDING = " \x00"
_DATE = re.compile(r"[0-9]{8}")
_NATION_CODE = re.compile(r"[0-9]{2}")
_COUNTRY_CODE = re.compile(r"[A-Z]{3}")


class CardDataError(ValueError):
    """The card text cannot be parsed. The message names the field, never its content."""


def card_type_of(text: bytes) -> CardType:
    marker = text[MARKER_OFFSET : MARKER_OFFSET + 2]
    if len(marker) == 2 and marker[1] == 0:
        return MARKERS.get(chr(marker[0]), CardType.CITIZEN)
    return CardType.CITIZEN


def parse_card(text: bytes, photo: bytes = b"") -> Identity:
    """The typed identity; photo is the raw WLT block, passed through for the decoder plug-in."""
    if len(text) != TEXT_LEN:
        raise CardDataError(f"card text is {len(text)} bytes, expected {TEXT_LEN}")
    card_type = card_type_of(text)
    layout = LAYOUTS[card_type]
    raw = {name: _decode(name, f.slice(text)) for name, f in layout.items()}

    if card_type in (CardType.FOREIGN_PERMANENT, CardType.FOREIGN_PERMANENT_2023):
        english = raw.get("english_name", "")
        if card_type is CardType.FOREIGN_PERMANENT_2023:
            # The 2023 card splits the English name at 35 characters: join before trimming,
            # since character 35 may be a space inside the name.
            english = _decode_untrimmed(layout["english_name"].slice(text)) + raw["english_name_ext"]
            english = english.rstrip(_PADDING)
            if not english.isprintable():
                raise CardDataError("english_name: control characters")
        name = raw.get("chinese_name", "") or english
        nation = raw.get("nation", "")
        if nation and not _COUNTRY_CODE.fullmatch(nation):
            raise CardDataError("nation: not a country code")
    else:
        name = raw["name"]
        nation = raw.get("nation", "")
        if card_type is CardType.CITIZEN and not _NATION_CODE.fullmatch(nation):
            raise CardDataError("nation: not a 2-digit code")

    if not name:
        raise CardDataError("name: empty")
    id_number = raw["id_number"]
    if not id_number:
        raise CardDataError("id_number: empty")

    valid_to_text = raw["valid_to"]
    return Identity(
        card_type=card_type,
        name=name,
        sex=_sex(raw["sex"]),
        nation=nation,
        birth=_date("birth", raw["birth"]),
        address=raw.get("address", ""),
        id_number=id_number,
        authority=raw.get("authority", ""),
        valid_from=_date("valid_from", raw["valid_from"]),
        valid_to=None if valid_to_text == LONG_TERM else _date("valid_to", valid_to_text),
        photo=photo,
    )


def _decode_untrimmed(data: bytes) -> str:
    try:
        return data.decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError("english_name: not UCS-2") from None


def _decode(name: str, data: bytes) -> str:
    try:
        value = data.decode("utf-16-le")
    except UnicodeDecodeError:
        raise CardDataError(f"{name}: not UCS-2") from None
    value = value.rstrip(_PADDING)
    if not value.isprintable():
        raise CardDataError(f"{name}: control characters")
    return value


def _sex(value: str) -> Sex | None:
    # GB/T 2261.1: 1 male, 2 female, 0 unknown, 9 not stated.
    if value == "1":
        return Sex.MALE
    if value == "2":
        return Sex.FEMALE
    if value in ("0", "9"):
        return None
    raise CardDataError("sex: not a GB/T 2261.1 code")


def _date(name: str, value: str) -> date:
    if not _DATE.fullmatch(value):
        raise CardDataError(f"{name}: not YYYYMMDD")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise CardDataError(f"{name}: no such date") from None
