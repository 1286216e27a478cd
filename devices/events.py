"""Events that device adapters post to the kiosk's one event queue.

Adapters never raise across their worker boundary: every command ends in one of
these results. Fields carrying resident data are excluded from repr so that an
event printed by accident leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from devices.status import DeviceStatus


@dataclass(frozen=True)
class StatusChanged:
    status: DeviceStatus


# --- ID card reader -------------------------------------------------------------------


class IdReaderError(StrEnum):
    NO_CARD = "no_card"  # find failed (SW3 80) or select failed (81)
    READ_FAILED = "read_failed"  # SW3 41, 91, or the card was lifted mid-read
    UNKNOWN_CARD = "unknown_card"  # SW3 40
    SAM_FAULT = "sam_fault"  # SAM self-test / authorisation / authentication statuses
    COMMUNICATION = "communication"  # checksum, length, silence after bounded retries
    NO_DEVICE = "no_device"  # the port is gone


@dataclass(frozen=True)
class IdCardPlaced:
    pass


@dataclass(frozen=True)
class IdCardLifted:
    pass


@dataclass(frozen=True)
class IdCardRead:
    """Raw card data exactly as the SAM returned it; the core parses it."""

    text: bytes = field(repr=False)  # 256 bytes, UCS-2LE
    photo: bytes = field(repr=False)  # 1024 bytes, WLT


@dataclass(frozen=True)
class IdReadFailed:
    error: IdReaderError


# --- card printer -------------------------------------------------------------------


class PrinterOp(StrEnum):
    STATUS = "status"
    FEED = "feed"  # blank card from the hopper into the printer
    TICKET = "ticket"  # job ticket: the printed fields, kept in the printer's job log
    PRINT = "print"  # 1-bit bitmap into an area of the card face
    PRESENT = "present"  # card to the front slot, held for the resident
    RETRACT = "retract"  # card to the reject bin


class PrinterError(StrEnum):
    JAM = "jam"
    HOPPER_EMPTY = "hopper_empty"
    BIN_FULL = "bin_full"
    COVER_OPEN = "cover_open"
    NO_CARD = "no_card"  # the command needs a card where there is none
    CARD_IN_PATH = "card_in_path"  # a card is already inside
    COMMAND_REFUSED = "command_refused"
    COMMUNICATION = "communication"
    NO_DEVICE = "no_device"


@dataclass(frozen=True)
class PrinterResult:
    op: PrinterOp
    ok: bool
    error: PrinterError | None = None


@dataclass(frozen=True)
class PrintedCardTaken:
    """The card presented at the front slot was taken by the resident."""


# --- camera -------------------------------------------------------------------------


class CameraError(StrEnum):
    NO_FRAME = "no_frame"
    NO_DEVICE = "no_device"


@dataclass(frozen=True)
class PhotoCaptured:
    request_id: int
    width: int
    height: int
    rgb: bytes = field(repr=False)  # width*height*3 bytes, row-major RGB


@dataclass(frozen=True)
class CameraFailed:
    request_id: int
    error: CameraError
