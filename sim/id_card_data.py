"""Simulated residents' ID cards: fields to the 256-byte text block and 1024-byte photo a SAM returns.

The inverse of kiosk.idcard.parse_card, built on the same layout table so the two cannot drift;
tests pin the offsets independently.

Photo stand-in: a real card holds a 1024-byte WLT image that only the vendor's decoder can
expand. The emulator stores whatever bytes it is given (at most 1024), zero-padded to 1024,
and hands them back unchanged, so a photo round-trips byte for byte through the reader.
`stand_in_photo(key)` makes those bytes for a simulated resident: the authority's portrait
of that face (sim.faces.reference_portrait) in kiosk.wlt's documented "STWL" stand-in, which
kiosk.wlt.StandInDecoder turns back into a 102×126 greyscale photo.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field

from PIL import Image, ImageFilter

from kiosk.idcard import LAYOUTS, LONG_TERM, MARKER_OFFSET, MARKERS, TEXT_LEN
from kiosk.identity import CardType
from kiosk.wlt import WLT_HEIGHT, WLT_WIDTH, encode_stand_in_fitting
from sim.faces import reference_portrait

PHOTO_LEN = 1024
# Scenario residents carry a GB 3304 ethnicity code ("01") even on a foreigner's card, whose
# nation field holds an ISO 3166-1 alpha-3 country: a 2-digit code n stands for entry n - 1
# (wrapping) of this list, so the default "01" gives "CAN". Plausible, not meaningful.
SIM_COUNTRIES = ("CAN", "USA", "GBR", "DEU", "FRA", "JPN", "KOR", "AUS", "SGP", "RUS", "BRA", "ITA")
# The 2017 foreigner's card holds a 4-character authority code, not an authority's name.
SIM_FOREIGN_AUTHORITY = "3100"  # Shanghai
_SPACE = " ".encode("utf-16-le")
_ENGLISH_SPLIT = 35  # the 2023 card keeps characters 36-46 of the English name elsewhere


@dataclass(frozen=True)
class EmulatedIdCard:
    text: bytes = field(repr=False)  # 256 bytes, UCS-2LE
    photo: bytes = field(repr=False)  # 1024 bytes, WLT stand-in


def encode_card(
    *,
    card_type: str,
    name: str,
    sex: str,
    nation: str,
    birth: datetime.date,
    id_number: str,
    address: str,
    authority: str,
    valid_from: datetime.date,
    valid_to: datetime.date | None,
    photo: bytes = b"",
    english_name: str = "",
    pass_number: str = "",
    issue_count: str = "01",
) -> EmulatedIdCard:
    """card_type: citizen | foreign_permanent | foreign_permanent_2023 | hk_mo_tw_residence.

    sex 'M' | 'F'; nation a GB 3304 code ("01") for citizens, an ISO alpha-3 code ("CAN") for
    foreigners, ignored for HK/Macao/Taiwan permits; valid_to None prints 长期. On foreigners'
    cards `name` goes to the Chinese-name field when it has non-ASCII characters, otherwise to
    the English-name field; `english_name` fills the English-name field explicitly. Foreigners'
    cards carry no address; `authority` of the 2017 card is the 4-character authority code.
    """
    kind = CardType(card_type)
    if sex not in ("M", "F"):
        raise ValueError("sex must be 'M' or 'F'")
    if len(photo) > PHOTO_LEN:
        raise ValueError(f"photo longer than {PHOTO_LEN} bytes")
    values: dict[str, str] = {
        "sex": "1" if sex == "M" else "2",
        "birth": _ymd(birth),
        "id_number": id_number,
        "valid_from": _ymd(valid_from),
        "valid_to": LONG_TERM if valid_to is None else _ymd(valid_to),
    }
    if kind in (CardType.CITIZEN, CardType.HK_MO_TW_RESIDENCE):
        values.update(name=name, address=address, authority=authority)
        if kind is CardType.CITIZEN:
            values["nation"] = nation
        else:
            values.update(pass_number=pass_number, issue_count=issue_count)
    else:
        english = english_name or (name if name.isascii() else "")
        chinese = name if name != english else ""
        values.update(chinese_name=chinese, nation=nation)
        if kind is CardType.FOREIGN_PERMANENT:
            values.update(english_name=english, authority=authority)
        else:
            values.update(english_name=english[:_ENGLISH_SPLIT], english_name_ext=english[_ENGLISH_SPLIT:])

    text = bytearray(_SPACE * (TEXT_LEN // 2))
    for key, value in values.items():
        f = LAYOUTS[kind][key]
        encoded = value.encode("utf-16-le")
        if len(encoded) > f.size:
            raise ValueError(f"{key} does not fit its {f.size}-byte field")
        text[f.offset : f.offset + f.size] = encoded + _SPACE * ((f.size - len(encoded)) // 2)
    if kind is not CardType.CITIZEN:
        marker = next(m for m, t in MARKERS.items() if t is kind)
        text[MARKER_OFFSET : MARKER_OFFSET + 2] = marker.encode("utf-16-le")
    return EmulatedIdCard(text=bytes(text), photo=photo.ljust(PHOTO_LEN, b"\x00"))


def _ymd(d: datetime.date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


@functools.lru_cache(maxsize=64)
def stand_in_photo(face_key: str) -> bytes:
    """The 1024-byte stand-in of this face's authority portrait, as its ID card carries it.

    Box-filtered down to 102×126 and median-filtered before quantising: the deepest grey
    scale that fits is taken, which for the residents' real photographs (sim.faces) is 4
    greys (16 greys compress to about 2.2 KB; a real WLT uses a wavelet codec). Cached, since
    a face costs tens of milliseconds and a resident presents the card repeatedly.
    """
    image = reference_portrait(face_key).convert("L")
    image = image.resize((WLT_WIDTH, WLT_HEIGHT), Image.Resampling.BOX).filter(ImageFilter.MedianFilter(3))
    return encode_stand_in_fitting(image.tobytes(), WLT_WIDTH, WLT_HEIGHT)


def simulated_country(nation: str) -> str:
    """An ISO alpha-3 code for a foreigner's card: as given when it is one, else from SIM_COUNTRIES."""
    if len(nation) == 3 and nation.isascii() and nation.isalpha():
        return nation.upper()
    if len(nation) == 2 and nation.isdigit():
        return SIM_COUNTRIES[(int(nation) - 1) % len(SIM_COUNTRIES)]
    return SIM_COUNTRIES[0]


def simulated_pass_number(id_number: str) -> str:
    """A plausible home-return / Taiwan compatriot permit number for an 81/82/83 ID number.

    Hong Kong 'H' and Macao 'M' with 8 digits, Taiwan 8 digits; the digits come from the ID
    number's sequence part so one resident always gets the same pass.
    """
    digits = "".join(c for c in id_number if c.isdigit())[-9:-1].rjust(8, "0")
    return {"81": "H", "82": "M"}.get(id_number[:2], "") + digits
