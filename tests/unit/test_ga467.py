"""GA 467 frames and the resyncing stream decoder."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.ga467 import (
    MAX_FRAME,
    MAX_LENGTH,
    PREAMBLE,
    READ_REPLY_LEN,
    Command,
    CommandDecoder,
    FrameError,
    FrameErrorKind,
    Reply,
    ReplyDecoder,
    Request,
    Sw3,
    build_command,
    build_reply,
    build_set_baud,
    format_sam_id,
    parse_read_data,
    read_reply_data,
    sw3_of,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Frames as published for real readers (vendor manuals and drivers), byte for byte.
@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (Command.FIND, "AA AA AA 96 69 00 03 20 01 22"),
        (Command.SELECT, "AA AA AA 96 69 00 03 20 02 21"),
        (Command.READ, "AA AA AA 96 69 00 03 30 01 32"),
        (Command.READ_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
        (Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
        (Command.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
        (Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
        (Command.READ_APPENDED_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
    ],
)
def test_command_frames_match_the_published_bytes(command: Command, wire: str) -> None:
    assert build_command(command) == h(wire)


@pytest.mark.parametrize(
    ("wire", "sw3", "data"),
    [
        ("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", Sw3.FOUND, bytes(4)),
        ("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", Sw3.OK, bytes(8)),
        ("AA AA AA 96 69 00 04 00 00 80 84", Sw3.FIND_FAILED, b""),
        ("AA AA AA 96 69 00 04 00 00 81 85", Sw3.SELECT_FAILED, b""),
        ("AA AA AA 96 69 00 04 00 00 41 45", Sw3.READ_FAILED, b""),
        ("AA AA AA 96 69 00 04 00 00 90 94", Sw3.OK, b""),
    ],
)
def test_published_replies_decode_and_rebuild(wire: str, sw3: Sw3, data: bytes) -> None:
    assert build_reply(sw3, data) == h(wire)
    assert ReplyDecoder().feed(h(wire)) == [Reply(0, 0, sw3, data)]


def test_read_reply_is_1295_bytes_with_the_published_head() -> None:
    text, photo = bytes(range(256)), bytes(1024)
    frame = build_reply(Sw3.OK, read_reply_data(text, photo))
    assert len(frame) == READ_REPLY_LEN
    assert frame[:14] == h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    (reply,) = ReplyDecoder().feed(frame)
    assert isinstance(reply, Reply)
    card = parse_read_data(reply.data)
    assert card is not None and card.text == text and card.photo == photo


def test_read_with_fingerprint_data_splits_three_blocks() -> None:
    data = read_reply_data(b"t" * 256, b"p" * 1024, b"f" * 1024)
    card = parse_read_data(data, with_fingerprint=True)
    assert card is not None and card.fingerprint == b"f" * 1024
    assert len(build_reply(Sw3.OK, data)) == 2321  # the published length with one full fingerprint block


@pytest.mark.parametrize("data", [b"", b"\x01\x00", h("0100 0400") + bytes(100), h("0001 0000") + bytes(2)])
def test_read_data_with_lengths_that_do_not_fit_is_rejected(data: bytes) -> None:
    assert parse_read_data(data) is None


def test_set_baud_frames_and_rejects_unknown_rates() -> None:
    assert build_set_baud(115200) == h("AA AA AA 96 69 00 03 60 00 63")
    assert build_set_baud(9600) == h("AA AA AA 96 69 00 03 60 04 67")
    with pytest.raises(ValueError):
        build_set_baud(1234)


@pytest.mark.parametrize(
    "code",
    [0x90, 0x9F, 0x80, 0x81, 0x41, 0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32, 0x33, 0x40, 0x47, 0x60, 0x66,
     0x91],
)
def test_every_documented_sw3_has_a_typed_value(code: int) -> None:
    status = sw3_of(code)
    assert isinstance(status, Sw3) and status == code


def test_undocumented_sw3_is_none_not_an_exception() -> None:
    assert sw3_of(0x42) is None
    assert Reply(0, 0, 0x42).status is None


def test_sam_id_formats_as_vendors_print_it() -> None:
    raw = (5).to_bytes(2, "little") + (1).to_bytes(2, "little") + (20101010).to_bytes(4, "little")
    raw += (12345678).to_bytes(4, "little") + (1234567890).to_bytes(4, "little")
    assert format_sam_id(raw) == "05.01-20101010-0012345678-1234567890"
    assert format_sam_id(raw[:-1]) == ""


# --- the decoder ------------------------------------------------------------------------------

FIND_OK = build_reply(Sw3.FOUND, bytes(4))
FIND_FAIL = build_reply(Sw3.FIND_FAILED)


def replies(items: list[object]) -> list[Reply]:
    return [i for i in items if isinstance(i, Reply)]


def errors(items: list[object]) -> list[FrameErrorKind]:
    return [i.kind for i in items if isinstance(i, FrameError)]


def test_frame_split_into_single_bytes_decodes_once() -> None:
    dec = ReplyDecoder()
    out: list[object] = []
    for b in FIND_OK:
        out += dec.feed(bytes([b]))
    assert out == [Reply(0, 0, Sw3.FOUND, bytes(4))]
    assert dec.pending == 0


def test_concatenated_frames_all_decode() -> None:
    out = ReplyDecoder().feed(FIND_OK + FIND_FAIL + FIND_OK)
    assert [r.sw3 for r in replies(out)] == [0x9F, 0x80, 0x9F]
    assert errors(out) == []


def test_garbage_before_a_frame_is_reported_and_skipped() -> None:
    out = ReplyDecoder().feed(b"\x00\x13\xaa\x96\xaa\xaa" + FIND_OK)
    assert replies(out) == [Reply(0, 0, Sw3.FOUND, bytes(4))]
    assert errors(out) == [FrameErrorKind.GARBAGE]


def test_preamble_split_across_reads_after_garbage_is_kept() -> None:
    dec = ReplyDecoder()
    first = dec.feed(b"noise" + FIND_OK[:3])
    assert errors(first) == [FrameErrorKind.GARBAGE] and replies(first) == []
    assert replies(dec.feed(FIND_OK[3:])) == [Reply(0, 0, Sw3.FOUND, bytes(4))]


def test_bad_checksum_is_typed_and_the_next_frame_still_decodes() -> None:
    bad = FIND_OK[:-1] + bytes([FIND_OK[-1] ^ 1])
    out = ReplyDecoder().feed(bad + FIND_FAIL)
    assert FrameErrorKind.BAD_CHECKSUM in errors(out)
    assert [r.sw3 for r in replies(out)] == [0x80]


@pytest.mark.parametrize("length", [0, 1, 3, MAX_LENGTH + 1, 0xFFFF])
def test_impossible_length_is_typed_and_the_next_frame_still_decodes(length: int) -> None:
    bad = PREAMBLE + length.to_bytes(2, "big") + b"\x00\x00\x90\x00"
    out = ReplyDecoder().feed(bad + FIND_FAIL)
    assert errors(out)[0] is FrameErrorKind.BAD_LENGTH
    assert [r.sw3 for r in replies(out)] == [0x80]


def test_truncated_frame_followed_by_a_whole_one_recovers_the_whole_one() -> None:
    # The truncated frame's length swallows the next frame's start; its checksum then fails
    # and the decoder must find the real frame inside the span it gave up.
    # (An XOR checksum lets 1 in 256 such spans pass by chance; this data is not one of them.)
    photo = bytes((i * 37 + 11) % 251 for i in range(1024))
    read = build_reply(Sw3.OK, read_reply_data(bytes(range(256)), photo))
    out = ReplyDecoder().feed(read[:600] + FIND_FAIL + read)
    got = replies(out)
    assert [r.sw3 for r in got] == [0x80, 0x90]
    assert FrameErrorKind.BAD_CHECKSUM in errors(out)


def test_buffer_never_holds_more_than_one_frame() -> None:
    dec = ReplyDecoder()
    dec.feed(PREAMBLE + MAX_LENGTH.to_bytes(2, "big"))  # a frame that never completes
    for _ in range(10):
        dec.feed(b"\x55" * 1000)
        assert dec.pending <= MAX_FRAME


def test_reset_drops_a_partial_frame() -> None:
    dec = ReplyDecoder()
    dec.feed(FIND_OK[:9])
    dec.reset()
    assert dec.pending == 0
    assert replies(dec.feed(FIND_FAIL)) == [Reply(0, 0, Sw3.FIND_FAILED)]


def test_command_decoder_yields_requests() -> None:
    out = CommandDecoder().feed(build_command(Command.FIND) + build_command(Command.READ))
    assert out == [Request(0x20, 0x01), Request(0x30, 0x01)]
    assert [r.command for r in out if isinstance(r, Request)] == [Command.FIND, Command.READ]
    assert Request(0x99, 0x99).command is None


def test_reply_repr_never_shows_card_data() -> None:
    assert "secret" not in repr(Reply(0, 0, 0x90, b"secret"))


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8))
def test_arbitrary_bytes_give_only_typed_results(chunks: list[bytes]) -> None:
    for dec in (ReplyDecoder(), CommandDecoder()):
        for chunk in chunks:
            for item in dec.feed(chunk):
                assert isinstance(item, Reply | Request | FrameError)
            assert dec.pending <= MAX_FRAME


@settings(max_examples=100, deadline=None)
@given(
    sw3=st.sampled_from(list(Sw3)),
    data=st.binary(max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=320), max_size=6),
)
def test_any_frame_survives_any_split(sw3: Sw3, data: bytes, cuts: list[int]) -> None:
    frame = build_reply(sw3, data)
    points = sorted({min(c, len(frame)) for c in cuts} | {0, len(frame)})
    dec = ReplyDecoder()
    out: list[object] = []
    for a, b in itertools.pairwise(points):
        out += dec.feed(frame[a:b])
    assert out == [Reply(0, 0, sw3, data)]


@settings(max_examples=100, deadline=None)
@given(garbage=st.binary(max_size=200).map(lambda b: b.replace(b"\xaa", b"")))
def test_garbage_without_a_preamble_byte_never_hides_the_next_frame(garbage: bytes) -> None:
    out = ReplyDecoder().feed(garbage + FIND_OK)
    assert replies(out) == [Reply(0, 0, Sw3.FOUND, bytes(4))]


_VALID = [
    FIND_OK,
    FIND_FAIL,
    build_reply(Sw3.OK, read_reply_data(bytes(range(256)), bytes(1024))),
    build_command(Command.READ),
]


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        pos = draw(st.integers(min_value=0, max_value=max(0, len(frame) - 1)))
        if op == "flip" and frame:
            frame[pos] ^= draw(st.integers(min_value=1, max_value=255))
        elif op == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and frame:
            del frame[pos]
        elif op == "truncate":
            del frame[pos:]
        else:
            frame += frame[pos:]
    return bytes(frame)


@settings(max_examples=100, deadline=None)
@given(
    frames=st.lists(mutated_frames(), min_size=1, max_size=4),
    split=st.integers(min_value=1, max_value=64),
)
def test_mutated_frames_give_only_typed_results(frames: list[bytes], split: int) -> None:
    stream = b"".join(frames)
    for dec in (ReplyDecoder(), CommandDecoder()):
        for i in range(0, len(stream), split):
            for item in dec.feed(stream[i : i + split]):
                assert isinstance(item, Reply | Request | FrameError)
                if isinstance(item, Reply):
                    assert 0 <= item.sw3 <= 255
            assert dec.pending <= MAX_FRAME
