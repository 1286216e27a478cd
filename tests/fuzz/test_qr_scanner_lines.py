"""The serial QR scanner's line assembler (devices/qr_scanner.py) on arbitrary byte streams: the
same lines however the stream is chunked, none longer than max_line, none with a CR in it, and
every line it gives is exactly a CR-terminated segment of the input (minus one LF after a CR)."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import DeviceNote
from devices.qr_scanner import LineAssembler

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
streams = st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([b"\r", b"\r\n", b"\n", b"12345678\r"])),
                   max_size=30).map(b"".join)


def expected(stream: bytes, max_line: int) -> tuple[list[bytes], int]:
    """Lines and overlong drops, from the description alone."""
    lines, dropped = [], 0
    segments = stream.split(b"\r")
    for i, seg in enumerate(segments[:-1]):
        if i > 0 and seg.startswith(b"\n"):
            seg = seg[1:]
        if len(seg) > max_line:
            dropped += 1
        elif seg:
            lines.append(seg)
    return lines, dropped


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(streams, st.lists(st.integers(1, 64), min_size=1, max_size=20), st.integers(1, 48))
def test_lines_do_not_depend_on_chunking_and_stay_bounded(stream: bytes, cuts: list[int], max_line: int) -> None:
    lines = LineAssembler(max_line=max_line, line_timeout=1e9)
    got: list[bytes] = []
    too_long = 0
    i = 0
    k = 0
    while i < len(stream):
        size = cuts[k % len(cuts)]
        out, notes = lines.feed(stream[i:i + size], now=0.0)
        got += out
        too_long += sum(1 for note, _ in notes if note is DeviceNote.LINE_TOO_LONG)
        assert len(lines._buf) <= max_line  # memory stays bounded, whatever arrives
        i += size
        k += 1
    want_lines, want_dropped = expected(stream, max_line)
    assert got == want_lines
    assert too_long == want_dropped
    assert all(b"\r" not in line and 0 < len(line) <= max_line for line in got)


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(st.binary(min_size=1, max_size=60).filter(lambda b: b"\r" not in b),
       st.binary(max_size=20).filter(lambda b: b"\r" not in b))
def test_an_unfinished_line_is_discarded_after_its_timeout_and_never_joins_the_next(stale: bytes,
                                                                                   nxt: bytes) -> None:
    lines = LineAssembler(max_line=512, line_timeout=0.3)
    assert lines.feed(stale, now=0.0) == ([], [])
    out, notes = lines.feed(nxt + b"\r", now=0.31)
    assert notes[0] == (DeviceNote.LINE_INCOMPLETE, str(len(stale)))
    assert out == ([nxt] if nxt else [])
