"""Card text to Identity (kiosk.idcard) and its inverse for the emulator (sim.id_card_data)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.idcard import CardDataError, card_type_of, parse_card
from kiosk.identity import CardType, Identity, Sex
from sim.id_card_data import EmulatedIdCard, encode_card

CITIZEN = {
    "card_type": "citizen",
    "name": "王小明",
    "sex": "M",
    "nation": "01",
    "birth": date(1990, 3, 7),
    "id_number": "34010219900307123X",
    "address": "安徽省合肥市蜀山区长江西路100号",
    "authority": "合肥市公安局蜀山分局",
    "valid_from": date(2016, 5, 1),
    "valid_to": date(2036, 5, 1),
}


def field(text: bytes, offset: int, size: int) -> str:
    return text[offset : offset + size].decode("utf-16-le").rstrip(" ")


def citizen(**changes: object) -> EmulatedIdCard:
    return encode_card(**{**CITIZEN, **changes})  # type: ignore[arg-type]


def test_citizen_text_has_the_documented_offsets() -> None:
    # Pinned from the protocol description, independently of the shared layout table.
    text = citizen().text
    assert len(text) == 256
    assert field(text, 0, 30) == "王小明"
    assert field(text, 30, 2) == "1"
    assert field(text, 32, 4) == "01"
    assert field(text, 36, 16) == "19900307"
    assert field(text, 52, 70) == CITIZEN["address"]
    assert field(text, 122, 36) == "34010219900307123X"
    assert field(text, 158, 30) == CITIZEN["authority"]
    assert field(text, 188, 16) == "20160501"
    assert field(text, 204, 16) == "20360501"
    assert text[248:250] == b" \x00"


def test_citizen_round_trip() -> None:
    card = citizen(photo=b"WLT-stand-in")
    who = parse_card(card.text, card.photo)
    assert who.card_type is CardType.CITIZEN
    assert (who.name, who.sex, who.nation, who.birth) == ("王小明", Sex.MALE, "01", date(1990, 3, 7))
    assert (who.address, who.id_number, who.authority) == (
        CITIZEN["address"], "34010219900307123X", CITIZEN["authority"])
    assert (who.valid_from, who.valid_to) == (date(2016, 5, 1), date(2036, 5, 1))
    assert who.photo == b"WLT-stand-in" + bytes(1024 - 12)
    assert len(card.photo) == 1024


def test_long_term_validity_is_none() -> None:
    card = citizen(valid_to=None)
    assert field(card.text, 204, 16) == "长期"
    assert parse_card(card.text).valid_to is None


def test_female_and_trailing_spaces_trimmed() -> None:
    who = parse_card(citizen(sex="F", name="李 ").text)
    assert who.sex is Sex.FEMALE and who.name == "李"


def test_hk_macao_taiwan_permit() -> None:
    card = encode_card(**{**CITIZEN, "card_type": "hk_mo_tw_residence", "id_number": "810000199408230021",
                          "nation": "", "pass_number": "H12345678", "issue_count": "02"})  # type: ignore[arg-type]
    assert card.text[248:250] == "J".encode("utf-16-le")
    assert field(card.text, 220, 18) == "H12345678"
    assert field(card.text, 238, 4) == "02"
    who = parse_card(card.text)
    assert who.card_type is CardType.HK_MO_TW_RESIDENCE
    assert (who.name, who.id_number, who.nation) == ("王小明", "810000199408230021", "")
    assert who.address == CITIZEN["address"]


def test_foreign_permanent_2017() -> None:
    card = encode_card(
        card_type="foreign_permanent", name="史密斯", english_name="SMITH JOHN", sex="M", nation="USA",
        birth=date(1980, 1, 2), id_number="USA310080010212", address="", authority="3100",
        valid_from=date(2015, 1, 1), valid_to=date(2025, 1, 1))
    text = card.text
    assert text[248:250] == "I".encode("utf-16-le")
    assert field(text, 0, 120) == "SMITH JOHN"
    assert field(text, 120, 2) == "1"
    assert field(text, 122, 30) == "USA310080010212"
    assert field(text, 152, 6) == "USA"
    assert field(text, 158, 30) == "史密斯"
    assert field(text, 220, 16) == "19800102"
    assert field(text, 240, 8) == "3100"
    who = parse_card(text)
    assert who.card_type is CardType.FOREIGN_PERMANENT
    assert (who.name, who.nation, who.birth, who.authority) == ("史密斯", "USA", date(1980, 1, 2), "3100")
    assert (who.valid_from, who.valid_to, who.address) == (date(2015, 1, 1), date(2025, 1, 1), "")


def test_foreign_permanent_2023_joins_the_split_english_name() -> None:
    long_name = "KONSTANTINOPOULOU PAPADIMITRIOU JR MARIA ELENI"
    assert len(long_name) == 46 and long_name[34] == " "  # the split falls right after a space
    card = encode_card(
        card_type="foreign_permanent_2023", name=long_name, sex="F", nation="DEU",
        birth=date(1975, 12, 31), id_number="932684197512310028", address="", authority="",
        valid_from=date(2023, 12, 1), valid_to=date(2033, 12, 1))
    text = card.text
    assert text[248:250] == "Y".encode("utf-16-le")
    assert text[52:122].decode("utf-16-le") == long_name[:35]
    assert field(text, 220, 22) == "MARIA ELENI"
    assert field(text, 122, 36) == "932684197512310028"
    assert field(text, 242, 6) == "DEU"
    who = parse_card(text)
    assert who.card_type is CardType.FOREIGN_PERMANENT_2023
    assert (who.name, who.sex, who.nation, who.birth) == (long_name, Sex.FEMALE, "DEU", date(1975, 12, 31))


def test_2023_card_prefers_the_chinese_name() -> None:
    card = encode_card(
        card_type="foreign_permanent_2023", name="马丁", english_name="MARTIN", sex="M", nation="FRA",
        birth=date(1975, 1, 1), id_number="925084197501010015", address="", authority="",
        valid_from=date(2023, 12, 1), valid_to=None)
    assert field(card.text, 0, 30) == "马丁"
    assert parse_card(card.text).name == "马丁"


@pytest.mark.parametrize(
    ("offset", "value", "field_name"),
    [
        (30, "3", "sex"),
        (32, "汉族", "nation"),
        (36, "19901345", "birth"),
        (36, "1990", "birth"),
        (188, "2016050X", "valid_from"),
        (204, "永久有效", "valid_to"),
        (0, "", "name"),
        (122, "", "id_number"),
    ],
)
def test_unparseable_fields_raise_card_data_error_naming_the_field(
        offset: int, value: str, field_name: str) -> None:
    text = bytearray(citizen().text)
    size = {0: 30, 30: 2, 32: 4, 36: 16, 122: 36, 188: 16, 204: 16}[offset]
    text[offset : offset + size] = (value.encode("utf-16-le") + " ".encode("utf-16-le") * size)[:size]
    with pytest.raises(CardDataError, match=field_name) as err:
        parse_card(bytes(text))
    assert "王小明" not in str(err.value) and "34010219900307123X" not in str(err.value)


def test_lone_surrogate_is_a_card_data_error() -> None:
    text = bytearray(citizen().text)
    text[52:54] = b"\x00\xd8"  # a high surrogate with no partner
    with pytest.raises(CardDataError, match="address"):
        parse_card(bytes(text))


def test_control_characters_are_refused() -> None:
    text = bytearray(citizen().text)
    text[2:4] = "\n".encode("utf-16-le")
    with pytest.raises(CardDataError, match="name"):
        parse_card(bytes(text))


@pytest.mark.parametrize("size", [0, 255, 257, 1024])
def test_wrong_text_length_is_refused(size: int) -> None:
    with pytest.raises(CardDataError):
        parse_card(bytes(size))


def test_card_type_marker() -> None:
    text = bytearray(citizen().text)
    assert card_type_of(bytes(text)) is CardType.CITIZEN
    text[248:250] = "J".encode("utf-16-le")
    assert card_type_of(bytes(text)) is CardType.HK_MO_TW_RESIDENCE
    text[248:250] = "Q".encode("utf-16-le")
    assert card_type_of(bytes(text)) is CardType.CITIZEN


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        citizen(name="很长的名字超过了十五个字符的限制真的很长")
    with pytest.raises(ValueError):
        citizen(sex="X")
    with pytest.raises(ValueError):
        citizen(photo=bytes(1025))


def test_identity_repr_leaks_nothing() -> None:
    shown = repr(parse_card(citizen().text)) + repr(citizen())
    for secret in ("王小明", "34010219900307123X", "安徽", "合肥"):
        assert secret not in shown


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=256, max_size=256))
def test_arbitrary_text_gives_identity_or_card_data_error(text: bytes) -> None:
    try:
        who = parse_card(text)
    except CardDataError:
        return
    assert isinstance(who, Identity)


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from(["citizen", "hk_mo_tw_residence", "foreign_permanent", "foreign_permanent_2023"]),
    pos=st.integers(min_value=0, max_value=255),
    byte=st.integers(min_value=0, max_value=255),
)
def test_single_byte_corruption_gives_identity_or_card_data_error(base: str, pos: int, byte: int) -> None:
    text = bytearray(_sample(base).text)
    text[pos] = byte
    try:
        who = parse_card(bytes(text))
    except CardDataError:
        return
    assert isinstance(who, Identity)


_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=50, deadline=None)
@given(
    name=st.text(_HAN, min_size=1, max_size=15),
    sex=st.sampled_from(["M", "F"]),
    nation=st.integers(min_value=1, max_value=56).map(lambda n: f"{n:02d}"),
    birth=_DATES,
    address=st.text(_HAN, max_size=35),
    id_number=st.text("0123456789", min_size=17, max_size=17).flatmap(
        lambda head: st.sampled_from("0123456789X").map(lambda last: head + last)),
    authority=st.text(_HAN, min_size=1, max_size=15),
    valid_from=_DATES,
    valid_to=st.none() | _DATES,
    photo=st.binary(max_size=1024),
)
def test_citizen_round_trip_property(name: str, sex: str, nation: str, birth: date, address: str,
                                     id_number: str, authority: str, valid_from: date,
                                     valid_to: date | None, photo: bytes) -> None:
    card = encode_card(card_type="citizen", name=name, sex=sex, nation=nation, birth=birth,
                       id_number=id_number, address=address, authority=authority, valid_from=valid_from,
                       valid_to=valid_to, photo=photo)
    who = parse_card(card.text, card.photo)
    assert (who.name, who.sex, who.nation, who.birth) == (name, Sex(sex), nation, birth)
    assert (who.address, who.id_number, who.authority) == (address, id_number, authority)
    assert (who.valid_from, who.valid_to) == (valid_from, valid_to)
    assert who.photo[: len(photo)] == photo and len(who.photo) == 1024


def _sample(card_type: str) -> EmulatedIdCard:
    if card_type in ("citizen", "hk_mo_tw_residence"):
        return encode_card(**{**CITIZEN, "card_type": card_type})  # type: ignore[arg-type]
    number = "USA310080010212" if card_type == "foreign_permanent" else "932684197512310028"
    authority = "3100" if card_type == "foreign_permanent" else ""
    return encode_card(card_type=card_type, name="SMITH JOHN", sex="M", nation="USA", birth=date(1980, 1, 2),
                       id_number=number, address="", authority=authority,
                       valid_from=date(2015, 1, 1), valid_to=None)


# --- simulated residents' cards (sim.hub.Hub.card_for) ---------------------------------------------


def resident(card_type: str, **changes: str) -> dict[str, str]:
    """A resident as the runner hands it to the hub (sim.scenario.residents_json), with the format's defaults."""
    return {
        "name": "张伟", "sex": "M", "nation": "01", "birth": "1990-03-07", "id_number": "340102199003070010",
        "id_address": "安徽省合肥市瑶海区长江东路100号", "id_authority": "合肥市公安局瑶海分局",
        "id_valid_from": "2020-01-01", "id_valid_to": "长期", "card_type": card_type, "face": "zhang",
        "phone": "13800138000", **changes,
    }


def hub_emulated_card(key: str, spec: dict[str, str]) -> EmulatedIdCard:
    from types import SimpleNamespace

    from sim.hub import Hub

    return Hub.card_for(SimpleNamespace(residents={key: spec}), key)  # type: ignore[arg-type]


def hub_card(key: str, spec: dict[str, str]) -> Identity:
    from kiosk.wlt import StandInDecoder, decode_photo

    card = hub_emulated_card(key, spec)
    identity = parse_card(card.text, card.photo)
    photo = decode_photo(identity.photo, StandInDecoder())
    assert photo is not None and (photo.width, photo.height) == (102, 126)  # every card carries the stand-in
    return identity


def test_hub_citizen_card_is_the_residents() -> None:
    identity = hub_card("zhang", resident("citizen"))
    assert (identity.card_type, identity.name, identity.nation, identity.valid_to) == ("citizen", "张伟", "01", None)


def test_hub_foreign_2017_card_gets_a_country_and_an_authority_code() -> None:
    identity = hub_card("smith", resident("foreign_permanent", name="John Smith", id_number="CAN310090030701"))
    assert identity.card_type is CardType.FOREIGN_PERMANENT
    assert (identity.name, identity.nation, identity.authority) == ("John Smith", "CAN", "3100")
    assert identity.id_number == "CAN310090030701"


def test_hub_foreign_2023_card_keeps_a_country_code_it_is_given() -> None:
    identity = hub_card("martin", resident("foreign_permanent_2023", name="MARTIN DUBOIS", nation="FRA",
                                           id_number="931250198806150013"))
    assert (identity.card_type, identity.nation, identity.name) == ("foreign_permanent_2023", "FRA", "MARTIN DUBOIS")


def test_hub_residence_permit_card_gets_a_pass_number() -> None:
    spec = resident("hk_mo_tw_residence", name="陈家明", id_number="810000199003070015")
    card = hub_emulated_card("chan", spec)
    assert field(card.text, 220, 18) == "H00307001"  # the pass number's place in the J layout
    assert hub_card("chan", spec).card_type is CardType.HK_MO_TW_RESIDENCE


@pytest.mark.parametrize(("nation", "country"), [("01", "CAN"), ("02", "USA"), ("13", "CAN"), ("JPN", "JPN"),
                                                 ("jpn", "JPN"), ("汉族", "CAN")])
def test_simulated_country(nation: str, country: str) -> None:
    from sim.id_card_data import simulated_country

    assert simulated_country(nation) == country
