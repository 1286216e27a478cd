"""The rewritable card printer's serial command set (docs/protocols/card-printer.md).

Framing after the Creator CRT-571:

    STX(F2) LENH LENL body ETX(03) BCC      LEN = len(body), BCC = XOR of STX..ETX
    command body:   'C' CM PM DATA
    positive reply: 'P' CM PM ST0 ST1 ST2 DATA
    negative reply: 'N' CM PM E1 E0 DATA

Pure data and functions: no I/O, so the driver and the emulator share one definition
and the decoder can be fuzzed on its own.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

STX = 0xF2
ETX = 0x03
MAX_BODY = 0xFFFF
# A gap this long inside a frame means the rest is not coming: the receiver drops the
# pending candidate and rescans (CRT-style inter-character timeout).
INTER_CHAR_TIMEOUT = 0.1

CARD_WIDTH = 1012  # CR80 at 300 dpi
CARD_HEIGHT = 638

T_COMMAND = ord("C")
T_POSITIVE = ord("P")
T_NEGATIVE = ord("N")
_MIN_BODY = {T_COMMAND: 3, T_POSITIVE: 6, T_NEGATIVE: 5}


class Cmd(IntEnum):
    STATUS = 0x31
    MOVE = 0x32
    ERASE = 0x33
    PRINT = 0x34
    TICKET = 0x35


class Move(IntEnum):
    """PM of MOVE."""

    FEED = 0x30  # blank card from the hopper to the print station
    PRESENT = 0x31  # card to the front slot (gate), held there for the resident
    TO_ENCODER = 0x32  # card to the chip encoder
    RETRACT = 0x33  # card to the reject bin
    TAKE_IN = 0x34  # card waiting at the front slot into the print station


class PrintPm(IntEnum):
    BAND = 0x30  # store this band; more follow
    LAST = 0x31  # store this band and print everything stored


class CardPosition(IntEnum):
    """ST0."""

    NONE = 0x30
    GATE = 0x31  # at the front slot
    IN_PATH = 0x32  # at the print station
    ENCODER = 0x33
    JAMMED = 0x34


class HopperState(IntEnum):
    """ST1."""

    EMPTY = 0x30
    LOW = 0x31
    ENOUGH = 0x32


class BinState(IntEnum):
    """ST2."""

    OK = 0x30
    FULL = 0x31


class ErrorCode(StrEnum):
    """E1 E0 of a negative reply, and the standing fault in a status reply."""

    JAM = "10"
    HOPPER_EMPTY = "20"
    BIN_FULL = "30"
    COVER_OPEN = "40"
    NO_CARD = "50"
    CARD_IN_PATH = "51"
    BAD_COMMAND = "60"
    BAD_PARAMETER = "61"
    BAD_CHECKSUM = "70"

    @classmethod
    def from_wire(cls, raw: bytes) -> ErrorCode | None:
        try:
            return cls(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None


NO_ERROR = b"00"


# --- framing -----------------------------------------------------------------------------


def bcc(data: bytes) -> int:
    """XOR of all bytes; folds a big integer so an 81 kB print stays cheap in Python."""
    n = len(data)
    if n == 0:
        return 0
    x = int.from_bytes(data, "little")
    width = 1 << (n - 1).bit_length()
    while width > 1:
        width //= 2
        shift = width * 8
        x = (x >> shift) ^ (x & ((1 << shift) - 1))
    return x


def frame(body: bytes) -> bytes:
    if not 3 <= len(body) <= MAX_BODY:
        raise ValueError("frame body length out of range")
    head = bytes((STX, len(body) >> 8, len(body) & 0xFF)) + body + bytes((ETX,))
    return head + bytes((bcc(head),))


def encode_command(cm: int, pm: int, data: bytes = b"") -> bytes:
    return frame(bytes((T_COMMAND, cm, pm)) + data)


def encode_positive(cm: int, pm: int, st: tuple[int, int, int], data: bytes = b"") -> bytes:
    return frame(bytes((T_POSITIVE, cm, pm, *st)) + data)


def encode_negative(cm: int, pm: int, error: ErrorCode, data: bytes = b"") -> bytes:
    return frame(bytes((T_NEGATIVE, cm, pm)) + error.value.encode("ascii") + data)


@dataclass(frozen=True)
class Frame:
    """One well-formed frame. `payload` is what follows PM (ST0.. or E1.. or DATA)."""

    kind: int  # T_COMMAND | T_POSITIVE | T_NEGATIVE
    cm: int
    pm: int
    payload: bytes = field(repr=False)  # may hold a job ticket or a photo's bitmap


@dataclass(frozen=True)
class Corrupt:
    """Something shaped like a frame (length, type, ETX in place) whose BCC is wrong."""

    cm: int
    pm: int


class FrameDecoder:
    """Byte stream in, frames out. Never raises: junk is skipped, resync is at the next STX.

    After a bad candidate only its STX is dropped, so a real frame hidden inside noise is
    still found. A candidate whose length points past the bytes received waits for more;
    `flush()` (call it after INTER_CHAR_TIMEOUT of silence) gives up on it and rescans.
    """

    def __init__(self, accept: bytes = b"CPN") -> None:
        self._accept = frozenset(accept)
        self._buf = bytearray()

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame | Corrupt]:
        self._buf += data
        return self._scan()

    def flush(self) -> list[Frame | Corrupt]:
        out: list[Frame | Corrupt] = []
        while self._buf:
            del self._buf[:1]  # the candidate at the head is not a frame
            out += self._scan()
        return out

    def _scan(self) -> list[Frame | Corrupt]:
        buf = self._buf
        out: list[Frame | Corrupt] = []
        pos = 0
        while True:
            start = buf.find(STX, pos)
            if start < 0:
                pos = len(buf)
                break
            pos = start
            if len(buf) - start < 4:
                break
            n = (buf[start + 1] << 8) | buf[start + 2]
            kind = buf[start + 3]
            if kind not in self._accept or n < _MIN_BODY[kind]:
                pos = start + 1
                continue
            end = start + n + 5
            if len(buf) < end:
                break  # wait for the rest (or a flush)
            if buf[end - 2] != ETX:
                pos = start + 1
                continue
            whole = bytes(buf[start:end])
            if bcc(whole[:-1]) != whole[-1]:
                out.append(Corrupt(whole[4], whole[5]))
                pos = start + 1
                continue
            out.append(Frame(kind, whole[4], whole[5], whole[6:-2]))
            pos = end
        del buf[:pos]
        return out


# --- replies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    cm: int
    pm: int
    ok: bool
    st: tuple[int, int, int] = (0, 0, 0)  # positive replies only
    error: ErrorCode | None = None  # negative replies only; None also for an unknown code
    data: bytes = field(default=b"", repr=False)


def parse_reply(f: Frame) -> Reply | None:
    if f.kind == T_POSITIVE:
        p = f.payload
        return Reply(f.cm, f.pm, True, (p[0], p[1], p[2]), None, p[3:])
    if f.kind == T_NEGATIVE:
        return Reply(f.cm, f.pm, False, error=ErrorCode.from_wire(f.payload[:2]), data=f.payload[2:])
    return None


# --- status --------------------------------------------------------------------------------

_STATUS = struct.Struct(">HHHHHc2sI")


@dataclass(frozen=True)
class StatusReport:
    position: CardPosition
    hopper: HopperState
    bin_full: bool
    hopper_count: int
    hopper_capacity: int
    low_threshold: int
    bin_count: int
    bin_capacity: int
    cover_open: bool
    fault: ErrorCode | None  # the standing fault (jam, cover open), None when clear
    job: int  # job number of the card inside, 0 when none

    def st(self) -> tuple[int, int, int]:
        return (self.position, self.hopper, BinState.FULL if self.bin_full else BinState.OK)

    def data(self) -> bytes:
        return _STATUS.pack(
            self.hopper_count, self.hopper_capacity, self.low_threshold, self.bin_count,
            self.bin_capacity, b"1" if self.cover_open else b"0",
            self.fault.value.encode("ascii") if self.fault else NO_ERROR, self.job,
        )


def decode_status(r: Reply) -> StatusReport | None:
    """None when the reply is not a well-formed status (the caller treats it as line trouble)."""
    if not r.ok or r.cm != Cmd.STATUS or len(r.data) != _STATUS.size:
        return None
    try:
        position, hopper, bin_state = CardPosition(r.st[0]), HopperState(r.st[1]), BinState(r.st[2])
    except ValueError:
        return None
    hc, cap, low, bc, bcap, cover, fault, job = _STATUS.unpack(r.data)
    return StatusReport(
        position, hopper, bin_state is BinState.FULL, hc, cap, low, bc, bcap,
        cover == b"1", None if fault == NO_ERROR else ErrorCode.from_wire(fault), job,
    )


def hopper_state(count: int, low_threshold: int) -> HopperState:
    if count <= 0:
        return HopperState.EMPTY
    if count <= low_threshold:
        return HopperState.LOW
    return HopperState.ENOUGH


# --- areas and bitmaps -------------------------------------------------------------------

_AREA = struct.Struct(">HHHH")
AREA_SIZE = _AREA.size


def row_bytes(width: int) -> int:
    return (width + 7) // 8


def encode_area(x: int, y: int, width: int, height: int) -> bytes:
    return _AREA.pack(x, y, width, height)


def decode_area(data: bytes) -> tuple[int, int, int, int] | None:
    if len(data) < AREA_SIZE:
        return None
    return _AREA.unpack(data[:AREA_SIZE])


def area_on_card(x: int, y: int, width: int, height: int) -> bool:
    return width > 0 and height > 0 and x + width <= CARD_WIDTH and y + height <= CARD_HEIGHT


def band_rows(width: int) -> int:
    """Most rows of this width one PRINT frame can carry."""
    return (MAX_BODY - 3 - AREA_SIZE) // row_bytes(width)


def print_commands(x: int, y: int, width: int, height: int, bits: bytes) -> list[bytes]:
    """A bitmap as PRINT frames: horizontal bands, each a self-contained rectangle.

    Every band but the last is BAND (stored); the last is LAST (stored, then printed), so the
    printer moves the card under the head once for the whole image.
    """
    rb = row_bytes(width)
    if width <= 0 or height <= 0 or len(bits) != rb * height:
        raise ValueError("print_commands: bitmap length does not match the area")
    per = band_rows(width)
    out = []
    for top in range(0, height, per):
        rows = min(per, height - top)
        pm = PrintPm.LAST if top + rows >= height else PrintPm.BAND
        chunk = bits[top * rb : (top + rows) * rb]
        out.append(encode_command(Cmd.PRINT, pm, encode_area(x, y + top, width, rows) + chunk))
    return out


def encode_ticket(fields: dict[str, str]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")


def decode_ticket(data: bytes) -> dict[str, str] | None:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        return None
    return obj
