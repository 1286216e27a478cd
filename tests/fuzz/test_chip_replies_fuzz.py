"""The permit chip's replies to the driver, fuzzed: APDU responses and every record decoder (issue 15).

Whatever a card (or a torn write, or a forged card) returns, devices/apdu.py's parse_response gives a
Response or a MalformedResponse, and every decoder in devices/permit_profile.py gives its typed value
or raises ProfileError: never another exception. Records are CRC-framed, so random bytes rarely get
past the frame; most examples therefore frame an arbitrary or a damaged-but-plausible TLV body with a
good CRC, so the TLV and field decoders themselves are reached. And a record that decodes, encoded
again from its value, decodes to the same value (the decoder does not invent fields).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from devices import apdu
from devices import permit_profile as pp
from tests.fuzz.common import FUZZ

DECODERS: dict[str, tuple[Callable[[bytes], Any], int]] = {
    "card_info": (pp.decode_card_info, pp.EF_SIZE[pp.Fid.CARD_INFO]),
    "holder": (pp.decode_holder, pp.EF_SIZE[pp.Fid.HOLDER]),
    "address": (pp.decode_address, pp.EF_SIZE[pp.Fid.ADDRESS]),
    "photo": (pp.decode_photo, pp.EF_SIZE[pp.Fid.PHOTO]),
    "validity_slot": (pp.decode_validity_slot, pp.VALIDITY_SLOT),
    "validity_ef": (pp.decode_validity_ef, pp.EF_SIZE[pp.Fid.VALIDITY]),
    "technician_terms": (pp.decode_technician_terms, pp.EF_SIZE[pp.Fid.TECHNICIAN]),
    "technician": (pp.decode_technician, pp.EF_SIZE[pp.Fid.TECHNICIAN]),
}

# A field value a hostile card may hold: text in and out of UTF-8, dates as digits or not, counters.
values = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(lambda s: s.encode("utf-8")),
    st.dates(date(1, 1, 1), date(9999, 12, 31)).map(lambda d: d.strftime("%Y%m%d").encode()),
    st.integers(0, 2**32 - 1).map(lambda n: n.to_bytes(4, "big")),
    st.sampled_from([b"", b"\x00", b"\xff" * 8, b"20260230", b"99999999", b"\xc3", b"0" * 8]),
)
tlv_bodies = st.lists(st.tuples(st.integers(0x80, 0x9E), values), max_size=12, unique_by=lambda t: t[0]).map(
    pp.tlv_encode)
bodies = st.one_of(tlv_bodies, st.binary(max_size=300))


def check(name: str, raw: bytes) -> None:
    decode, _ = DECODERS[name]
    try:
        decode(raw)
    except pp.ProfileError as exc:
        assert exc.code in ("malformed", "corrupt", "empty", "invalid_field", "too_large"), exc.code


@FUZZ
@given(st.binary(max_size=600))
def test_any_response_bytes_parse_to_a_response_or_malformed(raw: bytes) -> None:
    parsed = apdu.parse_response(raw)
    if isinstance(parsed, apdu.MalformedResponse):
        assert len(raw) < 2
    else:
        assert parsed.encode() == raw and parsed.sw == int.from_bytes(raw[-2:], "big")
        assert parsed.status is None or isinstance(parsed.status, apdu.StatusWord)


@FUZZ
@given(st.sampled_from(sorted(DECODERS)), st.binary(max_size=700))
def test_arbitrary_bytes_give_a_value_or_a_profile_error(name: str, raw: bytes) -> None:
    check(name, raw)


@FUZZ
@given(st.sampled_from(sorted(DECODERS)), bodies, st.binary(max_size=40))
def test_framed_hostile_bodies_give_a_value_or_a_profile_error(name: str, body: bytes, tail: bytes) -> None:
    _, capacity = DECODERS[name]
    try:
        framed = pp.frame_record(body, capacity)
    except pp.ProfileError:
        framed = body
    check(name, framed + tail)
    if name == "validity_ef":
        check(name, framed.ljust(pp.VALIDITY_SLOT, b"\x00") + framed + tail)


@FUZZ
@given(st.binary(max_size=2000))
def test_tlv_decode_is_exact_or_malformed(data: bytes) -> None:
    try:
        items = pp.tlv_decode(data)
    except pp.ProfileError as exc:
        assert exc.code == "malformed"
        return
    assert all(0x80 <= tag <= 0x9E for tag in items)
    assert sum(len(v) for v in items.values()) <= len(data)


@FUZZ
@given(tlv_bodies, st.integers(0, 255), st.integers(1, 255))
def test_a_damaged_record_is_never_read_as_its_body(body: bytes, where: int, flip: int) -> None:
    framed = pp.frame_record(body, 0x10000 + pp.RECORD_OVERHEAD)
    i = where % len(framed)
    bad = framed[:i] + bytes((framed[i] ^ flip,)) + framed[i + 1 :]
    try:
        out = pp.unframe_record(bad)
    except pp.ProfileError:
        return
    assert out != body or i >= len(framed)  # CRC-32 catches every single-byte change


@FUZZ
@given(st.integers(0, 2**32 - 1), st.dates(date(1900, 1, 1), date(2199, 12, 31)),
       st.dates(date(1900, 1, 1), date(2199, 12, 31)), st.integers(0, 0xFFFF))
def test_a_validity_slot_round_trips(sequence: int, issued: date, until: date, count: int) -> None:
    record = pp.ValidityRecord(sequence, pp.PermitValidity(issued, issued, until, count))
    assert pp.decode_validity_slot(pp.encode_validity_slot(record)) == record
