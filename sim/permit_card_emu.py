"""A virtual permit card for Debian's vsmartcard-vpcd reader driver inside a real pcscd.

`VirtualPermitCard` is the chip: the profile's files in memory and the card side of the
protocol in docs/protocols/permit-card.md (free reads, EXTERNAL AUTHENTICATE with SM4, SM4-CMAC
secure messaging for updates). `CardSlot` puts a card into the reader by connecting to vpcd's
TCP port and takes it out by closing the socket, from any thread; it also injects faults: the
card pulled at a given APDU (before it runs, after it ran but before the answer, or tearing an
UPDATE BINARY half-way), or an APDU answered with a chosen status word.

vpcd framing (both directions): 2-byte big-endian length, then the body. From vpcd, a 1-byte
body is control (0 power off, 1 power on, 2 reset, 4 ATR request); a longer one is an APDU.
The card answers an ATR request with the ATR and an APDU with its response, length-prefixed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from devices.apdu import (
    CHALLENGE_LEN,
    CLA_PLAIN,
    CLA_SM,
    CRYPTOGRAM_LEN,
    MAC_LEN,
    CommandApdu,
    Ins,
    Response,
    SelectBy,
    StatusWord,
    auth_cryptogram,
    command_mac,
    offset_of,
    parse_command,
    pin_verification_value,
    sm_update_mac_input,
    status_response,
)
from devices.chip_keys import CardKeys, CardOwnKeys, own_keys
from devices.permit_profile import (
    AID,
    EF_SIZE,
    PROFILE_VERSION,
    UPDATE_KEYS,
    CardKind,
    ChipCardInfo,
    Fid,
    KeyRef,
    PermitContents,
    TechnicianStatus,
    encode_card_info,
    encode_technician,
    parse_serial,
    permit_files,
)

VPCD_HOST = "127.0.0.1"
# vpcd's ports come from config/sim.toml ([pcsc] vpcd_port: "Virtual PCD 00 00", the next port
# "Virtual PCD 00 01"), the reader.conf sim/pcscd.py starts pcscd with. Never Debian's 35963.


class VpcdUnreachable(ConnectionError):
    """Nothing listens on vpcd's port: no pcscd, or one whose vpcd is on other ports or failed to bind."""

    def __init__(self, host: str, port: int, why: str) -> None:
        super().__init__(f"cannot put a card into vpcd's reader at {host}:{port} ({why}): is pcscd running "
                         f"with vpcd on this port (sim/pcscd.py, [pcsc] vpcd_port in config/sim.toml)?")
        self.host, self.port = host, port

# Test keys of the emulated card factory. Never configure these on a real kiosk.
TEST_KEYS = CardKeys.from_hex(
    issuer="11223344556677881122334455667788",
    write="2233445566778899AABBCCDDEEFF0011",
    pin="0F1E2D3C4B5A69788796A5B4C3D2E1F0",
)


def _atr() -> bytes:
    """T=1 ATR whose historical bytes name the profile; TCK as ISO 7816-3 requires with T=1."""
    historical = b"RPKI-CARD\x01"
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical  # T0, TD1 (T=0, TD2 follows), TD2 (T=1)
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes((tck,))


ATR = _atr()


class VirtualPermitCard:
    """One chip. Thread-safe: the slot's thread runs APDUs while a test inspects the files."""

    def __init__(self, serial: str, keys: CardOwnKeys, files: dict[Fid, bytes],
                 *, random: Callable[[int], bytes] = os.urandom) -> None:
        self.serial = serial.upper()
        self._keys = keys
        self._random = random
        self._lock = threading.Lock()
        self._files: dict[Fid, bytearray] = {}
        for fid, size in EF_SIZE.items():
            content = bytearray(size)
            initial = files.get(fid, b"")
            content[: len(initial)] = initial
            self._files[fid] = content
        self._reset_session()

    # --- factories (what a card factory and the issuer would have written) ---------------

    @classmethod
    def blank(cls, serial: str, keys: CardKeys = TEST_KEYS) -> VirtualPermitCard:
        return cls(serial, own_keys(keys, parse_serial(serial)), {Fid.CARD_INFO: _info(serial, CardKind.BLANK)})

    @classmethod
    def permit(cls, serial: str, contents: PermitContents, keys: CardKeys = TEST_KEYS) -> VirtualPermitCard:
        files = permit_files(contents)
        files[Fid.CARD_INFO] = _info(serial, CardKind.PERMIT)
        return cls(serial, own_keys(keys, parse_serial(serial)), files)

    @classmethod
    def technician(cls, serial: str, technician_id: str, pin: str,
                   keys: CardKeys = TEST_KEYS, *, role: str = "",
                   valid_until: date | None = None,
                   status: TechnicianStatus = TechnicianStatus.ACTIVE) -> VirtualPermitCard:
        own = own_keys(keys, parse_serial(serial))
        pvv = pin_verification_value(own.pin, technician_id, pin)
        files = {
            Fid.CARD_INFO: _info(serial, CardKind.TECHNICIAN),
            Fid.TECHNICIAN: encode_technician(technician_id, pvv, role=role, valid_until=valid_until, status=status),
        }
        return cls(serial, own, files)

    # --- inspection -----------------------------------------------------------------------

    def file(self, fid: Fid) -> bytes:
        with self._lock:
            return bytes(self._files[fid])

    # --- power ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Power-on or warm reset: files stay, the security state does not."""
        with self._lock:
            self._reset_session()

    def _reset_session(self) -> None:
        self._app_selected = False
        self._current: Fid | None = None
        self._challenge: bytes | None = None  # valid for the very next APDU only
        self._auth: KeyRef | None = None
        self._session_challenge = b""
        self._counter = 0

    # --- APDUs ----------------------------------------------------------------------------

    def process(self, raw: bytes, *, tear: bool = False) -> bytes:
        """The response to one APDU. `tear`: an UPDATE BINARY writes only half its data (the slot
        then drops the card without answering). Never raises."""
        with self._lock:
            pending, self._challenge = self._challenge, None
            cmd = parse_command(raw)
            if cmd is None:
                return status_response(StatusWord.WRONG_LENGTH).encode()
            try:
                return self._dispatch(cmd, pending, tear).encode()
            except Exception:  # a bug in the emulator must look like a card fault, not kill the slot
                return status_response(StatusWord.UNKNOWN).encode()

    def _dispatch(self, cmd: CommandApdu, pending: bytes | None, tear: bool) -> Response:
        if cmd.cla == CLA_SM and cmd.ins == Ins.UPDATE_BINARY:
            return self._sm_update(cmd, tear)
        if cmd.cla != CLA_PLAIN:
            return status_response(StatusWord.CLA_NOT_SUPPORTED)
        handlers: dict[int, Callable[[CommandApdu], Response]] = {
            Ins.SELECT: self._select,
            Ins.READ_BINARY: self._read,
            Ins.UPDATE_BINARY: self._plain_update,
            Ins.GET_CHALLENGE: self._get_challenge,
        }
        if cmd.ins == Ins.EXTERNAL_AUTHENTICATE:
            return self._external_authenticate(cmd, pending)
        handler = handlers.get(cmd.ins)  # IntEnum keys hash as their ints
        if handler is None:
            return status_response(StatusWord.INS_NOT_SUPPORTED)
        return handler(cmd)

    def _select(self, cmd: CommandApdu) -> Response:
        if cmd.p1 == SelectBy.AID:
            self._reset_session()  # selecting the application drops any authentication
            if cmd.data != AID:
                return status_response(StatusWord.FILE_NOT_FOUND)
            self._app_selected = True
            return status_response(StatusWord.OK)
        if cmd.p1 == SelectBy.FILE_ID:
            if not self._app_selected or len(cmd.data) != 2:
                return status_response(StatusWord.FILE_NOT_FOUND)
            fid = int.from_bytes(cmd.data, "big")
            if fid not in Fid.__members__.values():
                return status_response(StatusWord.FILE_NOT_FOUND)
            self._current = Fid(fid)
            return status_response(StatusWord.OK)
        return status_response(StatusWord.INCORRECT_P1P2)

    def _read(self, cmd: CommandApdu) -> Response:
        if self._current is None:
            return status_response(StatusWord.NO_CURRENT_EF)
        offset = offset_of(cmd)
        if offset is None:
            return status_response(StatusWord.INCORRECT_P1P2)
        content = self._files[self._current]
        if offset >= len(content) or cmd.data:
            return status_response(StatusWord.WRONG_OFFSET if not cmd.data else StatusWord.WRONG_LENGTH)
        want = cmd.le or 256
        chunk = bytes(content[offset : offset + want])
        return status_response(StatusWord.OK if len(chunk) == want else StatusWord.END_OF_FILE, chunk)

    def _plain_update(self, cmd: CommandApdu) -> Response:
        if self._current is None:
            return status_response(StatusWord.NO_CURRENT_EF)
        return status_response(StatusWord.SECURITY_NOT_SATISFIED)  # every EF needs secure messaging

    def _get_challenge(self, cmd: CommandApdu) -> Response:
        if cmd.le != CHALLENGE_LEN or cmd.p1 or cmd.p2:
            return status_response(StatusWord.WRONG_LENGTH)
        self._challenge = self._random(CHALLENGE_LEN)
        return status_response(StatusWord.OK, self._challenge)

    def _external_authenticate(self, cmd: CommandApdu, pending: bytes | None) -> Response:
        try:
            ref = KeyRef(cmd.p2)
        except ValueError:
            return status_response(StatusWord.KEY_NOT_FOUND)
        if len(cmd.data) != CRYPTOGRAM_LEN:
            return status_response(StatusWord.WRONG_LENGTH)
        self._auth = None
        if pending is None or not self._app_selected:
            return status_response(StatusWord.CONDITIONS_NOT_SATISFIED)
        if cmd.data != auth_cryptogram(self._keys.for_ref(ref), pending):
            return status_response(StatusWord.AUTH_FAILED)
        self._auth, self._session_challenge, self._counter = ref, pending, 0
        return status_response(StatusWord.OK)

    def _sm_update(self, cmd: CommandApdu, tear: bool) -> Response:
        if self._current is None:
            return status_response(StatusWord.NO_CURRENT_EF)
        if self._auth is None or self._auth not in UPDATE_KEYS[self._current]:
            return status_response(StatusWord.SECURITY_NOT_SATISFIED)
        offset = offset_of(cmd)
        if offset is None:
            return status_response(StatusWord.INCORRECT_P1P2)
        if len(cmd.data) <= MAC_LEN:
            return status_response(StatusWord.WRONG_LENGTH)
        data, mac = cmd.data[:-MAC_LEN], cmd.data[-MAC_LEN:]
        expected = command_mac(self._keys.for_ref(self._auth),
                               sm_update_mac_input(self._session_challenge, self._counter, offset, data))
        if mac != expected:
            self._auth = None  # a forged command ends the session
            return status_response(StatusWord.SM_DATA_INCORRECT)
        self._counter += 1
        content = self._files[self._current]
        if offset + len(data) > len(content):
            return status_response(StatusWord.WRONG_OFFSET)
        if tear:
            data = data[: len(data) // 2]
        content[offset : offset + len(data)] = data
        return status_response(StatusWord.OK)


def _info(serial: str, kind: CardKind) -> bytes:
    return encode_card_info(ChipCardInfo(serial.upper(), PROFILE_VERSION, kind))


# --- the slot: vpcd transport and faults ----------------------------------------------------


class PullMode(StrEnum):
    BEFORE = "before"  # the APDU never reaches the chip
    AFTER = "after"  # the chip runs the APDU, the answer is lost
    TEAR = "tear"  # an UPDATE BINARY writes half its data, then power is lost


@dataclass(frozen=True)
class _PullFault:
    ins: int | None
    after: int  # matching APDUs still to answer normally
    mode: PullMode


@dataclass(frozen=True)
class _StatusFault:
    sw: int
    ins: int | None


class CardSlot:
    """The field of one vpcd reader slot: at most one card at a time."""

    def __init__(self, port: int | None = None, host: str = VPCD_HOST, *, reader: str | None = None) -> None:
        """`port`: vpcd's port of this slot; default the first slot's, from config/sim.toml.

        `reader`: the PC/SC name this slot shows as in pcscd ("Virtual PCD 00 00"). With it, a card
        put in after one was taken out waits until pcscd has seen the slot empty: a card swapped
        in at once is accepted by vpcd inside one presence poll, and pcscd then never counts the
        removal or the insertion (seen: the swap lost for good). A real printer's card travel
        takes longer than pcscd's 0.4 s poll, so the wait only keeps the emulation honest.
        """
        if port is None:
            from sim.pcscd import configured_port

            port = configured_port()
        self.port = port
        self.reader = reader
        self._addr = (host, port)
        self._left = False  # a card left this slot and pcscd has not yet been seen to notice
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._card: VirtualPermitCard | None = None
        self._pull: _PullFault | None = None
        self._status_fault: _StatusFault | None = None
        self._apdus = 0
        self._gone = threading.Event()
        self._gone.set()

    # --- control, any thread ------------------------------------------------------------

    @property
    def card(self) -> VirtualPermitCard | None:
        return self._card

    @property
    def inserted(self) -> bool:
        return not self._gone.is_set()

    @property
    def apdu_count(self) -> int:
        """APDUs answered (or swallowed by a fault) since the slot was made."""
        return self._apdus

    def insert(self, card: VirtualPermitCard, timeout: float = 2.0) -> None:
        if self.inserted:
            raise RuntimeError("a card is already in the slot")
        if self._left and self.reader is not None:
            wait_reader_empty(self.reader, timeout)
        self._left = False
        try:
            sock = socket.create_connection(self._addr, timeout=timeout)
        except OSError as exc:
            raise VpcdUnreachable(self._addr[0], self._addr[1], exc.strerror or type(exc).__name__) from exc
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock, self._card = sock, card
            self._gone.clear()
            self._thread = threading.Thread(target=self._serve, args=(sock, card), name="permit-card-slot",
                                            daemon=True)
            self._thread.start()

    def remove(self, timeout: float = 2.0) -> None:
        """Take the card out (vpcd sees the socket close); returns when the slot thread ended."""
        with self._lock:
            sock, thread = self._sock, self._thread
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("card slot thread did not stop")

    stop = remove

    def wait_removed(self, timeout: float) -> bool:
        """True once the card is out, by remove() or by a pull fault."""
        return self._gone.wait(timeout)

    def pull_at(self, *, ins: int | None = None, after: int = 0, mode: PullMode = PullMode.BEFORE) -> None:
        """Pull the card at the (after+1)-th next APDU with this INS (any APDU when None)."""
        with self._lock:
            self._pull = _PullFault(ins, after, mode)

    def fail_next(self, sw: int, *, ins: int | None = None) -> None:
        """Answer the next APDU with this INS (any when None) with `sw`, without running it."""
        with self._lock:
            self._status_fault = _StatusFault(sw, ins)

    def clear_faults(self) -> None:
        with self._lock:
            self._pull = self._status_fault = None

    # --- the slot thread ----------------------------------------------------------------

    def _serve(self, sock: socket.socket, card: VirtualPermitCard) -> None:
        try:
            while True:
                body = _recv_frame(sock)
                if body is None:
                    return
                if len(body) == 1:
                    if body[0] == 4:
                        sock.sendall(_frame(ATR))
                    elif body[0] in (0, 1, 2):
                        card.reset()
                    continue
                reply = self._apdu(card, body)
                if reply is None:
                    return  # pulled: the socket closes without an answer
                sock.sendall(_frame(reply))
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                if self._sock is sock:
                    self._sock = None
                    self._thread = None
                    self._gone.set()
                    self._left = True

    def _apdu(self, card: VirtualPermitCard, body: bytes) -> bytes | None:
        ins = body[1] if len(body) > 1 else None
        with self._lock:
            self._apdus += 1
            pull = self._pull
            if pull is not None and (pull.ins is None or pull.ins == ins):
                if pull.after > 0:
                    self._pull = _PullFault(pull.ins, pull.after - 1, pull.mode)
                    pull = None
                else:
                    self._pull = None
            else:
                pull = None
            status = self._status_fault
            if status is not None and (status.ins is None or status.ins == ins):
                self._status_fault = None
            else:
                status = None
        if pull is not None:
            if pull.mode is PullMode.AFTER:
                card.process(body)
            elif pull.mode is PullMode.TEAR:
                card.process(body, tear=True)
            return None
        if status is not None:
            return status_response(status.sw).encode()
        return card.process(body)


def _frame(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        # Without QUICKACK, Linux delays the ACK of vpcd's request and every APDU costs ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv_frame(sock: socket.socket) -> bytes | None:
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    n = struct.unpack(">H", head)[0]
    if n == 0:
        return b""
    return _recv_exact(sock, n)


def wait_reader_empty(reader: str, timeout: float) -> bool:
    """Until pcscd reports no card in `reader` (blocking in pcscd, not polling); False when pcscd
    does not answer, does not know the reader, or still shows a card after `timeout` seconds."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        state = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            hresult, states = scard.SCardGetStatusChange(context, int(left * 1000) + 1, [(reader, state)])
            if hresult == scard.SCARD_E_TIMEOUT:
                continue
            if hresult != scard.SCARD_S_SUCCESS or not states:
                return False
            state = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                return False
            if not state & scard.SCARD_STATE_PRESENT:
                return True
    finally:
        scard.SCardReleaseContext(context)
