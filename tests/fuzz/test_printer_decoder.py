"""The printer frame decoder against arbitrary bytes: it never raises and never invents a frame.

Each property runs FUZZ_EXAMPLES examples (tests/fuzz/common.py); `python -m tests.fuzz` runs them at length.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from devices import printer_protocol as pp
from tests.fuzz.common import FUZZ

commands = st.builds(
    pp.encode_command,
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=300),
)
replies = st.one_of(
    st.builds(
        pp.encode_positive,
        st.integers(0, 255),
        st.integers(0, 255),
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
        st.binary(max_size=100),
    ),
    st.builds(pp.encode_negative, st.integers(0, 255), st.integers(0, 255), st.sampled_from(pp.ErrorCode)),
)
frames = st.one_of(commands, replies)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def decode_all(chunks: list[bytes], accept: bytes = b"CPN") -> list[pp.Frame | pp.Corrupt]:
    d = pp.FrameDecoder(accept)
    out: list[pp.Frame | pp.Corrupt] = []
    for c in chunks:
        out += d.feed(c)
    out += d.flush()
    assert not d.pending
    return out


def reencode(f: pp.Frame) -> bytes:
    return pp.frame(bytes((f.kind, f.cm, f.pm)) + f.payload)


@FUZZ
@given(st.binary(max_size=2000), st.lists(st.integers(0, 4000), max_size=20))
def test_arbitrary_bytes_never_raise_and_frames_are_real(data: bytes, cuts: list[int]) -> None:
    for item in decode_all(chunked(data, cuts)):
        if isinstance(item, pp.Frame):
            assert reencode(item) in data  # a frame out is a checksummed frame that was in
            assert item.kind in b"CPN"


@FUZZ
@given(st.binary(max_size=600), frames, st.lists(st.integers(0, 2000), max_size=10))
def test_a_frame_after_any_garbage_is_found(garbage: bytes, raw: bytes, cuts: list[int]) -> None:
    found = [i for i in decode_all(chunked(garbage + raw, cuts)) if isinstance(i, pp.Frame)]
    assert raw in [reencode(f) for f in found]


@FUZZ
@given(
    st.lists(st.tuples(st.binary(max_size=40).map(lambda b: b.replace(b"\xf2", b"")), frames), max_size=6),
    st.lists(st.integers(0, 3000), max_size=20),
)
def test_frames_between_noise_come_out_in_order_however_chunked(
    parts: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(noise + raw for noise, raw in parts)
    found = [reencode(f) for f in decode_all(chunked(stream, cuts)) if isinstance(f, pp.Frame)]
    assert found == [raw for _, raw in parts]


@FUZZ
@given(frames, st.integers(0, 10_000), st.integers(1, 255))
def test_a_flipped_byte_is_never_accepted_as_that_frame(raw: bytes, where: int, flip: int) -> None:
    i = where % len(raw)
    bad = raw[:i] + bytes((raw[i] ^ flip,)) + raw[i + 1 :]
    found = [reencode(f) for f in decode_all([bad]) if isinstance(f, pp.Frame)]
    assert raw not in found
    assert all(f in bad for f in found)


@FUZZ
@given(st.binary(max_size=500))
def test_decoder_only_accepts_the_types_it_was_told(data: bytes) -> None:
    for item in decode_all([data], accept=b"C"):
        if isinstance(item, pp.Frame):
            assert item.kind == pp.T_COMMAND


@FUZZ
@given(st.lists(frames, min_size=1, max_size=8), st.lists(st.integers(0, 4000), max_size=10))
def test_a_command_decoder_keeps_the_commands_and_drops_the_replies(sent: list[bytes], cuts: list[int]) -> None:
    # Random bytes almost never hold a checksummed frame, so the test above seldom reaches its
    # assertion; here every input is a real frame, of every kind, cut anywhere.
    found = [reencode(f) for f in decode_all(chunked(b"".join(sent), cuts), accept=b"C")
             if isinstance(f, pp.Frame)]
    assert found == [f for f in sent if f[3] == pp.T_COMMAND]  # STX, two length bytes, then the kind
