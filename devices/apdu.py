"""ISO 7816-4 APDUs for the permit card, and the SM4 primitives its security uses.

Pure functions and frozen values: no I/O, no pyscard. Both the driver (devices/permit_card.py)
and the virtual card (sim/permit_card_emu.py) build and parse through here, so the two ends
cannot drift apart. Only short APDUs are used (Lc, Le <= 255/256): every reader and every card
speaks them. The profile itself (AID, files, records) is in devices/permit_profile.py; the
wire format is documented in docs/protocols/permit-card.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

# --- command APDUs ------------------------------------------------------------------------

CLA_PLAIN = 0x00
# b4 b3 = 01: proprietary secure messaging. Our format: plain data followed by a 4-byte MAC.
CLA_SM = 0x04

MAX_LC = 255
MAX_LE = 256  # encoded as 00
MAX_OFFSET = 0x7FFF  # READ/UPDATE BINARY with P1 b8 = 0: a 15-bit offset into the current EF

CHALLENGE_LEN = 8
CRYPTOGRAM_LEN = 16
MAC_LEN = 4
KEY_LEN = 16
SERIAL_LEN = 8


class Ins(IntEnum):
    SELECT = 0xA4
    READ_BINARY = 0xB0
    UPDATE_BINARY = 0xD6
    GET_CHALLENGE = 0x84
    EXTERNAL_AUTHENTICATE = 0x82


class SelectBy(IntEnum):
    """P1 of SELECT."""

    FILE_ID = 0x02  # an EF under the current DF
    AID = 0x04  # a DF (application) by name


P2_NO_RESPONSE_DATA = 0x0C  # SELECT: return no FCI


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no response data expected; 1..256

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} out of range")
        if len(self.data) > MAX_LC:
            raise ValueError("data longer than a short APDU allows")
        if self.le is not None and not 1 <= self.le <= MAX_LE:
            raise ValueError("le out of range")

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def encode(self) -> bytes:
        """Short APDU, ISO 7816-4 cases 1-4."""
        out = bytearray(self.header)
        if self.data:
            out.append(len(self.data))
            out += self.data
        if self.le is not None:
            out.append(self.le & 0xFF)  # 256 -> 00
        return bytes(out)


def parse_command(raw: bytes) -> CommandApdu | None:
    """A short command APDU, or None when `raw` is not one (extended APDUs included)."""
    if len(raw) < 4:
        return None
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return CommandApdu(cla, ins, p1, p2)
    if len(body) == 1:
        return CommandApdu(cla, ins, p1, p2, le=body[0] or MAX_LE)
    lc = body[0]
    if lc == 0:
        return None  # extended length: not spoken here
    if len(body) == 1 + lc:
        return CommandApdu(cla, ins, p1, p2, body[1:])
    if len(body) == 2 + lc:
        return CommandApdu(cla, ins, p1, p2, body[1 : 1 + lc], le=body[-1] or MAX_LE)
    return None


def select_aid(aid: bytes) -> CommandApdu:
    return CommandApdu(CLA_PLAIN, Ins.SELECT, SelectBy.AID, P2_NO_RESPONSE_DATA, aid)


def select_ef(fid: int) -> CommandApdu:
    return CommandApdu(CLA_PLAIN, Ins.SELECT, SelectBy.FILE_ID, P2_NO_RESPONSE_DATA, fid.to_bytes(2, "big"))


def _offset(offset: int) -> tuple[int, int]:
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError("offset out of range")
    return offset >> 8, offset & 0xFF


def read_binary(offset: int, length: int) -> CommandApdu:
    p1, p2 = _offset(offset)
    return CommandApdu(CLA_PLAIN, Ins.READ_BINARY, p1, p2, le=length)


def update_binary(offset: int, data: bytes) -> CommandApdu:
    """Plain UPDATE BINARY: every EF of the profile refuses it (69 82); kept for tests and tools."""
    p1, p2 = _offset(offset)
    return CommandApdu(CLA_PLAIN, Ins.UPDATE_BINARY, p1, p2, data)


def get_challenge() -> CommandApdu:
    return CommandApdu(CLA_PLAIN, Ins.GET_CHALLENGE, 0, 0, le=CHALLENGE_LEN)


def external_authenticate(key_ref: int, cryptogram: bytes) -> CommandApdu:
    if len(cryptogram) != CRYPTOGRAM_LEN:
        raise ValueError("cryptogram must be 16 bytes")
    return CommandApdu(CLA_PLAIN, Ins.EXTERNAL_AUTHENTICATE, 0, key_ref, cryptogram)


def offset_of(cmd: CommandApdu) -> int | None:
    """The EF offset of a READ/UPDATE BINARY, or None when P1 b8 is set (short-EF addressing)."""
    if cmd.p1 & 0x80:
        return None
    return (cmd.p1 << 8) | cmd.p2


# --- secure messaging ---------------------------------------------------------------------


def sm_mac_input(challenge: bytes, counter: int, header: bytes, lc: int, data: bytes) -> bytes:
    """What the MAC of a secure-messaging command covers.

    The challenge binds the command to this authentication (a command recorded in another
    session fails), the counter to its place in the session (a command replayed within the
    session fails), and the header and Lc to what the data is written to.
    """
    return challenge + counter.to_bytes(2, "big") + header + bytes((lc,)) + data


def sm_update_binary_header(offset: int) -> bytes:
    p1, p2 = _offset(offset)
    return bytes((CLA_SM, Ins.UPDATE_BINARY, p1, p2))


def sm_update_binary(offset: int, data: bytes, mac: bytes) -> CommandApdu:
    if len(mac) != MAC_LEN:
        raise ValueError("MAC must be 4 bytes")
    p1, p2 = _offset(offset)
    return CommandApdu(CLA_SM, Ins.UPDATE_BINARY, p1, p2, data + mac)


def sm_update_mac_input(challenge: bytes, counter: int, offset: int, data: bytes) -> bytes:
    return sm_mac_input(challenge, counter, sm_update_binary_header(offset), len(data) + MAC_LEN, data)


# --- responses ----------------------------------------------------------------------------


class StatusWord(IntEnum):
    OK = 0x9000
    END_OF_FILE = 0x6282  # fewer bytes than Le before the end of the EF
    AUTH_FAILED = 0x6300  # EXTERNAL AUTHENTICATE: wrong cryptogram
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    SECURITY_NOT_SATISFIED = 0x6982  # write without authentication, or with a key that may not write here
    CONDITIONS_NOT_SATISFIED = 0x6985  # no fresh challenge: missing, used, or stale
    NO_CURRENT_EF = 0x6986
    SM_DATA_INCORRECT = 0x6988  # wrong MAC
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    KEY_NOT_FOUND = 0x6A88
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00


@dataclass(frozen=True)
class Response:
    data: bytes
    sw1: int
    sw2: int

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def status(self) -> StatusWord | None:
        """The known status word, or None for one this profile never sends."""
        try:
            return StatusWord(self.sw)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return self.sw == StatusWord.OK

    def encode(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))


@dataclass(frozen=True)
class MalformedResponse:
    """Fewer than the two status bytes every response ends with."""

    raw: bytes


def parse_response(raw: bytes) -> Response | MalformedResponse:
    if len(raw) < 2:
        return MalformedResponse(bytes(raw))
    return Response(bytes(raw[:-2]), raw[-2], raw[-1])


def status_response(sw: int, data: bytes = b"") -> Response:
    return Response(data, (sw >> 8) & 0xFF, sw & 0xFF)


# --- SM4 ----------------------------------------------------------------------------------


def sm4_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    if len(key) != KEY_LEN or len(data) % 16:
        raise ValueError("SM4 needs a 16-byte key and whole 16-byte blocks")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def sm4_cmac(key: bytes, data: bytes) -> bytes:
    """SM4-CMAC (NIST SP 800-38B with SM4 as the block cipher), all 16 bytes."""
    mac = CMAC(algorithms.SM4(key))
    mac.update(data)
    return mac.finalize()


def pad_method2(data: bytes, block: int = 16) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80, then 00 up to a whole block."""
    padded = data + b"\x80"
    return padded + bytes(-len(padded) % block)


def diversify_key(master: bytes, serial: bytes) -> bytes:
    """A card's own key: SM4(master, serial || NOT serial), as PBOC diversifies SM4 keys.

    Each card holds only its diversified keys, so secrets pulled from one card open no other.
    """
    if len(serial) != SERIAL_LEN:
        raise ValueError("card serial must be 8 bytes")
    return sm4_ecb_encrypt(master, serial + bytes(b ^ 0xFF for b in serial))


def auth_cryptogram(card_key: bytes, challenge: bytes) -> bytes:
    """EXTERNAL AUTHENTICATE's data: the card's challenge, padded to a block, under the card key."""
    if len(challenge) != CHALLENGE_LEN:
        raise ValueError("challenge must be 8 bytes")
    return sm4_ecb_encrypt(card_key, pad_method2(challenge))


def command_mac(card_key: bytes, mac_input: bytes) -> bytes:
    return sm4_cmac(card_key, mac_input)[:MAC_LEN]


def pin_verification_value(pin_key: bytes, technician_id: str, pin: str) -> bytes:
    """8 bytes a technician card stores instead of the PIN; `pin_key` is diversified by card serial."""
    message = b"PVV\x00" + technician_id.encode("utf-8") + b"\x00" + pin.encode("utf-8")
    return sm4_cmac(pin_key, message)[:8]
