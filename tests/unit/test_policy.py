"""The new-permit rules of RULES.md: each check, its boundary, and the order of checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from kiosk import idnumber
from kiosk.identity import CardType, Identity, Sex
from kiosk.policy import (
    NEW_PERMIT_ORDER,
    PolicyError,
    Refusal,
    first_refusal,
    id_card_refusals,
    is_large_text,
    load_pack,
    record_refusals,
)
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, Holder, Permit, PermitStatus, ProofKind, Registration

SH = load_pack("shanghai")
BJ = load_pack("beijing")
TODAY = date(2026, 11, 22)

CARD = Identity(
    card_type=CardType.CITIZEN, name="张伟", sex=Sex.MALE, nation="01", birth=date(1990, 3, 7),
    address="安徽省合肥市瑶海区长江东路100号", id_number="340102199003070010", authority="合肥市公安局瑶海分局",
    valid_from=date(2020, 1, 1), valid_to=date(2040, 1, 1),
)
HOLDER = Holder(CARD.name, "M", "01", date(1990, 3, 7), CARD.id_number)


def reg(declared: date, holder: Holder = HOLDER) -> Registration:
    return Registration(holder, "上海市长宁区仙霞路765号3室", declared, ProofKind.RENTAL)


def permit(status: PermitStatus = PermitStatus.ACTIVE) -> Permit:
    return Permit("SH2025000123", date(2025, 12, 10), date(2026, 12, 10), date(2026, 12, 10), status,
                  EndorsementState.NONE)


def reasons(refusals: list[Refusal]) -> list[Reason]:
    return [r.reason for r in refusals]


def test_eligible_citizen_passes_every_id_check():
    assert id_card_refusals(CARD, TODAY, SH) == []


@pytest.mark.parametrize("card_type", [CardType.FOREIGN_PERMANENT, CardType.FOREIGN_PERMANENT_2023,
                                       CardType.HK_MO_TW_RESIDENCE])
def test_sh_pmt_6_other_cards_unsupported(card_type: CardType):
    assert reasons(id_card_refusals(replace(CARD, card_type=card_type), TODAY, SH)) == [Reason.CARD_TYPE_UNSUPPORTED]


def test_id_number_invalid_check_digit_birth_and_sex():
    assert reasons(id_card_refusals(replace(CARD, id_number="340102199003070011"), TODAY, SH)) == [
        Reason.ID_NUMBER_INVALID]
    assert reasons(id_card_refusals(replace(CARD, birth=date(1990, 3, 8)), TODAY, SH))[0] is Reason.ID_NUMBER_INVALID
    assert reasons(id_card_refusals(replace(CARD, sex=Sex.FEMALE), TODAY, SH)) == [Reason.ID_NUMBER_INVALID]


def test_gb11643_region_and_format():
    assert idnumber.is_valid("340102199003070010")
    body = "990102199003070"
    assert not idnumber.is_valid(body + "01" + idnumber.check_digit(body + "01"))  # no province 99
    assert not idnumber.is_valid("34010219900307001")
    assert not idnumber.is_valid("3401021990030700x0")
    assert idnumber.check_digit("31010419881201007") == "X"


def test_id_card_valid_through_its_valid_to_day():
    assert id_card_refusals(replace(CARD, valid_to=TODAY), TODAY, SH) == []
    assert reasons(id_card_refusals(replace(CARD, valid_to=date(2026, 11, 21)), TODAY, SH)) == [Reason.ID_CARD_EXPIRED]
    assert id_card_refusals(replace(CARD, valid_to=None), TODAY, SH) == []  # 长期


def test_sh_pmt_1_local_hukou():
    local = replace(CARD, address="上海市徐汇区漕溪北路100号")
    assert reasons(id_card_refusals(local, TODAY, SH)) == [Reason.LOCAL_HUKOU]
    assert id_card_refusals(local, TODAY, BJ) == []


def test_sh_age_1_under_16_boundary():
    idn16 = "340102201011220031"
    idn15 = "340102201011230037"
    assert id_card_refusals(replace(CARD, birth=date(2010, 11, 22), id_number=idn16), TODAY, SH) == []
    assert reasons(id_card_refusals(replace(CARD, birth=date(2010, 11, 23), id_number=idn15), TODAY, SH)) == [
        Reason.UNDER_16]


def test_sh_age_2_large_text_from_65():
    assert is_large_text(date(1961, 11, 22), TODAY, SH)
    assert not is_large_text(date(1961, 11, 23), TODAY, SH)


def test_order_of_id_checks_first_failure_wins():
    bad = replace(CARD, id_number="340102199003070011", valid_to=date(2020, 1, 1), address="上海市徐汇区")
    assert first_refusal(id_card_refusals(bad, TODAY, SH)).reason is Reason.ID_NUMBER_INVALID
    expired_local = replace(CARD, valid_to=date(2020, 1, 1), address="上海市徐汇区")
    assert first_refusal(id_card_refusals(expired_local, TODAY, SH)).reason is Reason.ID_CARD_EXPIRED


def test_sh_reg_7_record_checks_to_the_day():
    assert record_refusals(HOLDER, reg(date(2026, 5, 22)), None, TODAY, SH) == []
    too_recent = record_refusals(HOLDER, reg(date(2026, 5, 23)), None, TODAY, SH)
    assert too_recent == [Refusal(Reason.REG_TOO_RECENT, date(2026, 11, 23))]
    assert reasons(record_refusals(HOLDER, reg(date(2025, 11, 22)), None, TODAY, SH)) == [Reason.REG_EXPIRED]
    assert record_refusals(HOLDER, reg(date(2025, 11, 23)), None, TODAY, SH) == []
    assert reasons(record_refusals(HOLDER, None, None, TODAY, SH)) == [Reason.NO_REGISTRATION]


def test_reg_too_recent_shows_month_end_date():
    got = record_refusals(HOLDER, reg(date(2026, 8, 31)), None, date(2027, 2, 27), SH)
    assert got == [Refusal(Reason.REG_TOO_RECENT, date(2027, 2, 28))]


def test_sh_pmt_3_mismatch_address_and_existing_permits():
    other = replace(HOLDER, name="张卫")
    assert reasons(record_refusals(HOLDER, reg(date(2026, 4, 1), other), None, TODAY, SH)) == [Reason.INFO_MISMATCH]
    assert reasons(record_refusals(HOLDER, reg(date(2026, 4, 1)), permit(), TODAY, SH)) == [Reason.PERMIT_EXISTS]
    assert reasons(record_refusals(HOLDER, reg(date(2026, 4, 1)), permit(PermitStatus.CANCELLED), TODAY, SH)) == [
        Reason.PERMIT_CANCELLED]
    moved = record_refusals(HOLDER, reg(date(2026, 4, 1)), permit(), TODAY, SH, lives_at_registered_address=False)
    assert first_refusal(moved).reason is Reason.ADDRESS_CHANGED


def test_order_list_is_the_rules_order():
    assert NEW_PERMIT_ORDER.index(Reason.REG_TOO_RECENT) < NEW_PERMIT_ORDER.index(Reason.ADDRESS_CHANGED)
    assert NEW_PERMIT_ORDER.index(Reason.ADDRESS_CHANGED) < NEW_PERMIT_ORDER.index(Reason.INFO_MISMATCH)
    assert NEW_PERMIT_ORDER.index(Reason.PHOTO_QUALITY) < NEW_PERMIT_ORDER.index(Reason.FACE_MISMATCH)
    expired_and_recent = record_refusals(HOLDER, reg(date(2026, 6, 1)), permit(), TODAY, SH)
    assert first_refusal(expired_and_recent).reason is Reason.REG_TOO_RECENT


def test_policy_pack_validation(tmp_path):
    (tmp_path / "x.toml").write_text((Path_of_pack("shanghai")).read_text() + "\nbogus = 1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="bogus"):
        load_pack("x", tmp_path)
    with pytest.raises(PolicyError, match="no pack"):
        load_pack("atlantis")


def Path_of_pack(city: str):
    from kiosk.policy import POLICY_DIR

    return POLICY_DIR / f"{city}.toml"


def test_sh_pmt_2_six_full_months_of_registration_before_a_permit():
    # SH-PMT-2 (with SH-REG-7): registered in Shanghai for six full months.
    assert first_refusal(record_refusals(HOLDER, reg(date(2026, 5, 23)), None, TODAY, SH)).reason is (
        Reason.REG_TOO_RECENT)
    assert record_refusals(HOLDER, reg(date(2026, 5, 22)), None, TODAY, SH) == []


def test_bj_pmt_1_half_a_year_of_temporary_residence_registration():
    bj_holder = HOLDER
    assert record_refusals(bj_holder, reg(date(2026, 5, 22)), None, TODAY, BJ) == []
    assert record_refusals(bj_holder, reg(date(2026, 5, 23)), None, TODAY, BJ) == [
        Refusal(Reason.REG_TOO_RECENT, date(2026, 11, 23))]


def test_bj_age_1_under_16_is_referred_to_a_guardian():
    idn15 = "340102201011230037"
    card = replace(CARD, birth=date(2010, 11, 23), id_number=idn15)
    assert reasons(id_card_refusals(card, TODAY, BJ)) == [Reason.UNDER_16]


def test_bj_pmt_1_beijing_household_registration_holds_no_permit():
    local = replace(CARD, address="北京市东城区东长安街1号")
    assert reasons(id_card_refusals(local, TODAY, BJ)) == [Reason.LOCAL_HUKOU]
    assert id_card_refusals(local, TODAY, SH) == []


def test_bj_pmt_2_and_sh_pmt_5_no_replacement_or_exchange_at_the_terminal():
    # BJ-PMT-2 / SH-PMT-5: only a first issue (free) happens here; a holder is referred to a counter.
    active = permit()
    assert reasons(record_refusals(HOLDER, reg(date(2026, 4, 1)), active, TODAY, BJ)) == [Reason.PERMIT_EXISTS]
    assert reasons(record_refusals(HOLDER, reg(date(2026, 4, 1)), active, TODAY, SH)) == [Reason.PERMIT_EXISTS]


def test_sh_pmt_3_the_kiosk_checks_an_approval_validity_itself():
    """A new permit issued today runs through add_months(today, 12); any other answer is a disagreement."""
    from kiosk.policy import grant_disagreement

    pack = load_pack("shanghai")
    today = date(2026, 8, 31)
    assert grant_disagreement(today, today, date(2027, 8, 31), today, pack) is None
    assert grant_disagreement(today, today, date(2028, 8, 31), today, pack) == "validity"
    assert grant_disagreement(date(2026, 8, 30), date(2026, 8, 30), date(2027, 8, 30), today, pack) == "issue_date"
    feb = date(2027, 2, 28)
    assert grant_disagreement(date(2026, 2, 28), date(2026, 2, 28), feb, date(2026, 2, 28), pack) is None
