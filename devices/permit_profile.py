"""The permit card's chip profile: application, files, records, and their typed contents.

Pure codecs, no I/O and no cryptography (that is devices/chip_keys.py), so that the event
types can carry these values without pulling the crypto stack in. The layout is documented
in docs/protocols/permit-card.md; keep the two in step.

Every data EF holds a *record*: a 2-byte big-endian body length, the body, and a CRC-32 over
length and body. A torn write (card pulled while its EEPROM was being written) breaks the
CRC, so a half-written record is never mistaken for data. The validity EF holds two record
slots with sequence numbers and is written to the slot *not* holding the current record, so
a torn validity write leaves the old validity readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum, StrEnum

from devices.chip_records import (  # re-exported: the profile's codecs are one import for its users
    RECORD_OVERHEAD,
    ProfileError,
    frame_record,
    tlv_decode,
    tlv_encode,
    unframe_record,
)

# Proprietary RID F0 'RPKI' (residence-permit kiosk), PIX 01: profile version 1.
AID = bytes.fromhex("F052504B4901")
PROFILE_VERSION = 1


class Fid(IntEnum):
    CARD_INFO = 0x0101
    HOLDER = 0x0102
    ADDRESS = 0x0103
    VALIDITY = 0x0104
    PHOTO = 0x0105
    TECHNICIAN = 0x0106


MAX_PHOTO = 8192
VALIDITY_SLOT = 64
VALIDITY_SLOTS = 2

EF_SIZE: dict[Fid, int] = {
    Fid.CARD_INFO: 32,
    Fid.HOLDER: 640,
    Fid.ADDRESS: 384,
    Fid.VALIDITY: VALIDITY_SLOT * VALIDITY_SLOTS,
    Fid.PHOTO: MAX_PHOTO + RECORD_OVERHEAD,
    Fid.TECHNICIAN: 128,
}


class KeyRef(IntEnum):
    """P2 of EXTERNAL AUTHENTICATE: which of the card's keys the cryptogram is under."""

    ISSUER = 0x01  # personalisation: may update every EF
    WRITE = 0x02  # endorsement: may update the validity EF only


# Which keys may UPDATE each EF. Reads need no key.
UPDATE_KEYS: dict[Fid, frozenset[KeyRef]] = {
    Fid.CARD_INFO: frozenset({KeyRef.ISSUER}),
    Fid.HOLDER: frozenset({KeyRef.ISSUER}),
    Fid.ADDRESS: frozenset({KeyRef.ISSUER}),
    Fid.VALIDITY: frozenset({KeyRef.ISSUER, KeyRef.WRITE}),
    Fid.PHOTO: frozenset({KeyRef.ISSUER}),
    Fid.TECHNICIAN: frozenset({KeyRef.ISSUER}),
}


# --- typed contents -----------------------------------------------------------------------


class CardKind(StrEnum):
    BLANK = "blank"
    PERMIT = "permit"
    TECHNICIAN = "technician"


_KIND_CODE: dict[CardKind, int] = {CardKind.BLANK: 0, CardKind.PERMIT: 1, CardKind.TECHNICIAN: 2}


@dataclass(frozen=True)
class ChipCardInfo:
    serial: str  # 16 hex digits, upper case: the journal's card serial
    profile_version: int
    kind: CardKind


@dataclass(frozen=True)
class PermitValidity:
    issue_date: date
    valid_from: date
    valid_until: date
    endorsement_count: int


@dataclass(frozen=True)
class PermitContents:
    """What personalisation writes. Personal fields stay out of repr."""

    permit_number: str
    name: str = field(repr=False)
    sex: str = field(repr=False)  # "M" or "F"
    nation: str = field(repr=False)  # GB 3304 code, two digits
    birth: date = field(repr=False)
    id_number: str = field(repr=False)
    household_address: str = field(repr=False)
    residence_address: str = field(repr=False)
    validity: PermitValidity
    photo: bytes = field(repr=False)  # JPEG or PNG, at most MAX_PHOTO bytes


@dataclass(frozen=True)
class PermitChipData:
    card: ChipCardInfo
    contents: PermitContents
    validity_sequence: int  # counts validity writes; the slot with the higher one is current


class TechnicianStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


_TECH_STATUS_CODE: dict[TechnicianStatus, int] = {TechnicianStatus.ACTIVE: 0, TechnicianStatus.REVOKED: 1}


@dataclass(frozen=True)
class TechnicianChipData:
    card: ChipCardInfo
    technician_id: str
    pin_verification_value: bytes = field(repr=False)  # see devices.apdu.pin_verification_value
    # The technician profile's own terms (tags 82-84); a card written before them has none:
    # no role, no end of validity, active.
    role: str = ""
    valid_until: date | None = None
    status: TechnicianStatus = TechnicianStatus.ACTIVE


# --- fields -------------------------------------------------------------------------------


def _text(items: dict[int, bytes], tag: int) -> str:
    try:
        return items[tag].decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        raise ProfileError("malformed") from None


def _date(items: dict[int, bytes], tag: int) -> date:
    raw = items.get(tag, b"")
    if len(raw) != 8 or not raw.isdigit():
        raise ProfileError("malformed")
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise ProfileError("malformed") from None


def _int(items: dict[int, bytes], tag: int, width: int) -> int:
    raw = items.get(tag, b"")
    if len(raw) != width:
        raise ProfileError("malformed")
    return int.from_bytes(raw, "big")


def _date_bytes(d: date) -> bytes:
    return d.strftime("%Y%m%d").encode("ascii")


# --- card info ----------------------------------------------------------------------------


def encode_card_info(info: ChipCardInfo) -> bytes:
    serial = parse_serial(info.serial)
    body = tlv_encode([
        (0x80, serial),
        (0x81, bytes((info.profile_version,))),
        (0x82, bytes((_KIND_CODE[info.kind],))),
    ])
    return frame_record(body, EF_SIZE[Fid.CARD_INFO])


def decode_card_info(raw: bytes) -> ChipCardInfo:
    items = tlv_decode(unframe_record(raw))
    serial = items.get(0x80, b"")
    if len(serial) != 8:
        raise ProfileError("malformed")
    code = _int(items, 0x82, 1)
    kinds = {v: k for k, v in _KIND_CODE.items()}
    if code not in kinds:
        raise ProfileError("malformed")
    return ChipCardInfo(serial.hex().upper(), _int(items, 0x81, 1), kinds[code])


def parse_serial(serial: str) -> bytes:
    try:
        raw = bytes.fromhex(serial)
    except ValueError:
        raise ProfileError("invalid_field") from None
    if len(raw) != 8:
        raise ProfileError("invalid_field")
    return raw


# --- holder, address, photo ---------------------------------------------------------------


def encode_holder(c: PermitContents) -> bytes:
    if c.sex not in ("M", "F") or len(c.nation) != 2 or not c.nation.isdigit():
        raise ProfileError("invalid_field")
    if not c.permit_number or not c.id_number:
        raise ProfileError("invalid_field")
    body = tlv_encode([
        (0x80, c.permit_number.encode("utf-8")),
        (0x81, c.name.encode("utf-8")),
        (0x82, c.sex.encode("ascii")),
        (0x83, c.nation.encode("ascii")),
        (0x84, _date_bytes(c.birth)),
        (0x85, c.id_number.encode("utf-8")),
        (0x86, c.household_address.encode("utf-8")),
    ])
    return frame_record(body, EF_SIZE[Fid.HOLDER])


@dataclass(frozen=True)
class _Holder:
    permit_number: str
    name: str = field(repr=False)
    sex: str = field(repr=False)
    nation: str = field(repr=False)
    birth: date = field(repr=False)
    id_number: str = field(repr=False)
    household_address: str = field(repr=False)


def decode_holder(raw: bytes) -> _Holder:
    items = tlv_decode(unframe_record(raw))
    holder = _Holder(
        permit_number=_text(items, 0x80), name=_text(items, 0x81), sex=_text(items, 0x82),
        nation=_text(items, 0x83), birth=_date(items, 0x84), id_number=_text(items, 0x85),
        household_address=_text(items, 0x86),
    )
    if holder.sex not in ("M", "F"):
        raise ProfileError("malformed")
    return holder


def encode_address(address: str) -> bytes:
    return frame_record(tlv_encode([(0x80, address.encode("utf-8"))]), EF_SIZE[Fid.ADDRESS])


def decode_address(raw: bytes) -> str:
    return _text(tlv_decode(unframe_record(raw)), 0x80)


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def encode_photo(photo: bytes) -> bytes:
    if len(photo) > MAX_PHOTO:
        raise ProfileError("too_large")
    if not photo.startswith(_IMAGE_MAGIC):
        raise ProfileError("invalid_field")
    return frame_record(photo, EF_SIZE[Fid.PHOTO])


def decode_photo(raw: bytes) -> bytes:
    return unframe_record(raw)


# --- validity: two slots ------------------------------------------------------------------


@dataclass(frozen=True)
class ValidityRecord:
    sequence: int
    validity: PermitValidity


def encode_validity_slot(record: ValidityRecord) -> bytes:
    """One slot, padded to VALIDITY_SLOT bytes so that a write covers the slot entirely."""
    v = record.validity
    if not 0 <= v.endorsement_count <= 0xFFFF or not 0 <= record.sequence <= 0xFFFFFFFF:
        raise ProfileError("invalid_field")
    body = tlv_encode([
        (0x80, record.sequence.to_bytes(4, "big")),
        (0x81, _date_bytes(v.issue_date)),
        (0x82, _date_bytes(v.valid_from)),
        (0x83, _date_bytes(v.valid_until)),
        (0x84, v.endorsement_count.to_bytes(2, "big")),
    ])
    framed = frame_record(body, VALIDITY_SLOT)
    return framed + bytes(VALIDITY_SLOT - len(framed))


def decode_validity_slot(raw: bytes) -> ValidityRecord:
    items = tlv_decode(unframe_record(raw))
    return ValidityRecord(
        sequence=_int(items, 0x80, 4),
        validity=PermitValidity(
            issue_date=_date(items, 0x81), valid_from=_date(items, 0x82), valid_until=_date(items, 0x83),
            endorsement_count=_int(items, 0x84, 2),
        ),
    )


@dataclass(frozen=True)
class ValidityState:
    current: ValidityRecord | None  # None: no slot holds a valid record
    current_slot: int | None
    torn_slots: tuple[int, ...]  # slots whose record fails its CRC (a write was interrupted)

    @property
    def next_slot(self) -> int:
        """Where the next write goes: never over the current record."""
        return 0 if self.current_slot is None else 1 - self.current_slot

    @property
    def next_sequence(self) -> int:
        return 1 if self.current is None else self.current.sequence + 1


def decode_validity_ef(raw: bytes) -> ValidityState:
    best: ValidityRecord | None = None
    best_slot: int | None = None
    torn: list[int] = []
    for slot in range(VALIDITY_SLOTS):
        chunk = raw[slot * VALIDITY_SLOT : (slot + 1) * VALIDITY_SLOT]
        try:
            record = decode_validity_slot(chunk)
        except ProfileError as exc:
            if exc.code != "empty":
                torn.append(slot)
            continue
        if best is None or record.sequence > best.sequence:
            best, best_slot = record, slot
    return ValidityState(best, best_slot, tuple(torn))


def validity_slot_offset(slot: int) -> int:
    return slot * VALIDITY_SLOT


# --- technician ---------------------------------------------------------------------------


def encode_technician(technician_id: str, pin_verification_value: bytes, *, role: str = "",
                      valid_until: date | None = None,
                      status: TechnicianStatus = TechnicianStatus.ACTIVE) -> bytes:
    if not technician_id or len(pin_verification_value) != 8:
        raise ProfileError("invalid_field")
    items = [(0x80, technician_id.encode("utf-8")), (0x81, pin_verification_value)]
    if role:
        items.append((0x82, role.encode("utf-8")))
    if valid_until is not None:
        items.append((0x83, _date_bytes(valid_until)))
    items.append((0x84, bytes((_TECH_STATUS_CODE[status],))))
    return frame_record(tlv_encode(items), EF_SIZE[Fid.TECHNICIAN])


@dataclass(frozen=True)
class TechnicianTerms:
    role: str
    valid_until: date | None
    status: TechnicianStatus


def decode_technician_terms(raw: bytes) -> TechnicianTerms:
    """The role, end of validity and status of a technician record (tags 82-84, all optional)."""
    items = tlv_decode(unframe_record(raw))
    role = _text(items, 0x82) if 0x82 in items else ""
    valid_until = _date(items, 0x83) if 0x83 in items else None
    status = TechnicianStatus.ACTIVE
    if 0x84 in items:
        code = _int(items, 0x84, 1)
        by_code = {v: k for k, v in _TECH_STATUS_CODE.items()}
        if code not in by_code:
            raise ProfileError("malformed")
        status = by_code[code]
    return TechnicianTerms(role, valid_until, status)


def decode_technician(raw: bytes) -> tuple[str, bytes]:
    items = tlv_decode(unframe_record(raw))
    pvv = items.get(0x81, b"")
    if len(pvv) != 8:
        raise ProfileError("malformed")
    return _text(items, 0x80), pvv


# --- a whole permit -----------------------------------------------------------------------


def permit_files(contents: PermitContents) -> dict[Fid, bytes]:
    """The data EFs' records for a permit (card info excluded: it is written last, as the commit)."""
    return {
        Fid.HOLDER: encode_holder(contents),
        Fid.ADDRESS: encode_address(contents.residence_address),
        Fid.VALIDITY: encode_validity_slot(ValidityRecord(1, contents.validity)) + bytes(VALIDITY_SLOT),
        Fid.PHOTO: encode_photo(contents.photo),
    }


def assemble_permit(info: ChipCardInfo, holder_raw: bytes, address_raw: bytes, validity_raw: bytes,
                    photo_raw: bytes) -> PermitChipData:
    holder = decode_holder(holder_raw)
    state = decode_validity_ef(validity_raw)
    if state.current is None:
        raise ProfileError("corrupt")
    contents = PermitContents(
        permit_number=holder.permit_number, name=holder.name, sex=holder.sex, nation=holder.nation,
        birth=holder.birth, id_number=holder.id_number, household_address=holder.household_address,
        residence_address=decode_address(address_raw), validity=state.current.validity,
        photo=decode_photo(photo_raw),
    )
    return PermitChipData(info, contents, state.current.sequence)
