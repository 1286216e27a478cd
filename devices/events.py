"""Events that device adapters post to the kiosk's one event queue.

Adapters never raise across their worker boundary: every command ends in one of
these results. Fields carrying resident data are excluded from repr so that an
event printed by accident leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from devices.permit_profile import ChipCardInfo, PermitChipData, PermitValidity, TechnicianChipData
from devices.status import DeviceKind, DeviceStatus


@dataclass(frozen=True)
class StatusChanged:
    status: DeviceStatus


class DeviceNote(StrEnum):
    """What an adapter has to say for the log: a closed set, logged by the core through the
    one catalog (kiosk/logevents.py, DEVICE_NOTE). Adapters never log free text themselves."""

    JOB_CRASHED = "job_crashed"  # a bug in the adapter, caught by its worker
    PORT_OPENED = "port_opened"
    PORT_GONE = "port_gone"
    READER_FOUND = "reader_found"
    UNEXPECTED_STATUS = "unexpected_status"
    MALFORMED_REPLY = "malformed_reply"
    NO_VALID_REPLY = "no_valid_reply"
    FRAME_ERROR = "frame_error"
    OPERATION_STARTED = "operation_started"
    OPERATION_ENDED = "operation_ended"
    OPERATION_FAILED = "operation_failed"
    RECORD_CORRUPT = "record_corrupt"
    REREAD_FAILED = "reread_failed"  # a silent re-read of a placement that failed already
    SINK_FAILED = "sink_failed"  # the kiosk's event sink raised while taking an event
    LINE_TOO_LONG = "line_too_long"  # QR scanner: a line over max_line, dropped whole (detail: its length)
    LINE_INCOMPLETE = "line_incomplete"  # QR scanner: bytes with no CR, discarded after the line timeout
    SCAN_IGNORED = "scan_ignored"  # QR scanner: a code read while no screen waited for one, dropped
    DECODER_MISSING = "decoder_missing"  # QR camera: the configured decoder library cannot be loaded
    TRANSIENT_FAULT = "transient_fault"  # ID reader: a fault-like answer a later attempt cured (detail: step:attempts)


class NoteSeverity(StrEnum):
    """How much a note matters; the core logs each severity through its own catalog event."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


NOTE_SEVERITY: dict[DeviceNote, NoteSeverity] = {
    DeviceNote.JOB_CRASHED: NoteSeverity.ERROR,
    DeviceNote.SINK_FAILED: NoteSeverity.ERROR,
    DeviceNote.PORT_OPENED: NoteSeverity.INFO,
    DeviceNote.READER_FOUND: NoteSeverity.INFO,
    DeviceNote.OPERATION_STARTED: NoteSeverity.INFO,
    DeviceNote.OPERATION_ENDED: NoteSeverity.INFO,
    DeviceNote.PORT_GONE: NoteSeverity.WARNING,
    DeviceNote.UNEXPECTED_STATUS: NoteSeverity.WARNING,
    DeviceNote.MALFORMED_REPLY: NoteSeverity.WARNING,
    DeviceNote.NO_VALID_REPLY: NoteSeverity.WARNING,
    DeviceNote.OPERATION_FAILED: NoteSeverity.WARNING,
    DeviceNote.RECORD_CORRUPT: NoteSeverity.WARNING,
    DeviceNote.FRAME_ERROR: NoteSeverity.DEBUG,
    DeviceNote.REREAD_FAILED: NoteSeverity.DEBUG,
    DeviceNote.TRANSIENT_FAULT: NoteSeverity.INFO,
    DeviceNote.LINE_TOO_LONG: NoteSeverity.WARNING,
    DeviceNote.LINE_INCOMPLETE: NoteSeverity.WARNING,
    DeviceNote.SCAN_IGNORED: NoteSeverity.DEBUG,
    DeviceNote.DECODER_MISSING: NoteSeverity.ERROR,
}


@dataclass(frozen=True)
class DeviceLogged:
    """One note of an adapter's for the log. `detail` is a fixed machine-readable code (an op name,
    an error code, a status byte in hex, a duration in ms, an exception's class name): never
    resident data, never an exception's message."""

    device: DeviceKind
    note: DeviceNote
    detail: str = ""

    @property
    def severity(self) -> NoteSeverity:
        return NOTE_SEVERITY[self.note]


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
    TO_ENCODER = "to_encoder"  # card to the chip encoder's field
    TAKE_IN = "take_in"  # a card inserted at the front slot, into the printer (card-face rewrite)
    ERASE = "erase"  # an area of the rewritable strip made white again


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
class PreviewSampled:
    """A preview frame for the core's guidance (the photo checks), sent a few times a second
    while the preview is on; held in memory only, like a captured photo."""

    width: int
    height: int
    rgb: bytes = field(repr=False)


@dataclass(frozen=True)
class CameraFailed:
    request_id: int
    error: CameraError


# --- QR scanner ------------------------------------------------------------------------


@dataclass(frozen=True)
class QrScanned:
    """One decoded QR code, exactly as the scanner (one CR-terminated line, the CR removed) or
    the camera's decoder gave it. Untrusted: the core's parser (kiosk/qr_payload.py) decides
    what it is. Posted only while the adapter's scanning is on."""

    payload: bytes = field(repr=False)
    source: str  # "scanner" (a serial scanner's line) | "camera" (decoded from camera frames)


# --- permit card chip (the encoder's PC/SC reader) -------------------------------------


class ChipOp(StrEnum):
    READ = "read"  # a permit card's contents
    READ_TECHNICIAN = "read_technician"  # a technician card's id and PIN verification value
    PERSONALISE = "personalise"  # blank card -> permit
    WRITE_VALIDITY = "write_validity"  # authenticated update of validity and endorsement count


class ChipError(StrEnum):
    NO_CARD = "no_card"  # no card in the encoder's field when the operation began
    CARD_REMOVED = "card_removed"  # the card left the field during the operation
    AUTH_FAILED = "auth_failed"  # EXTERNAL AUTHENTICATE refused: wrong key, or no fresh challenge
    WRITE_FAILED = "write_failed"  # an update refused (MAC, access) or not read back as written
    NOT_A_PERMIT_CARD = "not_a_permit_card"  # no permit application, or a blank/technician card
    NOT_A_BLANK_CARD = "not_a_blank_card"  # personalise on a card already issued
    NOT_A_TECHNICIAN_CARD = "not_a_technician_card"
    CORRUPT_DATA = "corrupt_data"  # a record fails its CRC or does not decode
    INVALID_DATA = "invalid_data"  # the data to write does not fit the profile
    SECURITY_MODULE = "security_module"  # the key service (PSAM) could not answer
    COMMUNICATION = "communication"  # the reader or card answered nonsense, or not at all
    NO_DEVICE = "no_device"  # no PC/SC service, or no reader of the configured name


ChipData = PermitChipData | TechnicianChipData | PermitValidity | ChipCardInfo


@dataclass(frozen=True)
class ChipResult:
    """The one result of one chip operation.

    `data`: PermitChipData (READ, PERSONALISE), TechnicianChipData (READ_TECHNICIAN),
    PermitValidity (WRITE_VALIDITY), or ChipCardInfo when a card of the wrong kind was found.
    `sw` is the status word of the APDU that failed, for diagnostics.
    """

    op: ChipOp
    ok: bool
    error: ChipError | None = None
    data: ChipData | None = None
    sw: int | None = None


@dataclass(frozen=True)
class ChipCardPresent:
    """A card entered the encoder's field. `insertion` counts insertions since the adapter
    started (pcscd's reader event counter where it has one): a fresh card has a higher one
    than any card seen before, so a stale "present" is never mistaken for the card just moved in."""

    insertion: int = 0


@dataclass(frozen=True)
class ChipCardRemoved:
    """The card left the encoder's field."""
