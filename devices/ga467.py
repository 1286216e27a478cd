"""GA 467 SAM framing of the second-generation ID card reader: frames, commands, statuses, a decoder.

Command frame: preamble, 2-byte big-endian length, CMD, PARA, data, checksum.
Reply frame:   preamble, 2-byte big-endian length, SW1, SW2, SW3, data, checksum.
The length counts every byte after itself (checksum included); the checksum is the XOR of
the length bytes and everything up to the checksum. docs/protocols/id-reader.md has the rest.

The decoder never raises on bad input: the serial line of a kiosk picks up noise, readers
glue frames together or split them anywhere, and a frame with a bad length or checksum must
cost one retry, not a crashed worker.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from typing import Generic, TypeVar

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
_HEADER = len(PREAMBLE) + 2

TEXT_LEN = 256
PHOTO_LEN = 1024
READ_REPLY_LEN = 1295  # the whole 30 01 reply frame, preamble to checksum

# The longest real reply is "read with fingerprint": 3 SW + 6 length bytes + 256 + 1024 + 1024
# (two fingerprint templates) + checksum = 2314. Anything declaring more is noise, and this
# bound is what keeps the decoder's buffer bounded.
MAX_LENGTH = 2400
MAX_FRAME = _HEADER + MAX_LENGTH


class Command(Enum):
    """(CMD, PARA) of every command the driver and the emulator know."""

    RESET_SAM = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND = (0x20, 0x01)
    SELECT = (0x20, 0x02)
    READ = (0x30, 0x01)  # text + photo
    READ_FINGERPRINT = (0x30, 0x10)  # text + photo + fingerprint
    READ_APPENDED_ADDRESS = (0x30, 0x03)

    @property
    def cmd(self) -> int:
        return self.value[0]

    @property
    def para(self) -> int:
        return self.value[1]


SET_BAUD_CMD = 0x60
# PARA of "set baud" (60 xx) as the GA 467 SAM documents it.
BAUD_PARA: dict[int, int] = {115200: 0x00, 57600: 0x01, 38400: 0x02, 19200: 0x03, 9600: 0x04}


class Sw3(IntEnum):
    """SAM operation status (SW3). Names say what the SAM reports, not what the kiosk does about it."""

    OK = 0x90
    FOUND = 0x9F  # find card succeeded
    NO_CONTENT = 0x91  # the card holds no such item (e.g. no appended address)
    CHECKSUM_ERROR = 0x10  # the SAM received our frame with a bad checksum
    LENGTH_ERROR = 0x11  # ... with a bad length
    COMMAND_ERROR = 0x21  # ... with an unknown command or bad parameters
    UNAUTHORISED_OPERATION = 0x23
    UNRECOGNISED_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31  # the card failed to authenticate the SAM
    SAM_AUTH_CARD_FAILED = 0x32  # the SAM failed to authenticate the card
    VERIFY_FAILED = 0x33  # information verification failed
    FINGERPRINT_VERIFY_FAILED = 0x37
    INFO_LENGTH_ERROR = 0x3F
    UNKNOWN_CARD = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47  # get-challenge from the card failed
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81


def sw3_of(code: int) -> Sw3 | None:
    """The typed status for a raw SW3 byte; None for a value GA 467 does not define."""
    try:
        return Sw3(code)
    except ValueError:
        return None


def checksum(data: bytes) -> int:
    value = 0
    for b in data:
        value ^= b
    return value


def _frame(payload: bytes) -> bytes:
    length = struct.pack(">H", len(payload) + 1)
    return PREAMBLE + length + payload + bytes([checksum(length + payload)])


def build_command(command: Command, data: bytes = b"") -> bytes:
    return _frame(bytes([command.cmd, command.para]) + data)


def build_raw_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    return _frame(bytes([cmd & 0xFF, para & 0xFF]) + data)


def build_set_baud(baudrate: int) -> bytes:
    """Frame of "set baud" (60 xx); ValueError for a rate the SAM does not offer."""
    try:
        para = BAUD_PARA[baudrate]
    except KeyError:
        raise ValueError(f"unsupported baud rate {baudrate}") from None
    return build_raw_command(SET_BAUD_CMD, para)


def build_reply(sw3: int, data: bytes = b"", *, sw1: int = 0, sw2: int = 0) -> bytes:
    return _frame(bytes([sw1 & 0xFF, sw2 & 0xFF, sw3 & 0xFF]) + data)


def read_reply_data(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    """Data of a read reply: big-endian lengths (text, photo[, fingerprint]), then the blocks."""
    if fingerprint is None:
        return struct.pack(">HH", len(text), len(photo)) + text + photo
    return struct.pack(">HHH", len(text), len(photo), len(fingerprint)) + text + photo + fingerprint


# --- decoded results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    sw1: int
    sw2: int
    sw3: int
    data: bytes = field(default=b"", repr=False)  # may be card data: never printed

    @property
    def status(self) -> Sw3 | None:
        return sw3_of(self.sw3)


@dataclass(frozen=True)
class Request:
    """A command frame as the emulator receives it."""

    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        for c in Command:
            if c.value == (self.cmd, self.para):
                return c
        return None


class FrameErrorKind(StrEnum):
    GARBAGE = "garbage"  # bytes that are not part of any frame were skipped
    BAD_LENGTH = "bad_length"  # a length field too small or too large for any frame
    BAD_CHECKSUM = "bad_checksum"


@dataclass(frozen=True)
class FrameError:
    kind: FrameErrorKind
    skipped: int  # bytes dropped from the stream


@dataclass(frozen=True)
class CardRead:
    text: bytes = field(repr=False)
    photo: bytes = field(repr=False)
    fingerprint: bytes = field(default=b"", repr=False)


def parse_read_data(data: bytes, *, with_fingerprint: bool = False) -> CardRead | None:
    """Split the data of a read reply; None when the declared lengths do not fit the data."""
    head = 6 if with_fingerprint else 4
    if len(data) < head:
        return None
    if with_fingerprint:
        text_len, photo_len, fp_len = struct.unpack(">HHH", data[:6])
    else:
        (text_len, photo_len), fp_len = struct.unpack(">HH", data[:4]), 0
    if head + text_len + photo_len + fp_len != len(data):
        return None
    text = data[head : head + text_len]
    photo = data[head + text_len : head + text_len + photo_len]
    fingerprint = data[head + text_len + photo_len :]
    return CardRead(text=text, photo=photo, fingerprint=fingerprint)


# --- stream decoder -------------------------------------------------------------------------


_T = TypeVar("_T")


class _Decoder(Generic[_T]):
    """Turns a byte stream into frames and typed errors; holds at most MAX_FRAME bytes."""

    _MIN_PAYLOAD = 0  # bytes between the length field and the checksum

    def __init__(self) -> None:
        self._buf = bytearray()

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[_T | FrameError]:
        out: list[_T | FrameError] = []
        # Feed in slices so that one huge read cannot grow the buffer past one frame.
        for i in range(0, len(data), MAX_FRAME):
            self._buf += data[i : i + MAX_FRAME]
            self._drain(out)
        return out

    def _drain(self, out: list[_T | FrameError]) -> None:
        buf = self._buf
        while True:
            start = buf.find(PREAMBLE)
            if start < 0:
                # Keep a tail that may be the start of a preamble split across reads.
                keep = _partial_preamble_tail(buf)
                dropped = len(buf) - keep
                if dropped:
                    del buf[:dropped]
                    out.append(FrameError(FrameErrorKind.GARBAGE, dropped))
                return
            if start:
                del buf[:start]
                out.append(FrameError(FrameErrorKind.GARBAGE, start))
            if len(buf) < _HEADER:
                return
            length = (buf[5] << 8) | buf[6]
            if length < self._MIN_PAYLOAD + 1 or length > MAX_LENGTH:
                # Drop this preamble only (it cannot overlap itself): what follows is rescanned.
                del buf[: len(PREAMBLE)]
                out.append(FrameError(FrameErrorKind.BAD_LENGTH, len(PREAMBLE)))
                continue
            end = _HEADER + length
            if len(buf) < end:
                return
            body = bytes(buf[5 : end - 1])
            if checksum(body) != buf[end - 1]:
                # The frame may be a truncated one with the next real frame inside its span:
                # skip only this preamble and rescan.
                del buf[: len(PREAMBLE)]
                out.append(FrameError(FrameErrorKind.BAD_CHECKSUM, len(PREAMBLE)))
                continue
            del buf[:end]
            out.append(self._typed(body[2:]))

    def _typed(self, payload: bytes) -> _T:
        raise NotImplementedError


def _partial_preamble_tail(buf: bytearray) -> int:
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0


class ReplyDecoder(_Decoder[Reply]):
    """Driver side: yields Reply and FrameError."""

    _MIN_PAYLOAD = 3

    def _typed(self, payload: bytes) -> Reply:
        return Reply(payload[0], payload[1], payload[2], bytes(payload[3:]))


class CommandDecoder(_Decoder[Request]):
    """Emulator side: yields Request and FrameError."""

    _MIN_PAYLOAD = 2

    def _typed(self, payload: bytes) -> Request:
        return Request(payload[0], payload[1], bytes(payload[2:]))


def format_sam_id(data: bytes) -> str:
    """The SAM ID as vendors print it ("05.01-20101010-0012345678-1234567890"); "" if malformed.

    Little-endian fields: 2-byte, 2-byte, 4-byte, 4-byte, 4-byte; the last two are shown as
    one serial. It identifies the reader, not a resident, so it may be logged.
    """
    if len(data) != 16:
        return ""
    a, b, c, d, e = struct.unpack("<HHIII", data)
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"
