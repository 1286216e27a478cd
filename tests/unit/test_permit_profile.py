"""The permit card profile's records (devices/permit_profile.py) and the virtual card's robustness."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.permit_profile import (
    VALIDITY_SLOT,
    CardKind,
    ChipCardInfo,
    Fid,
    PermitContents,
    PermitValidity,
    ProfileError,
    ValidityRecord,
    decode_card_info,
    decode_validity_ef,
    encode_card_info,
    encode_validity_slot,
    frame_record,
    permit_files,
    tlv_decode,
    tlv_encode,
    unframe_record,
)
from sim.permit_card_emu import VirtualPermitCard

VALIDITY = PermitValidity(date(2024, 3, 1), date(2024, 3, 1), date(2025, 3, 1), 0)
CONTENTS = PermitContents(
    permit_number="310000202400017", name="陈静", sex="F", nation="01", birth=date(1992, 8, 15),
    id_number="340102199208150046", household_address="安徽省黄山市屯溪区新安路8号",
    residence_address="上海市徐汇区漕溪北路88弄3号1201室", validity=VALIDITY, photo=b"\xff\xd8\xff\xe0" + bytes(100),
)


@given(st.lists(st.tuples(st.integers(0x80, 0x9E), st.binary(max_size=400)), unique_by=lambda t: t[0]))
def test_tlv_round_trip(items: list[tuple[int, bytes]]) -> None:
    assert tlv_decode(tlv_encode(items)) == dict(items)


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_tlv_or_profile_error(raw: bytes) -> None:
    try:
        items = tlv_decode(raw)
    except ProfileError:
        return
    # What decodes is well-formed: tags of the profile, values that were in the input, and the
    # same items again after encoding them.
    assert all(0x80 <= tag <= 0x9E and isinstance(value, bytes) for tag, value in items.items())
    assert sum(len(v) for v in items.values()) + 2 * len(items) <= len(raw)
    assert tlv_decode(tlv_encode(items.items())) == items


@given(st.binary(max_size=200), st.binary(max_size=200), st.integers(0, 220))
def test_a_torn_record_is_never_read_as_data(old: bytes, new: bytes, tear: int) -> None:
    """A write that stopped after `tear` bytes reads back as the old body, the new one, or fails its CRC."""
    capacity = 220 + 6
    before = frame_record(old, capacity) + bytes(capacity)
    written = frame_record(new, capacity)
    mixed = written[:tear] + before[tear:]
    try:
        body = unframe_record(mixed)
    except ProfileError:
        return
    assert body in (old, new)


def test_never_written_record_is_empty_not_corrupt() -> None:
    with pytest.raises(ProfileError) as info:
        unframe_record(bytes(64))
    assert info.value.code == "empty"


def test_card_info_round_trip() -> None:
    info = ChipCardInfo("5250000000000001", 1, CardKind.TECHNICIAN)
    assert decode_card_info(encode_card_info(info)) == info


def test_validity_takes_the_newest_intact_slot() -> None:
    older = encode_validity_slot(ValidityRecord(4, VALIDITY))
    newer_validity = PermitValidity(VALIDITY.issue_date, date(2025, 3, 1), date(2026, 3, 1), 1)
    newer = encode_validity_slot(ValidityRecord(5, newer_validity))
    state = decode_validity_ef(newer + older)
    assert (state.current, state.current_slot, state.next_slot, state.next_sequence) == (
        ValidityRecord(5, newer_validity), 0, 1, 6)
    torn = newer[: VALIDITY_SLOT // 2] + bytes(VALIDITY_SLOT // 2)
    state = decode_validity_ef(torn + older)
    assert state.current == ValidityRecord(4, VALIDITY)
    assert state.torn_slots == (0,)
    assert state.next_slot == 0  # the torn slot is the one to write next


def test_profile_refuses_what_does_not_fit() -> None:
    with pytest.raises(ProfileError):
        permit_files(PermitContents(**{**CONTENTS.__dict__, "photo": b"GIF89a"}))
    with pytest.raises(ProfileError):
        permit_files(PermitContents(**{**CONTENTS.__dict__, "sex": "X"}))
    with pytest.raises(ProfileError):
        permit_files(PermitContents(**{**CONTENTS.__dict__, "residence_address": "长" * 200}))


def test_personal_fields_stay_out_of_repr() -> None:
    text = repr(CONTENTS)
    for secret in (CONTENTS.name, CONTENTS.id_number, "新安路", "漕溪北路"):
        assert secret not in text


@given(st.binary(max_size=300))
def test_virtual_card_answers_anything_with_a_status_word(raw: bytes) -> None:
    card = VirtualPermitCard.permit("5250000000000001", CONTENTS)
    before = {fid: card.file(fid) for fid in Fid}
    response = card.process(raw)
    assert len(response) >= 2
    assert {fid: card.file(fid) for fid in Fid} == before  # no unauthenticated write lands
