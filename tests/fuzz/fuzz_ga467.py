"""Fuzz target: the ID card reader's input parsers against arbitrary and damaged bytes.

    FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest tests/fuzz/fuzz_ga467.py --hypothesis-show-statistics

Everything a reader (or noise on its line) can send the kiosk goes through these parsers:
the GA 467 frame decoders (devices/ga467.py), the read reply's block split, the card text
(kiosk/idcard.py) and the stand-in photo (kiosk/wlt.py). Each property runs FUZZ_EXAMPLES
examples (default 100, so the regular suite, which runs these through test_ga467_fuzz.py,
stays fast); a longer run only raises the number. docs/protocols/id-reader.md, "Fuzzing".

The oracle for the decoders is exact: every byte fed in is accounted for as a decoded frame,
a typed error's skipped count, or the bytes still pending; every decoded frame, encoded
again, occurs in the input (the decoder never invents one); real frames separated by noise
that holds no preamble all come out, in order, however the stream is chunked; and a frame
with one damaged byte is never accepted as that frame.
"""

from __future__ import annotations

import itertools
import os
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.ga467 import (
    MAX_FRAME,
    PREAMBLE,
    Command,
    CommandDecoder,
    FrameError,
    Reply,
    ReplyDecoder,
    Request,
    Sw3,
    build_command,
    build_raw_command,
    build_reply,
    parse_read_data,
    read_reply_data,
)
from kiosk.idcard import CardDataError, parse_card
from kiosk.identity import Identity
from kiosk.view import Photo
from kiosk.wlt import WLT_LEN, StandInDecoder, encode_stand_in
from sim.id_card_data import encode_card

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Streams of a few kilobytes are the point here, not a slow-test smell.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

Decoded = Reply | Request | FrameError


# --- strategies ---------------------------------------------------------------------------------

sw3s = st.one_of(st.sampled_from(list(Sw3)), st.integers(0, 255))
replies = st.builds(
    lambda sw1, sw2, sw3, data: build_reply(sw3, data, sw1=sw1, sw2=sw2),
    st.integers(0, 255), st.integers(0, 255), sw3s, st.binary(max_size=1400),
)
read_replies = st.builds(
    lambda text, photo: build_reply(Sw3.OK, read_reply_data(text, photo)),
    st.binary(min_size=256, max_size=256), st.binary(min_size=1024, max_size=1024),
)
commands = st.one_of(
    st.sampled_from(list(Command)).map(build_command),
    st.builds(build_raw_command, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64)),
)
# Noise that cannot hold a frame's start: a preamble has no border (no proper prefix that is
# also a suffix), so noise without one can never combine with a real frame into an earlier one.
noise = st.binary(max_size=300).filter(lambda b: PREAMBLE not in b)
cuts = st.lists(st.integers(0, 10_000), max_size=24)


@st.composite
def damaged(draw: st.DrawFn, frames: st.SearchStrategy[bytes]) -> bytes:
    """A frame after a few edits of the kinds a serial line makes."""
    frame = bytearray(draw(frames))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate", "preamble"]))
        pos = draw(st.integers(0, max(0, len(frame) - 1)))
        if op == "flip" and frame:
            frame[pos] ^= draw(st.integers(1, 255))
        elif op == "insert":
            frame[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and frame:
            del frame[pos : pos + draw(st.integers(1, 8))]
        elif op == "truncate":
            del frame[pos:]
        elif op == "duplicate":
            frame += frame[pos:]
        else:
            frame[pos:pos] = PREAMBLE[: draw(st.integers(1, len(PREAMBLE)))]
    return bytes(frame)


def streams(frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Frames, damaged frames and raw bytes, glued together."""
    part = st.one_of(frames, damaged(frames), st.binary(max_size=400))
    return st.lists(part, max_size=6).map(b"".join)


reply_streams = streams(st.one_of(replies, read_replies))
command_streams = streams(commands)


# --- helpers ------------------------------------------------------------------------------------


def chunked(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *sorted({p % (len(data) + 1) for p in points}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def encoded(item: Reply | Request) -> bytes:
    if isinstance(item, Reply):
        return build_reply(item.sw3, item.data, sw1=item.sw1, sw2=item.sw2)
    return build_raw_command(item.cmd, item.para, item.data)


def feed_all(decoder: ReplyDecoder | CommandDecoder, chunks: list[bytes]) -> list[Decoded]:
    out: list[Decoded] = []
    for chunk in chunks:
        items = decoder.feed(chunk)
        assert decoder.pending <= MAX_FRAME
        out += items
    return out


def check_accounting(stream: bytes, out: list[Decoded], pending: int) -> None:
    frames = [i for i in out if not isinstance(i, FrameError)]
    skipped = sum(i.skipped for i in out if isinstance(i, FrameError))
    assert all(isinstance(i, Reply | Request | FrameError) for i in out)
    assert all(e.skipped > 0 for e in out if isinstance(e, FrameError))
    assert sum(len(encoded(f)) for f in frames) + skipped + pending == len(stream)
    for f in frames:
        assert encoded(f) in stream  # never an invented frame


# --- the frame decoders -------------------------------------------------------------------------


@FUZZ
@given(st.one_of(reply_streams, st.binary(max_size=5000)), cuts)
def test_reply_decoder_accounts_for_every_byte_and_invents_no_frame(stream: bytes, points: list[int]) -> None:
    decoder = ReplyDecoder()
    out = feed_all(decoder, chunked(stream, points))
    check_accounting(stream, out, decoder.pending)
    assert all(isinstance(i, Reply | FrameError) for i in out)


@FUZZ
@given(st.one_of(command_streams, st.binary(max_size=3000)), cuts)
def test_command_decoder_accounts_for_every_byte_and_invents_no_frame(stream: bytes, points: list[int]) -> None:
    decoder = CommandDecoder()
    out = feed_all(decoder, chunked(stream, points))
    check_accounting(stream, out, decoder.pending)
    assert all(isinstance(i, Request | FrameError) for i in out)


@FUZZ
@given(st.lists(st.tuples(noise, st.one_of(replies, read_replies)), max_size=5), noise, cuts)
def test_replies_between_noise_all_come_out_in_order(
    parts: list[tuple[bytes, bytes]], tail: bytes, points: list[int]
) -> None:
    stream = b"".join(n + f for n, f in parts) + tail
    out = feed_all(ReplyDecoder(), chunked(stream, points))
    assert [encoded(i) for i in out if isinstance(i, Reply)] == [f for _, f in parts]


@FUZZ
@given(st.lists(st.tuples(noise, commands), max_size=5), cuts)
def test_commands_between_noise_all_come_out_in_order(parts: list[tuple[bytes, bytes]], points: list[int]) -> None:
    stream = b"".join(n + f for n, f in parts)
    out = feed_all(CommandDecoder(), chunked(stream, points))
    assert [encoded(i) for i in out if isinstance(i, Request)] == [f for _, f in parts]


@FUZZ
@given(st.one_of(replies, read_replies), st.integers(0, 10_000), st.integers(1, 255), cuts)
def test_one_damaged_byte_is_never_accepted_as_that_frame(frame: bytes, where: int, flip: int,
                                                          points: list[int]) -> None:
    i = where % len(frame)
    bad = frame[:i] + bytes((frame[i] ^ flip,)) + frame[i + 1 :]
    decoder = ReplyDecoder()
    out = feed_all(decoder, chunked(bad, points))
    check_accounting(bad, out, decoder.pending)
    assert frame not in [encoded(r) for r in out if isinstance(r, Reply)]


# --- what the driver and the kiosk make of a reply's data -----------------------------------------


@FUZZ
@given(st.binary(max_size=2400), st.booleans())
def test_read_data_split_is_exact_or_none(data: bytes, with_fingerprint: bool) -> None:
    card = parse_read_data(data, with_fingerprint=with_fingerprint)
    if card is not None:
        head = 6 if with_fingerprint else 4
        assert data[head:] == card.text + card.photo + card.fingerprint


_TEXTS = [
    encode_card(card_type=t, name=n, sex="F", nation=nat, birth=date(1990, 3, 7), id_number=i,
                address="安徽省合肥市瑶海区长江东路100号", authority=a, valid_from=date(2020, 1, 1), valid_to=None).text
    for t, n, nat, i, a in [
        ("citizen", "张伟", "01", "340102199003070010", "合肥市公安局瑶海分局"),
        ("foreign_permanent", "John Smith", "CAN", "CAN310090030701", "3100"),
        ("foreign_permanent_2023", "MARTIN DUBOIS", "FRA", "931250198806150013", ""),
        ("hk_mo_tw_residence", "陈家明", "", "810000199003070015", "上海市公安局出入境管理局"),
    ]
]


@st.composite
def card_texts(draw: st.DrawFn) -> bytes:
    text = bytearray(draw(st.sampled_from(_TEXTS)))
    for _ in range(draw(st.integers(0, 6))):
        text[draw(st.integers(0, 255))] = draw(st.integers(0, 255))
    return bytes(text)


@FUZZ
@given(st.one_of(card_texts(), st.binary(min_size=256, max_size=256), st.binary(max_size=300)))
def test_card_text_gives_an_identity_or_a_card_data_error(text: bytes) -> None:
    try:
        identity = parse_card(text)
    except CardDataError as exc:
        assert str(exc)  # names the field; never the content (checked in tests/unit/test_idcard.py)
        return
    assert isinstance(identity, Identity)
    assert identity.name and identity.id_number


_STAND_IN = encode_stand_in(bytes((x * 7 + y * 3) % 256 for y in range(126) for x in range(102)), 102, 126, 4)


@st.composite
def photo_blocks(draw: st.DrawFn) -> bytes:
    block = bytearray(_STAND_IN)
    for _ in range(draw(st.integers(1, 4))):
        block[draw(st.integers(0, 40))] = draw(st.integers(0, 255))  # the head and the start of the stream
    return bytes(block)


@FUZZ
@given(st.one_of(photo_blocks(), st.binary(max_size=WLT_LEN), st.binary(max_size=64).map(lambda b: b"STWL" + b)))
def test_stand_in_photo_decodes_to_a_whole_photo_or_none(block: bytes) -> None:
    photo = StandInDecoder().decode(block)
    if photo is not None:
        assert isinstance(photo, Photo)
        assert len(photo.rgb) == photo.width * photo.height * 3
