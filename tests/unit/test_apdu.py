"""APDU codec, status words and SM4 primitives (devices/apdu.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.apdu import (
    CommandApdu,
    MalformedResponse,
    Response,
    StatusWord,
    auth_cryptogram,
    command_mac,
    diversify_key,
    external_authenticate,
    get_challenge,
    pad_method2,
    parse_command,
    parse_response,
    read_binary,
    select_aid,
    select_ef,
    sm4_cmac,
    sm4_ecb_encrypt,
    sm_update_binary,
    sm_update_mac_input,
)

byte = st.integers(0, 255)


@given(st.binary(max_size=300))
def test_any_response_parses_to_a_typed_result(raw: bytes) -> None:
    parsed = parse_response(raw)
    if len(raw) < 2:
        assert parsed == MalformedResponse(raw)
        return
    assert isinstance(parsed, Response)
    assert parsed.encode() == raw
    assert parsed.sw == int.from_bytes(raw[-2:], "big")
    assert parsed.status is None or isinstance(parsed.status, StatusWord)
    assert parsed.ok == (parsed.sw == 0x9000)


@given(byte, byte, byte, byte, st.binary(max_size=255), st.none() | st.integers(1, 256))
def test_command_round_trip(cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None) -> None:
    cmd = CommandApdu(cla, ins, p1, p2, data, le)
    assert parse_command(cmd.encode()) == cmd


@given(st.binary(max_size=300))
def test_any_bytes_parse_to_a_command_or_none(raw: bytes) -> None:
    cmd = parse_command(raw)
    assert cmd is None or cmd.encode() == raw


def test_builders_encode_the_documented_bytes() -> None:
    assert get_challenge().encode() == bytes.fromhex("0084000008")
    assert select_aid(bytes.fromhex("F052504B4901")).encode() == bytes.fromhex("00A4040C06F052504B4901")
    assert select_ef(0x0104).encode() == bytes.fromhex("00A4020C020104")
    assert read_binary(0x0140, 256).encode() == bytes.fromhex("00B0014000")
    assert external_authenticate(2, bytes(16)).encode() == bytes.fromhex("0082000210") + bytes(16)
    assert sm_update_binary(64, b"\x01\x02", b"\xaa\xbb\xcc\xdd").encode() == bytes.fromhex("04D6004006 0102AABBCCDD")


def test_command_limits() -> None:
    with pytest.raises(ValueError):
        CommandApdu(0, 0xB0, 0, 0, bytes(256))
    with pytest.raises(ValueError):
        read_binary(0x8000, 1)


def test_sm4_standard_vector() -> None:
    # GB/T 32907-2016, appendix A.1
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert sm4_ecb_encrypt(key, key) == bytes.fromhex("681edf34d206965e86b3e94f536e4246")


def test_padding_method2() -> None:
    assert pad_method2(bytes(8)) == bytes(8) + b"\x80" + bytes(7)
    assert len(pad_method2(bytes(16))) == 32


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_diversified_keys_differ_per_card(master: bytes, serial_a: bytes, serial_b: bytes) -> None:
    a, b = diversify_key(master, serial_a), diversify_key(master, serial_b)
    assert len(a) == 16
    assert (a == b) == (serial_a == serial_b)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
def test_cryptogram_is_the_padded_challenge_under_the_key(key: bytes, challenge: bytes) -> None:
    assert auth_cryptogram(key, challenge) == sm4_ecb_encrypt(key, challenge + b"\x80" + bytes(7))


def test_mac_covers_challenge_counter_header_and_data() -> None:
    key, challenge, data = bytes(range(16)), bytes(8), b"validity"
    base = command_mac(key, sm_update_mac_input(challenge, 0, 64, data))
    assert len(base) == 4
    covered = challenge + b"\x00\x00" + bytes.fromhex("04D60040") + bytes((len(data) + 4,)) + data
    assert base == sm4_cmac(key, covered)[:4]
    assert command_mac(key, sm_update_mac_input(b"\x01" + bytes(7), 0, 64, data)) != base
    assert command_mac(key, sm_update_mac_input(challenge, 1, 64, data)) != base
    assert command_mac(key, sm_update_mac_input(challenge, 0, 0, data)) != base
    assert command_mac(key, sm_update_mac_input(challenge, 0, 64, b"validitz")) != base
