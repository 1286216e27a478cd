"""What the permit card encoder does with one connected card: APDUs in, typed answers out.

`CardLink` is one exclusive connection for one operation; `SecureSession` the secure-messaging
session an authentication opens on it (challenge, MACed writes, command counter); the functions
below are the operations themselves (read a permit or a technician card, personalise a blank,
rewrite the validity), each returning one ChipResult or raising `ChipRefused` with the typed
failure. They know nothing of threads, pcscd's reader list or the card leaving the field: the
adapter (`devices/permit_card.py`) connects, runs one of them, and turns a `ChipLost` (pyscard
could not finish an exchange) into CARD_REMOVED, NO_DEVICE or COMMUNICATION.
"""

from __future__ import annotations

from datetime import date

from smartcard.Exceptions import CardConnectionException

from devices.apdu import (
    CHALLENGE_LEN,
    MAC_LEN,
    MAX_LC,
    CommandApdu,
    Response,
    StatusWord,
    external_authenticate,
    get_challenge,
    read_binary,
    select_aid,
    select_ef,
    sm_update_binary,
    sm_update_mac_input,
)
from devices.chip_keys import KeyService
from devices.chip_records import record_length
from devices.events import ChipError, ChipOp, ChipResult
from devices.permit_profile import (
    AID,
    EF_SIZE,
    PROFILE_VERSION,
    CardKind,
    ChipCardInfo,
    Fid,
    KeyRef,
    PermitChipData,
    PermitContents,
    PermitValidity,
    ProfileError,
    TechnicianChipData,
    ValidityRecord,
    assemble_permit,
    decode_card_info,
    decode_technician,
    decode_technician_terms,
    decode_validity_ef,
    encode_card_info,
    encode_validity_slot,
    parse_serial,
    permit_files,
    validity_slot_offset,
)

READ_CHUNK = 256
WRITE_CHUNK = MAX_LC - MAC_LEN


class ChipRefused(Exception):
    """An operation ends with a typed failure (raised inside the worker only)."""

    def __init__(self, error: ChipError, sw: int | None = None, data: ChipCardInfo | None = None) -> None:
        super().__init__(error.value)
        self.error, self.sw, self.data = error, sw, data


class ChipLost(Exception):
    """pyscard could not complete an exchange: the card left, or the reader/service failed."""

    def __init__(self, hresult: int) -> None:
        super().__init__(hresult)
        self.hresult = hresult


class CardLink:
    """One connected card during one operation: APDUs in, typed responses out."""

    def __init__(self, connection: object) -> None:
        self._connection = connection

    def send(self, cmd: CommandApdu) -> Response:
        try:
            data, sw1, sw2 = self._connection.transmit(list(cmd.encode()))  # type: ignore[attr-defined]
        except CardConnectionException as exc:
            raise ChipLost(exc.hresult) from None
        return Response(bytes(data), sw1, sw2)

    def ok(self, cmd: CommandApdu, error: ChipError) -> Response:
        response = self.send(cmd)
        if not response.ok and response.status is not StatusWord.END_OF_FILE:
            raise ChipRefused(error, response.sw)
        return response

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes of the current EF from `offset`, in READ BINARY chunks."""
        out = bytearray()
        while len(out) < length:
            want = min(READ_CHUNK, length - len(out))
            chunk = self.ok(read_binary(offset + len(out), want), ChipError.COMMUNICATION).data
            if not chunk:
                raise ChipRefused(ChipError.COMMUNICATION)
            out += chunk[:want]
        return bytes(out)

    def read_record(self, fid: Fid, missing: ChipError) -> bytes:
        self.ok(select_ef(fid), missing)
        size = EF_SIZE[fid]
        head = self.read(0, min(READ_CHUNK, size))
        total = record_length(head)
        if total > size:
            raise ProfileError("corrupt")
        if total <= len(head):
            return head[:total]
        return head + self.read(len(head), total - len(head))

    def read_file(self, fid: Fid, missing: ChipError) -> bytes:
        self.ok(select_ef(fid), missing)
        return self.read(0, EF_SIZE[fid])


class SecureSession:
    """An authenticated secure-messaging session: the challenge and the command counter."""

    def __init__(self, card: CardLink, keys: KeyService, ref: KeyRef, serial: bytes) -> None:
        self._card, self._keys, self._ref, self._serial = card, keys, ref, serial
        challenge = card.ok(get_challenge(), ChipError.COMMUNICATION).data
        if len(challenge) != CHALLENGE_LEN:
            raise ChipRefused(ChipError.COMMUNICATION)
        response = card.send(external_authenticate(ref, keys.cryptogram(ref, serial, challenge)))
        if not response.ok:
            raise ChipRefused(ChipError.AUTH_FAILED, response.sw)
        self._challenge = challenge
        self._counter = 0

    def update(self, offset: int, data: bytes) -> None:
        """UPDATE BINARY of the current EF, chunked, each chunk MACed."""
        for start in range(0, len(data), WRITE_CHUNK):
            chunk = data[start : start + WRITE_CHUNK]
            at = offset + start
            mac = self._keys.mac(self._ref, self._serial,
                                 sm_update_mac_input(self._challenge, self._counter, at, chunk))
            response = self._card.send(sm_update_binary(at, chunk, mac))
            if response.status is StatusWord.SECURITY_NOT_SATISFIED:
                raise ChipRefused(ChipError.AUTH_FAILED, response.sw)
            if not response.ok:
                raise ChipRefused(ChipError.WRITE_FAILED, response.sw)
            self._counter += 1

    def write_file(self, fid: Fid, data: bytes, offset: int = 0) -> None:
        self._card.ok(select_ef(fid), ChipError.WRITE_FAILED)
        self.update(offset, data)


def read_permit(card: CardLink) -> ChipResult:
    info = open_application(card, CardKind.PERMIT, ChipError.NOT_A_PERMIT_CARD)
    data = read_permit_files(card, info)
    return ChipResult(ChipOp.READ, True, data=data)


def read_permit_files(card: CardLink, info: ChipCardInfo) -> PermitChipData:
    missing = ChipError.NOT_A_PERMIT_CARD
    return assemble_permit(
        info,
        card.read_record(Fid.HOLDER, missing),
        card.read_record(Fid.ADDRESS, missing),
        card.read_file(Fid.VALIDITY, missing),
        card.read_record(Fid.PHOTO, missing),
    )


def read_technician(card: CardLink) -> ChipResult:
    info = open_application(card, CardKind.TECHNICIAN, ChipError.NOT_A_TECHNICIAN_CARD)
    raw = card.read_record(Fid.TECHNICIAN, ChipError.NOT_A_TECHNICIAN_CARD)
    technician_id, pvv = decode_technician(raw)
    terms = decode_technician_terms(raw)
    return ChipResult(ChipOp.READ_TECHNICIAN, True, data=TechnicianChipData(
        info, technician_id, pvv, role=terms.role, valid_until=terms.valid_until, status=terms.status))


def personalise(card: CardLink, keys: KeyService, contents: PermitContents) -> ChipResult:
    try:
        files = permit_files(contents)
    except ProfileError:
        raise ChipRefused(ChipError.INVALID_DATA) from None
    info = open_application(card, CardKind.BLANK, ChipError.NOT_A_BLANK_CARD)
    session = SecureSession(card, keys, KeyRef.ISSUER, parse_serial(info.serial))
    for fid, record in files.items():
        session.write_file(fid, record)
    # The commit: until the card says "permit", an interrupted personalisation left a blank card.
    session.write_file(Fid.CARD_INFO, encode_card_info(ChipCardInfo(info.serial, PROFILE_VERSION, CardKind.PERMIT)))
    written = read_permit_files(card, read_info(card))
    if written.card.kind is not CardKind.PERMIT or written.contents != contents:
        raise ChipRefused(ChipError.WRITE_FAILED)
    return ChipResult(ChipOp.PERSONALISE, True, data=written)


def write_validity(card: CardLink, keys: KeyService, valid_from: date, valid_until: date,
                   endorsements: int) -> ChipResult:
    if valid_until < valid_from or endorsements < 0:
        raise ChipRefused(ChipError.INVALID_DATA)
    info = open_application(card, CardKind.PERMIT, ChipError.NOT_A_PERMIT_CARD)
    state = decode_validity_ef(card.read_file(Fid.VALIDITY, ChipError.NOT_A_PERMIT_CARD))
    if state.current is None:
        raise ProfileError("corrupt")
    validity = PermitValidity(state.current.validity.issue_date, valid_from, valid_until, endorsements)
    try:
        slot = encode_validity_slot(ValidityRecord(state.next_sequence, validity))
    except ProfileError:
        raise ChipRefused(ChipError.INVALID_DATA) from None
    session = SecureSession(card, keys, KeyRef.WRITE, parse_serial(info.serial))
    # Never over the current record: a write torn half-way leaves the old validity readable.
    session.write_file(Fid.VALIDITY, slot, validity_slot_offset(state.next_slot))
    after = decode_validity_ef(card.read_file(Fid.VALIDITY, ChipError.WRITE_FAILED)).current
    if after is None or after.sequence != state.next_sequence or after.validity != validity:
        raise ChipRefused(ChipError.WRITE_FAILED)
    return ChipResult(ChipOp.WRITE_VALIDITY, True, data=validity)


def open_application(card: CardLink, kind: CardKind, wrong: ChipError) -> ChipCardInfo:
    card.ok(select_aid(AID), wrong)
    info = read_info(card)
    if info.kind is not kind:
        raise ChipRefused(wrong, data=info)
    return info


def read_info(card: CardLink) -> ChipCardInfo:
    return decode_card_info(card.read_record(Fid.CARD_INFO, ChipError.COMMUNICATION))
