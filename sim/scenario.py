"""Scenario files (TOML): parsed and validated strictly; docs/scenarios.md is the reference.

Unknown keys are errors, not ignored: a misspelt expectation must not pass silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kiosk.identity import CardType
from kiosk.reasons import Outcome, Reason, Service
from kiosk.records import EndorsementState, PermitStatus, ProofKind


class ScenarioError(ValueError):
    """The scenario is malformed; the message names the bad key."""


DEVICES = ("id_reader", "printer", "permit_card", "camera", "qr_scanner", "backend")
STEP_KINDS = (
    "tap", "present_id", "lift_id", "face", "insert_permit", "take_card", "scan", "show_proof", "digits", "wait",
    "expect_screen", "auto",
    "tap", "present_id", "lift_id", "face", "insert_permit", "take_card", "scan", "digits", "wait",
    "expect_screen", "auto", "insert_technician_card", "fault", "clear_fault", "refill", "empty_bin",
    "stall",  # the main loop blocks for `seconds` of wall time (the watchdog test, issue 14)
)
QR_SCANNERS = ("serial", "camera", "absent")  # the kiosk's QR scanner in a run: its driver, or none
BACKEND_TLS = ("", "mutual", "untrusted_client", "expired_client")  # the backend's transport (sim/pki.py)
FACE_SCENES = ("nobody", "two_people", "too_dark", "blurred", "off_centre", "too_far")
# issue 12: more scenes, and sequences (sim/camera_emu.SEQUENCES) of the scenario's resident
FACE_SCENES += ("too_bright", "too_close", "backlit", "busy_background", "tilted", "eyes_hidden",
                "walk_in", "leaving")


@dataclass(frozen=True)
class RegistrationSpec:
    address: str
    declared: date
    proof: ProofKind
    lives_there: bool = True
    # Optional holder fields that make the record differ from the ID card (INFO_MISMATCH).
    holder: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PermitSpec:
    number: str
    issued: date
    valid_until: date
    card_valid_until: date
    status: PermitStatus
    endorsement: EndorsementState
    address_changed: bool = False  # SH-END-5: a move reported, not yet settled at a service centre
    points: int | None = None  # the points the backend holds for the permit (SH-PTS-2); None: none


@dataclass(frozen=True)
class DeclarationSpec:
    """What the resident declares at the registration service (the cooperative resident's answers)."""

    proof: ProofKind
    proof_number: str
    present: str = "qr"  # qr: shows the proof's QR code to the scanner; typed: types the number
    relative: str | None = None  # relative_*: who the home's holder is to the resident
    reason: str = "work"  # 居住事由


@dataclass(frozen=True)
class ProofSpec:
    """The backend's record of a proof document ([proofs."NUMBER"])."""

    number: str
    kind: str  # property | rental | dormitory
    address: str
    usage: str = "residential"  # residential | shop | office | factory
    holder: str | None = None  # the resident key of the owner (property) or tenant (rental)
    lessee: str = "individual"  # rental: individual | unit
    in_residential_area: bool = False  # dormitory


@dataclass(frozen=True)
class ResidentSpec:
    key: str
    name: str
    sex: str
    nation: str
    birth: date
    id_number: str
    id_address: str
    id_authority: str
    id_valid_from: date
    id_valid_to: date | None  # None: 长期
    card_type: CardType
    face: str
    phone: str
    registration: RegistrationSpec | None
    permit: PermitSpec | None
    declaration: DeclarationSpec | None = None


@dataclass(frozen=True)
class Fault:
    device: str
    kind: str
    at: str | None = None
    count: int = 1
    delay_s: float | None = None


@dataclass(frozen=True)
class Step:
    do: str
    target: str | None = None
    resident: str | None = None
    value: str | None = None
    seconds: float | None = None
    screen: str | None = None
    payload: str | None = None  # scan: text sent through the scanner as UTF-8
    payload_hex: str | None = None  # scan: raw bytes, for what a TOML string cannot hold
    number: str | None = None  # show_proof: that proof's QR code (sim/proofs.py)
    payload: str | None = None
    technician: str | None = None
    device: str | None = None
    kind: str | None = None
    at: str | None = None
    count: int | None = None


@dataclass(frozen=True)
class Expect:
    outcome: Outcome | None = None
    reason: Reason | None = None
    available_on: date | None = None
    cards_issued: int | None = None
    cards_retained: int | None = None
    printed_validity: str | None = None
    screens_include: tuple[str, ...] = ()
    final_screen: str | None = None
    large_text: bool | None = None
    chip_valid_until: date | None = None
    journal_open: int | None = None  # journal rows still unfinished when the run ends
    # Approvals nobody accounts for when the run ends: the backend's approved-but-neither-confirmed-
    # nor-voided issuances, plus the kiosk's applications sent and never answered or withdrawn.
    approvals_open: int | None = None
    # [expect.shown]: the typed facts the status screen showed (SHOWN_KEYS), as ISO strings, bools, ints
    shown: dict[str, Any] = field(default_factory=dict)
    next_outcome: Outcome | None = None  # the outcome of the session an offer taken started
    # diagnostics (service = "diagnostics")
    diagnostics_entered: bool | None = None
    pin_lockout_s: int | None = None  # the lockout imposed by the session's last wrong PIN (0: none)
    audit_includes: tuple[str, ...] = ()
    selftests: dict[str, str] = field(default_factory=dict)  # device or device.test -> pass | fail[:cause]
    export_clean: bool | None = None  # an export was written and holds no resident's data
    resident_served: bool | None = None  # whether any resident's session ran
    # Registration: the backend's registration of the resident after the session, and the receipt.
    registered_address: str | None = None
    permit_possible_on: date | None = None
    registration_valid_through: date | None = None
    receipt_qr: bool | None = None  # the receipt's QR code decodes to the backend's receipt number
    # issue 12: what each photo check said, in order ("accepted" or a kiosk.photo.PhotoProblem value)
    photo_problems: tuple[str, ...] | None = None
    # Issue 13 (sim/endings_check.py): goodbye's words, and the end screens' QR codes read back.
    ending: str | None = None
    goodbye_asks_id_card: bool | None = None
    retention_qr: bool | None = None  # a kept card's QR code decodes to a retention record in the journal
    referral_qr: bool | None = None  # a refusal's / fault's QR code carries the reason and the date to come back


@dataclass(frozen=True)
class TechnicianSpec:
    key: str
    card_id: str
    pin: str = field(repr=False)
    status: str = "active"  # active | revoked
    valid_until: date | None = None
    role: str = "maintenance"


@dataclass(frozen=True)
class Scenario:
    name: str
    today: date
    policy: str
    service: Service
    resident: str
    residents: dict[str, ResidentSpec]
    faults: tuple[Fault, ...]
    steps: tuple[Step, ...]
    expect: Expect
    path: Path | None = None
    proofs: dict[str, ProofSpec] = field(default_factory=dict)
    qr_scanner: str | None = None  # None: config/sim.toml's [qr_scanner] driver
    # "": plain HTTP; else the backend serves mutual TLS and the kiosk presents this certificate
    # (sim/pki.py, issue 15): mutual (its own) | untrusted_client (another CA's) | expired_client.
    backend_tls: str = ""
    technician: str | None = None  # diagnostics: who stands at the kiosk instead of a resident
    technicians: dict[str, TechnicianSpec] = field(default_factory=dict)
    # false: the kiosk gets no chip keys (its config's keys_file, empty): the encoder is unavailable
    chip_keys: bool = True

    @property
    def who(self) -> ResidentSpec:
        return self.residents[self.resident]

    @property
    def diagnostics(self) -> bool:
        return self.technician is not None


# --- validation helpers -----------------------------------------------------------------------


def _table(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a table")
    return data


def _keys(data: dict[str, Any], where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    for key in data:
        if key not in required and key not in optional:
            raise ScenarioError(f"unknown key {where}{key}")
    for key in required:
        if key not in data:
            raise ScenarioError(f"missing key {where}{key}")


def _str(data: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ScenarioError(f"{where}{key}: expected a string")
    return value


def _date(value: Any, key: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ScenarioError(f"{key}: expected a date YYYY-MM-DD, got {value!r}")


def _enum(enum: Any, value: Any, key: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        choices = " | ".join(m.value for m in enum)
        raise ScenarioError(f"{key}: {value!r} is not one of {choices}") from None


def _bool(data: dict[str, Any], key: str, where: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise ScenarioError(f"{where}{key}: expected true or false")
    return value


def _int(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ScenarioError(f"{key}: expected a non-negative integer")
    return value


# --- sections -------------------------------------------------------------------------------------

HOLDER_KEYS = ("name", "sex", "nation", "birth", "id_number")


def _registration(data: Any, where: str) -> RegistrationSpec:
    data = _table(data, where)
    _keys(data, where + ".", ("address", "declared"), ("proof", "lives_there", *HOLDER_KEYS))
    lives = data.get("lives_there", True)
    if not isinstance(lives, bool):
        raise ScenarioError(f"{where}.lives_there: expected true or false")
    holder = {k: data[k] for k in HOLDER_KEYS if k in data}
    if "birth" in holder:
        holder["birth"] = _date(holder["birth"], f"{where}.birth").isoformat()
    return RegistrationSpec(
        address=_str(data, "address", where + "."),
        declared=_date(data["declared"], f"{where}.declared"),
        proof=_enum(ProofKind, data.get("proof", "rental"), f"{where}.proof"),
        lives_there=lives,
        holder=holder,
    )


def _permit(data: Any, where: str) -> PermitSpec:
    data = _table(data, where)
    _keys(data, where + ".", ("number", "issued", "valid_until"),
          ("card_valid_until", "status", "endorsement", "address_changed", "points"))
    valid_until = _date(data["valid_until"], f"{where}.valid_until")
    return PermitSpec(
        number=_str(data, "number", where + "."),
        issued=_date(data["issued"], f"{where}.issued"),
        valid_until=valid_until,
        card_valid_until=_date(data.get("card_valid_until", valid_until), f"{where}.card_valid_until"),
        status=_enum(PermitStatus, data.get("status", "active"), f"{where}.status"),
        endorsement=_enum(EndorsementState, data.get("endorsement", "none"), f"{where}.endorsement"),
        address_changed=_bool(data, "address_changed", where + ".") if "address_changed" in data else False,
        points=_int(data["points"], f"{where}.points") if "points" in data else None,
    )


RESIDENT_REQUIRED = ("name", "sex", "birth", "id_number")
RESIDENT_OPTIONAL = (
    "nation", "id_address", "id_authority", "id_valid_from", "id_valid_to", "card_type", "face", "phone",
    "registration", "permit", "declaration",
)
PRESENT = ("qr", "typed")
RELATIVES = ("spouse", "parent", "child", "grandparent", "grandchild", "sibling", "parent_in_law",
             "sibling_in_law", "uncle_aunt", "cousin", "nephew_niece", "friend")
PURPOSES = ("work", "business", "study", "family", "other")
PROOF_DOCS = ("property", "rental", "dormitory")
USAGES = ("residential", "shop", "office", "factory")
LESSEES = ("individual", "unit")
RELATIVE_PROOFS = (ProofKind.RELATIVE_PROPERTY, ProofKind.RELATIVE_RENTAL)


def _one_of(data: dict[str, Any], key: str, where: str, choices: tuple[str, ...], default: str) -> str:
    value = _str(data, key, where, default)
    if value not in choices:
        raise ScenarioError(f"{where}{key}: {value!r} is not one of {' | '.join(choices)}")
    return value


def _proof_number(value: Any, where: str) -> str:
    if not isinstance(value, str) or not (value.isascii() and value.isdigit() and 8 <= len(value) <= 20):
        raise ScenarioError(f"{where}: expected a string of 8 to 20 digits")
    return value


def _declaration(data: Any, where: str) -> DeclarationSpec:
    data = _table(data, where)
    _keys(data, where + ".", ("proof", "proof_number"), ("present", "relative", "reason"))
    proof = _enum(ProofKind, data["proof"], f"{where}.proof")
    relative = _one_of(data, "relative", where + ".", RELATIVES, "") if "relative" in data else None
    if (proof in RELATIVE_PROOFS) != (relative is not None):
        raise ScenarioError(f"{where}.relative: required exactly with relative_property and relative_rental")
    return DeclarationSpec(
        proof=proof,
        proof_number=_proof_number(data["proof_number"], f"{where}.proof_number"),
        present=_one_of(data, "present", where + ".", PRESENT, "qr"),
        relative=relative,
        reason=_one_of(data, "reason", where + ".", PURPOSES, "work"),
    )


def _proof(number: str, data: Any) -> ProofSpec:
    where = f"proofs.{number}"
    _proof_number(number, where)
    data = _table(data, where)
    _keys(data, where + ".", ("kind", "address"), ("usage", "holder", "lessee", "in_residential_area"))
    return ProofSpec(
        number=number,
        kind=_one_of(data, "kind", where + ".", PROOF_DOCS, ""),
        address=_str(data, "address", where + "."),
        usage=_one_of(data, "usage", where + ".", USAGES, "residential"),
        holder=_str(data, "holder", where + ".") if "holder" in data else None,
        lessee=_one_of(data, "lessee", where + ".", LESSEES, "individual"),
        in_residential_area=_bool(data, "in_residential_area", where + ".") if "in_residential_area" in data
        else False,
    )


def _resident(key: str, data: Any) -> ResidentSpec:
    where = f"residents.{key}"
    data = _table(data, where)
    _keys(data, where + ".", RESIDENT_REQUIRED, RESIDENT_OPTIONAL)
    sex = _str(data, "sex", where + ".")
    if sex not in ("M", "F"):
        raise ScenarioError(f"{where}.sex: expected M or F")
    valid_to_raw = data.get("id_valid_to", "长期")
    valid_to = None if valid_to_raw == "长期" else _date(valid_to_raw, f"{where}.id_valid_to")
    nation = _str(data, "nation", where + ".", "01")
    return ResidentSpec(
        key=key,
        name=_str(data, "name", where + "."),
        sex=sex,
        nation=nation,
        birth=_date(data["birth"], f"{where}.birth"),
        id_number=_str(data, "id_number", where + "."),
        id_address=_str(data, "id_address", where + ".", "安徽省合肥市瑶海区长江东路100号"),
        id_authority=_str(data, "id_authority", where + ".", "合肥市公安局瑶海分局"),
        id_valid_from=_date(data.get("id_valid_from", "2020-01-01"), f"{where}.id_valid_from"),
        id_valid_to=valid_to,
        card_type=_enum(CardType, data.get("card_type", "citizen"), f"{where}.card_type"),
        face=_str(data, "face", where + ".", key),
        phone=_str(data, "phone", where + ".", "13800138000"),
        registration=_registration(data["registration"], f"{where}.registration") if "registration" in data else None,
        permit=_permit(data["permit"], f"{where}.permit") if "permit" in data else None,
        declaration=_declaration(data["declaration"], f"{where}.declaration") if "declaration" in data else None,
    )


def fault_kind_known(device: str, kind: str) -> bool:
    """The kinds each emulator carries out (issue 15: a mistyped kind is a malformed scenario, never a
    fault silently not injected, nor an emulator's traceback)."""
    from sim.backend.faults import FaultKind
    from sim.id_reader_emu import FAULT_KINDS as ID_READER
    from sim.printer_emu import FAULT_KINDS as PRINTER
    from sim.qr_scanner_emu import FAULT_KINDS as QR_SCANNER

    if device == "id_reader":
        return kind in ID_READER or (kind.startswith("sw3:") and _hex_byte(kind[4:]))
    if device == "permit_card":
        return kind in ("pull", "absent") or (kind.startswith("fail:") and _hex_word(kind[5:]))
    known: dict[str, tuple[str, ...]] = {
        "printer": PRINTER, "qr_scanner": QR_SCANNER, "camera": ("dead", "no_frame"),
        "backend": tuple(k.value for k in FaultKind),
    }
    return kind in known.get(device, ())


def _hex_byte(text: str) -> bool:
    return len(text) == 2 and all(c in "0123456789abcdefABCDEF" for c in text)


def _hex_word(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)


def _fault(i: int, data: Any) -> Fault:
    where = f"faults[{i}]"
    data = _table(data, where)
    _keys(data, where + ".", ("device", "kind"), ("at", "count", "delay_s"))
    device = _str(data, "device", where + ".")
    if device not in DEVICES:
        raise ScenarioError(f"{where}.device: {device!r} is not one of {' | '.join(DEVICES)}")
    delay = data.get("delay_s")
    if delay is not None and (not isinstance(delay, int | float) or delay < 0):
        raise ScenarioError(f"{where}.delay_s: expected a non-negative number")
    kind = _str(data, "kind", where + ".")
    if not fault_kind_known(device, kind):
        raise ScenarioError(f"{where}.kind: {kind!r} is not a fault the {device} emulator knows")
    return Fault(
        device=device,
        kind=kind,
        at=_str(data, "at", where + ".") if "at" in data else None,
        count=_int(data.get("count", 1), f"{where}.count"),
        delay_s=float(delay) if delay is not None else None,
    )


STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "tap": ("target",),
    "present_id": ("resident",),
    "lift_id": (),
    "face": ("resident",),
    "insert_permit": ("resident",),
    "take_card": (),
    "scan": ("payload", "payload_hex"),
    "show_proof": ("number",),
    "digits": ("value",),
    "wait": ("seconds",),
    "expect_screen": ("screen",),
    "auto": (),
    "insert_technician_card": ("technician",),
    "fault": ("device", "kind", "at"),
    "clear_fault": ("device", "kind"),
    "refill": ("count",),
    "empty_bin": (),
    "stall": ("seconds",),
}


def _step(i: int, data: Any) -> Step:
    where = f"steps[{i}]"
    data = _table(data, where)
    do = data.get("do")
    if not isinstance(do, str) or do not in STEP_FIELDS:  # a list or table for `do` is unhashable
        raise ScenarioError(f"{where}.do: {do!r} is not one of {' | '.join(STEP_KINDS)}")
    optional: tuple[str, ...] = ("resident",) if do in ("present_id", "face", "insert_permit") else ()
    if do == "scan":
        optional = ("payload", "payload_hex")
        if ("payload" in data) == ("payload_hex" in data):
            raise ScenarioError(f"{where}: a scan step needs exactly one of payload and payload_hex")
    elif do == "insert_technician_card":
        optional = ("technician",)
    elif do == "fault":
        optional = ("at",)
    elif do == "refill":
        optional = ("count",)
    required = tuple(f for f in STEP_FIELDS[do] if f not in optional)
    _keys(data, where + ".", ("do", *required), optional)
    seconds = data.get("seconds")
    if seconds is not None and (not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0):
        raise ScenarioError(f"{where}.seconds: expected a non-negative number")
    if do == "stall" and seconds > 30:  # a scenario session has 60 s of wall time (sim.toml run.max_wall_seconds)
        raise ScenarioError(f"{where}.seconds: a stall is at most 30 s")
    value = data.get("value")
    if value is not None and not isinstance(value, str):
        value = str(value)
    # Every text field: a list or table there would reach a dict lookup unhashable (fuzz: a step's
    # `resident = []` was a TypeError, not a ScenarioError).
    for key in ("payload", "payload_hex", "number", "target", "resident", "screen", "technician", "device",
                "kind", "at"):
        if key in data and not isinstance(data[key], str):
            raise ScenarioError(f"{where}.{key}: expected a string")
    if "payload_hex" in data:
        try:
            bytes.fromhex(data["payload_hex"])
        except ValueError:
            raise ScenarioError(f"{where}.payload_hex: expected hexadecimal bytes") from None
    return Step(
        do=do,
        target=data.get("target"),
        resident=data.get("resident"),
        value=value,
        seconds=float(seconds) if seconds is not None else None,
        screen=data.get("screen"),
        payload=data.get("payload"),
        payload_hex=data.get("payload_hex"),
        number=_proof_number(data["number"], f"{where}.number") if do == "show_proof" else None,
        technician=data.get("technician"),
        device=data.get("device"),
        kind=data.get("kind"),
        at=data.get("at"),
        count=_int(data["count"], f"{where}.count") if "count" in data else None,
    )


def _expect(data: Any) -> Expect:
    from sim import endings_check  # it reads report parts the runner makes; imported when parsing

    data = _table(data, "expect")
    _keys(data, "expect.", (), ("outcome", "reason", "available_on", "cards_issued", "cards_retained",
                                 "printed_validity", "screens_include", "final_screen", "large_text",
                                 "chip_valid_until", "journal_open", "approvals_open", "shown",
                                 "next_outcome", "diagnostics_entered", "pin_lockout_s", "audit_includes",
                                 "selftests", "export_clean", "resident_served", "registered_address",
                                 "permit_possible_on", "registration_valid_through", "receipt_qr",
                                 "photo_problems", "ending", "goodbye_asks_id_card", "retention_qr",
                                 "referral_qr"))
    screens = data.get("screens_include", [])
    if not isinstance(screens, list) or not all(isinstance(x, str) for x in screens):
        raise ScenarioError("expect.screens_include: expected a list of screen names")
    return Expect(
        outcome=_enum(Outcome, data["outcome"], "expect.outcome") if "outcome" in data else None,
        reason=_enum(Reason, data["reason"], "expect.reason") if "reason" in data else None,
        available_on=_date(data["available_on"], "expect.available_on") if "available_on" in data else None,
        cards_issued=_int(data["cards_issued"], "expect.cards_issued") if "cards_issued" in data else None,
        cards_retained=_int(data["cards_retained"], "expect.cards_retained") if "cards_retained" in data else None,
        printed_validity=_str(data, "printed_validity", "expect.") if "printed_validity" in data else None,
        screens_include=tuple(screens),
        final_screen=_str(data, "final_screen", "expect.") if "final_screen" in data else None,
        large_text=_bool(data, "large_text", "expect.") if "large_text" in data else None,
        chip_valid_until=_date(data["chip_valid_until"], "expect.chip_valid_until")
        if "chip_valid_until" in data else None,
        journal_open=_int(data["journal_open"], "expect.journal_open") if "journal_open" in data else None,
        approvals_open=_int(data["approvals_open"], "expect.approvals_open") if "approvals_open" in data else None,
        shown=_shown(data["shown"]) if "shown" in data else {},
        next_outcome=_enum(Outcome, data["next_outcome"], "expect.next_outcome") if "next_outcome" in data else None,
        **_diagnostics_expect(data),
        registered_address=_str(data, "registered_address", "expect.") if "registered_address" in data else None,
        permit_possible_on=_date(data["permit_possible_on"], "expect.permit_possible_on")
        if "permit_possible_on" in data else None,
        registration_valid_through=_date(data["registration_valid_through"], "expect.registration_valid_through")
        if "registration_valid_through" in data else None,
        receipt_qr=_bool(data, "receipt_qr", "expect.") if "receipt_qr" in data else None,
        photo_problems=_photo_problems(data["photo_problems"]) if "photo_problems" in data else None,
        **endings_check.expect_fields(data),
    )


def _photo_problems(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise ScenarioError("expect.photo_problems: expected a list of photo problems (or \"accepted\")")
    return tuple(raw)


def _diagnostics_expect(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("diagnostics_entered", "export_clean", "resident_served"):
        if key in data:
            out[key] = _bool(data, key, "expect.")
    if "pin_lockout_s" in data:
        out["pin_lockout_s"] = _int(data["pin_lockout_s"], "expect.pin_lockout_s")
    audit = data.get("audit_includes", [])
    if not isinstance(audit, list) or not all(isinstance(x, str) for x in audit):
        raise ScenarioError("expect.audit_includes: expected a list of audit actions")
    out["audit_includes"] = tuple(audit)
    if "selftests" in data:
        tests = _table(data["selftests"], "expect.selftests")
        for key, value in tests.items():
            if not isinstance(value, str) or not (value in ("pass", "fail") or
                                                  (value.startswith("fail:") and len(value) > 5)):
                raise ScenarioError(f"expect.selftests.{key}: expected pass or fail (or fail:<cause>)")
            if key.split(".", 1)[0] not in DEVICES:
                raise ScenarioError(f"expect.selftests.{key}: {key!r} is not a device")
        out["selftests"] = dict(tests)
    return out


def _technician(key: str, data: Any) -> TechnicianSpec:
    where = f"technicians.{key}"
    data = _table(data, where)
    _keys(data, where + ".", ("card_id", "pin"), ("status", "valid_until", "role"))
    status = _str(data, "status", where + ".", "active")
    if status not in ("active", "revoked"):
        raise ScenarioError(f"{where}.status: expected active or revoked")
    pin = data["pin"]
    if isinstance(pin, int) and not isinstance(pin, bool):
        raise ScenarioError(f"{where}.pin: write the PIN as a string (a leading zero counts)")
    pin = _str(data, "pin", where + ".")
    if not pin.isdigit() or not 4 <= len(pin) <= 8:
        raise ScenarioError(f"{where}.pin: expected 4 to 8 digits")
    return TechnicianSpec(
        key=key, card_id=_str(data, "card_id", where + "."), pin=pin, status=status,
        valid_until=_date(data["valid_until"], f"{where}.valid_until") if "valid_until" in data else None,
        role=_str(data, "role", where + ".", "maintenance"),
    )


# [expect.shown] (the status query's screen): each key's kind of value.
SHOWN_DATES = ("registration_valid_through", "permit_possible_on", "permit_valid_until", "card_valid_until",
               "endorsement_opens", "endorsement_closes", "points_valid_until")
SHOWN_CHOICES: dict[str, tuple[str, ...]] = {
    "endorsement": ("passed", "not_due", "open", "grace", "lapsed", "none"),
    "offered": ("new_permit", "card_rewrite", "registration", "none"),
}
SHOWN_KEYS = (*SHOWN_DATES, *SHOWN_CHOICES, "points_valid", "points")


def _shown(data: Any) -> dict[str, Any]:
    data = _table(data, "expect.shown")
    _keys(data, "expect.shown.", (), SHOWN_KEYS)
    out: dict[str, Any] = {}
    for key, value in data.items():
        where = f"expect.shown.{key}"
        if key in SHOWN_DATES:
            out[key] = _date(value, where).isoformat()
        elif key in SHOWN_CHOICES:
            if value not in SHOWN_CHOICES[key]:
                raise ScenarioError(f"{where}: {value!r} is not one of {' | '.join(SHOWN_CHOICES[key])}")
            out[key] = value
        elif key == "points_valid":
            out[key] = _bool(data, key, "expect.shown.")
        else:
            out[key] = _int(value, where)
    return out


def parse(data: dict[str, Any], path: Path | None = None) -> Scenario:
    service = data.get("service")
    diagnostics = service == "diagnostics"
    # The message says which service made a key required (fuzz: "missing key technician" for a file
    # edited to diagnostics, "missing key resident" for one without its service, a new permit's).
    why = f'service = "{service}"' if isinstance(service, str) else 'no service: "new_permit"'
    optional = ("name", "policy", "service", "faults", "steps", "expect", "proofs", "qr_scanner", "chip_keys",
                "backend_tls")
    required = ("today", "technician", "technicians") if diagnostics else ("today", "resident", "residents")
    try:
        _keys(data, "", required, (*optional, "resident", "residents") if diagnostics else optional)
    except ScenarioError as exc:
        raise ScenarioError(f"{exc} ({why})") from None
    residents_raw = _table(data.get("residents", {}), "residents")
    residents = {key: _resident(key, value) for key, value in residents_raw.items()}
    resident = _str(data, "resident", "", "")
    if (resident or not diagnostics) and resident not in residents:
        raise ScenarioError(f"resident: {resident!r} is not defined under [residents]")
    technicians: dict[str, TechnicianSpec] = {}
    technician: str | None = None
    if diagnostics:
        technicians = {k: _technician(k, v) for k, v in _table(data["technicians"], "technicians").items()}
        technician = _str(data, "technician", "")
        if technician not in technicians:
            raise ScenarioError(f"technician: {technician!r} is not defined under [technicians]")
    faults = data.get("faults", [])
    steps = data.get("steps", [])
    if not isinstance(faults, list):
        raise ScenarioError("faults: expected an array of tables [[faults]]")
    if not isinstance(steps, list):
        raise ScenarioError("steps: expected an array of tables [[steps]]")
    parsed_steps = tuple(_step(i, s) for i, s in enumerate(steps))
    for i, step in enumerate(parsed_steps):
        if step.technician is not None and step.technician not in technicians:
            raise ScenarioError(f"steps[{i}].technician: {step.technician!r} is not defined under [technicians]")
        if step.do in ("fault", "clear_fault") and step.device not in DEVICES:
            raise ScenarioError(f"steps[{i}].device: {step.device!r} is not one of {' | '.join(DEVICES)}")
        if step.resident is not None and step.resident not in residents and not (
            step.do == "face" and step.resident in FACE_SCENES
        ):
            raise ScenarioError(f"steps[{i}].resident: {step.resident!r} is not defined under [residents]")
    proofs_raw = _table(data.get("proofs", {}), "proofs")
    proofs = {str(number): _proof(str(number), value) for number, value in proofs_raw.items()}
    for number, proof in proofs.items():
        if proof.holder is not None and proof.holder not in residents:
            raise ScenarioError(f"proofs.{number}.holder: {proof.holder!r} is not defined under [residents]")
    policy = _str(data, "policy", "", "shanghai")
    if policy not in ("shanghai", "beijing"):
        raise ScenarioError(f"policy: {policy!r} is not one of shanghai | beijing")
    backend_tls = _str(data, "backend_tls", "", "")
    if backend_tls not in BACKEND_TLS:
        raise ScenarioError(f"backend_tls: {backend_tls!r} is not one of {' | '.join(BACKEND_TLS)}")
    qr_scanner = _str(data, "qr_scanner", "") if "qr_scanner" in data else None
    if qr_scanner is not None and qr_scanner not in QR_SCANNERS:
        raise ScenarioError(f"qr_scanner: {qr_scanner!r} is not one of {' | '.join(QR_SCANNERS)}")
    chip_keys = data.get("chip_keys", True)
    if not isinstance(chip_keys, bool):
        raise ScenarioError("chip_keys: expected true or false")
    return Scenario(
        chip_keys=chip_keys,
        name=_str(data, "name", "", path.stem if path else "scenario"),
        today=_date(data["today"], "today"),
        policy=policy,
        # Diagnostics is a mode, not a resident's service: its scenarios carry no service of the menu.
        service=Service.NEW_PERMIT if diagnostics else _enum(Service, data.get("service", "new_permit"), "service"),
        resident=resident,
        residents=residents,
        faults=tuple(_fault(i, f) for i, f in enumerate(faults)),
        steps=parsed_steps,
        expect=_expect(data.get("expect", {})),
        path=path,
        proofs=proofs,
        qr_scanner=qr_scanner,
        backend_tls=backend_tls,
        technician=technician,
        technicians=technicians,
    )


def load(path: Path) -> Scenario:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ScenarioError(f"scenario file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:  # TOML is UTF-8: a file in another encoding is malformed, not a crash
        raise ScenarioError(f"{path}: not UTF-8 at byte {exc.start}") from exc
    except OSError as exc:
        raise ScenarioError(f"scenario file {path} cannot be read: {exc.strerror}") from exc
    return parse(data, path)


def residents_json(scenario: Scenario) -> dict[str, Any]:
    """The residents as the simulated backend loads them (dates as ISO strings)."""
    out: dict[str, Any] = {}
    for key, r in scenario.residents.items():
        item: dict[str, Any] = {
            "name": r.name, "sex": r.sex, "nation": r.nation, "birth": r.birth.isoformat(),
            "id_number": r.id_number, "id_address": r.id_address, "id_authority": r.id_authority,
            "id_valid_from": r.id_valid_from.isoformat(),
            "id_valid_to": r.id_valid_to.isoformat() if r.id_valid_to else "长期",
            "card_type": r.card_type.value, "face": r.face, "phone": r.phone,
        }
        if r.registration is not None:
            reg = r.registration
            item["registration"] = {
                "address": reg.address, "declared": reg.declared.isoformat(), "proof": reg.proof.value,
                "lives_there": reg.lives_there, **reg.holder,
            }
        if r.permit is not None:
            p = r.permit
            item["permit"] = {
                "number": p.number, "issued": p.issued.isoformat(), "valid_until": p.valid_until.isoformat(),
                "card_valid_until": p.card_valid_until.isoformat(), "status": p.status.value,
                "endorsement": p.endorsement.value, "address_changed": p.address_changed,
            }
            if p.points is not None:
                item["permit"]["points"] = p.points
        out[key] = item
    return {"residents": out, "proofs": [proof_json(p, scenario) for p in scenario.proofs.values()]}


# The scenario's words for a proof document and its use, in the backend's population vocabulary.
PROOF_DOCUMENT = {"property": "property_certificate", "rental": "rental_filing", "dormitory": "dormitory_certificate"}
PROOF_USE = {"residential": "residential", "shop": "commercial", "office": "office", "factory": "factory"}


def proof_json(proof: ProofSpec, scenario: Scenario) -> dict[str, Any]:
    """A proof as the simulated backend loads it; its holder by the name the record carries."""
    item: dict[str, Any] = {
        "reference": proof.number, "kind": PROOF_DOCUMENT[proof.kind], "address": proof.address,
        "property_use": PROOF_USE[proof.usage], "lessee_type": proof.lessee,
        # A collective dormitory certificate is the unit's or the school's (SH-REG-1); a property
        # certificate or a lease here names a person as its holder.
        "owner_type": "unit" if proof.kind == "dormitory" else "individual",
        "in_management_area": proof.in_residential_area,
    }
    if proof.holder is not None:
        item["holder"] = scenario.residents[proof.holder].name
    return item
