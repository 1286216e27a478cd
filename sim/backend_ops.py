"""The emulated backend's operations: requests in, decisions out, the store in between.

Decisions come from kiosk.policy and kiosk.endorsement, so kiosk and backend cannot disagree; the
registration checks (SH-REG-1..6) are data-driven checks against the proof records of the store.
The HTTP side is sim/backend_server.py; the contract is docs/backend-api.yaml.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from PIL import Image

from kiosk.backend import CLOSE_RELATIVES, DOCUMENT_FOR, RELATIVE_KINDS, Party, ProofDocument, PropertyUse, Relationship
from kiosk.dates import EndorsementWindow, add_months
from kiosk.endorsement import Rewrite, points, rewrite_decision, window
from kiosk.identity import CardType, Identity, Sex
from kiosk.policy import (
    NEW_PERMIT_ORDER,
    PolicyPack,
    Refusal,
    first_refusal,
    id_card_refusals,
    new_permit_validity,
    record_refusals,
    registration_eligible_on,
    registration_expired,
)
from kiosk.reasons import Reason
from kiosk.records import Holder, ProofKind, Registration
from sim.backend_store import BackendStore, IssuanceState, PermitRow, Proof, Resident

# Every operation a fault can name (docs/backend-api.yaml, Fault.op).
OPS = (
    "health", "precheck", "face_check", "apply", "confirm", "void",
    "register", "verify_proof", "lookup", "endorsement", "rewrite_confirm", "status",
)
MAX_BODY = 8 * 1024 * 1024  # a permit photo as PNG in base64 stays far below this
PERMIT_PREFIX = {"shanghai": "SH", "beijing": "BJ"}
KNOWN_TERMINAL_PREFIXES = ("SH-", "BJ-")
PHONE = re.compile(r"^1\d{10}$")
# Dates the endorsement arithmetic reads (V - 30 days, add_months(V, 12)) must stay inside these.
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)

E = TypeVar("E", bound=StrEnum)
FaceMatcher = Callable[[Image.Image, str], bool]


# --- replies and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error", "error"))
        self.reply = Reply(status, body)


def malformed(field: str) -> ApiError:
    return ApiError(400, {"error": "MALFORMED_REQUEST", "field": field})


def _str(
    body: dict[str, Any], key: str, where: str = "", *, nullable: bool = False, max_len: int = 200
) -> Any:
    value = body.get(key)
    if value is None and nullable and key in body:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise malformed(where + key)
    return value


def _date(body: dict[str, Any], key: str, where: str = "") -> date | None:
    value = body.get(key, ...)
    if value is None:
        return None
    if not isinstance(value, str):
        raise malformed(where + key)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise malformed(where + key) from None


def _day(body: dict[str, Any], key: str) -> date:
    """A required date that the endorsement arithmetic can use: days and years around it must exist."""
    value = _date(body, key)
    if value is None or not EARLIEST <= value <= LATEST:
        raise malformed(key)
    return value


def _bool(body: dict[str, Any], key: str, where: str = "") -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise malformed(where + key)
    return value


def _enum(kind: type[E], body: dict[str, Any], key: str, where: str = "") -> E:
    try:
        return kind(body.get(key))
    except ValueError:
        raise malformed(where + key) from None


def parse_card(raw: Any) -> Identity:
    if not isinstance(raw, dict):
        raise malformed("card")
    try:
        card_type = CardType(raw.get("card_type"))
    except ValueError:
        raise malformed("card.card_type") from None
    sex_code = _str(raw, "sex", "card.", nullable=True, max_len=1)
    if sex_code not in (None, "M", "F"):
        raise malformed("card.sex")
    card = Identity(
        card_type=card_type,
        name=_str(raw, "name", "card.", max_len=100),
        sex=None if sex_code is None else Sex(sex_code),
        nation=_str(raw, "nation", "card.", max_len=8),
        birth=_date(raw, "birth", "card."),
        address=_str(raw, "address", "card.", max_len=300),
        id_number=_str(raw, "id_number", "card.", max_len=32),
        authority=_str(raw, "authority", "card.", max_len=100),
        valid_from=_date(raw, "valid_from", "card."),
        valid_to=_date(raw, "valid_to", "card."),
    )
    if card_type is CardType.CITIZEN:  # the record checks compare these fields
        if card.sex is None:
            raise malformed("card.sex")
        if card.birth is None:
            raise malformed("card.birth")
    return card


def parse_photo(body: dict[str, Any], key: str = "photo_png") -> Image.Image:
    text = _str(body, key, max_len=MAX_BODY)
    try:
        data = base64.b64decode(text, validate=True)
        image = Image.open(io.BytesIO(data))
        image.load()
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        raise malformed(key) from None
    if image.format != "PNG":
        raise malformed(key)
    return image.convert("RGB")


def refusal_json(refusal: Refusal) -> dict[str, Any]:
    return {
        "reason": refusal.reason.value,
        "available_on": refusal.available_on.isoformat() if refusal.available_on else None,
    }




# --- registration checks (SH-REG-1..6), pure ------------------------------------------------


@dataclass(frozen=True)
class RelativeClaim:
    relationship: Relationship
    name: str
    promise_letter: bool


def parse_relative(raw: Any, kind: ProofKind) -> RelativeClaim | None:
    """A relative exactly when the proof is a relative's (SH-REG-2)."""
    if kind not in RELATIVE_KINDS:
        if raw is not None:
            raise malformed("relative")
        return None
    if not isinstance(raw, dict):
        raise malformed("relative")
    return RelativeClaim(
        relationship=_enum(Relationship, raw, "relationship", "relative."),
        name=_str(raw, "name", "relative.", max_len=100),
        promise_letter=_bool(raw, "promise_letter", "relative."),
    )


def proof_in_force(proof: Proof, today: date) -> bool:
    return proof.valid_until is None or today <= proof.valid_until


def registration_refusal(
    proof: Proof | None, kind: ProofKind, address: str, declarant: str, relative: RelativeClaim | None,
    today: date,
) -> tuple[Reason, str] | None:
    """The first failing proof check and its rule id, in the order documented in docs/backend-api.yaml."""
    # SH-REG-1: a proof on record, the document this way of living needs, in force, for this address.
    if (
        proof is None
        or proof.document is not DOCUMENT_FOR[kind]
        or not proof_in_force(proof, today)
        or (proof.address is not None and proof.address != address)
    ):
        return Reason.PROOF_INVALID, "SH-REG-1"
    if proof.property_use is not PropertyUse.RESIDENTIAL:  # as stated on the certificate
        return Reason.NON_RESIDENTIAL_PROPERTY, "SH-REG-4"
    if proof.document is ProofDocument.DORMITORY_CERTIFICATE and proof.in_management_area:
        return Reason.DORMITORY_IN_RESIDENTIAL_AREA, "SH-REG-5"
    # SH-REG-6: unit housing serves only once leased to the individual; an individual never leases to a unit.
    unit_rules = {
        ProofDocument.PROPERTY_CERTIFICATE: proof.owner_type is Party.UNIT,
        ProofDocument.RENTAL_FILING: proof.lessee_type is Party.UNIT,
        ProofDocument.DORMITORY_CERTIFICATE: proof.owner_type is Party.INDIVIDUAL,
    }
    if unit_rules[proof.document]:
        return Reason.PROOF_INVALID, "SH-REG-6"
    if relative is not None:
        if relative.relationship not in CLOSE_RELATIVES:
            return Reason.RELATIVE_NOT_CLOSE, "SH-REG-3"
        if not relative.promise_letter:  # no proof of the relationship
            return Reason.PROOF_INVALID, "SH-REG-2"
    # The owner or lessee named on the certificate is the declarant, or the close relative.
    expected = relative.name if relative is not None else declarant
    if proof.document is not ProofDocument.DORMITORY_CERTIFICATE and proof.holder not in (None, expected):
        return Reason.PROOF_INVALID, "SH-REG-1"
    return None


# --- reply bodies -------------------------------------------------------------------------------


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def proof_json(proof: Proof) -> dict[str, Any]:
    return {
        "document": proof.document.value, "reference": proof.reference, "property_use": proof.property_use.value,
        "in_management_area": proof.in_management_area, "owner_type": proof.owner_type.value,
        "valid_until": _iso(proof.valid_until), "address": proof.address,
    }


def permit_json(row: PermitRow) -> dict[str, Any]:
    s = row.standing
    return {
        "number": row.number, "issued": row.issued.isoformat(), "status": s.status.value,
        "valid_from": s.valid_from.isoformat(), "valid_until": s.valid_until.isoformat(),
        "endorsement": s.endorsement.value, "address_changed": s.address_changed,
    }


def window_json(w: EndorsementWindow, today: date) -> dict[str, Any]:
    return {
        "opens": w.opens.isoformat(), "closes": w.valid_until.isoformat(), "grace_ends": w.grace_ends.isoformat(),
        "position": w.position(today).value,
    }


def decision_json(decision: Rewrite | Refusal) -> dict[str, Any]:
    if isinstance(decision, Rewrite):
        return {"rewrite": True, "valid_from": decision.valid_from.isoformat(),
                "valid_until": decision.valid_until.isoformat()}
    return {"rewrite": False} | refusal_json(decision)


def registration_json(reg: Registration, today: date, pack: PolicyPack) -> dict[str, Any]:
    return {
        "declared": reg.declared.isoformat(),
        "eligible_on": registration_eligible_on(reg, pack).isoformat(),
        "expires_on": add_months(reg.declared, pack.registration_valid_months).isoformat(),
        "expired": registration_expired(reg, today, pack),
        "address": reg.address,
    }


UNKNOWN_PERMIT = Reply(404, {"error": "UNKNOWN_PERMIT"})


# --- the operations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    today: date
    pack: PolicyPack
    terminals: frozenset[str] = frozenset()

    @property
    def permit_prefix(self) -> str:
        return PERMIT_PREFIX.get(self.pack.city, self.pack.city[:2].upper())


@dataclass(frozen=True)
class Assessment:
    refusals: tuple[Refusal, ...]
    resident: Resident | None
    registration: Registration | None


def sim_face_matcher() -> FaceMatcher:
    # Imported here so that tests and tools can build a Backend with another matcher.
    from sim import faces

    def matches(live: Image.Image, face_key: str) -> bool:
        ok, _score = faces.same_person(live, faces.reference_portrait(face_key))
        return bool(ok)

    return matches


class Backend:
    def __init__(self, store: BackendStore, settings: Settings, face_matcher: FaceMatcher) -> None:
        self.store = store
        self.settings = settings
        self._faces = face_matcher

    # The envelope comes first: a request from an unknown terminal learns nothing else.
    def _envelope(self, body: dict[str, Any]) -> str:
        request_id = _str(body, "request_id", max_len=128)
        terminal = _str(body, "terminal_id", max_len=64)
        if not (terminal.startswith(KNOWN_TERMINAL_PREFIXES) or terminal in self.settings.terminals):
            raise ApiError(403, {"error": "UNKNOWN_TERMINAL"})
        return request_id

    def _idempotent(self, op: str, request_id: str, key: Any, run: Callable[[], Reply]) -> Reply:
        """A replay returns the first answer; the same id with another body is a client bug (409)."""
        digest = hashlib.sha256(
            json.dumps([op, key], sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        with self.store.transaction():
            seen = self.store.remembered(request_id)
            if seen is not None:
                if seen.digest != digest:
                    return Reply(409, {"error": "REQUEST_ID_REUSED"})
                return Reply(seen.status, seen.body)
            reply = run()
            self.store.remember(request_id, op, digest, reply.status, reply.body)
            return reply

    def _assess(self, card: Identity, lives: bool | None) -> Assessment:
        s = self.settings
        refusals = id_card_refusals(card, s.today, s.pack)
        if card.card_type is not CardType.CITIZEN:
            return Assessment(tuple(refusals), None, None)
        resident = self.store.resident_by_id_number(card.id_number)
        registration = self.store.registration_of(resident.key) if resident else None
        permit = self.store.current_permit_of(resident.key) if resident else None
        assert card.sex is not None and card.birth is not None  # parse_card insists for citizens
        holder = Holder(card.name, card.sex.value, card.nation, card.birth, card.id_number)
        refusals += record_refusals(holder, registration, permit, s.today, s.pack, lives)
        refusals.sort(key=lambda r: NEW_PERMIT_ORDER.index(r.reason))
        return Assessment(tuple(refusals), resident, registration)

    def _same_face(self, photo: Image.Image, resident: Resident) -> bool:
        # The authority holds each resident's own photo: the reference is drawn from the resident's
        # key. A scenario's `face` only says whose face the camera sees, so another key mismatches.
        return self._faces(photo, resident.key)

    def health(self) -> Reply:
        s = self.settings
        return Reply(200, {"status": "ok", "policy": s.pack.city, "today": s.today.isoformat()})

    def precheck(self, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        card = parse_card(body.get("card"))

        def run() -> Reply:
            found = self._assess(card, lives=None)
            address = found.registration.address if found.registration else None
            return Reply(200, {
                "refusals": [refusal_json(r) for r in found.refusals],
                "registered_address": address,
            })

        return self._idempotent("precheck", request_id, body, run)

    def face_check(self, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        id_number = _str(body, "id_number", max_len=32)
        photo = parse_photo(body)

        def run() -> Reply:
            # No resident, no reference photo: a plain "no match" tells a prober nothing more.
            resident = self.store.resident_by_id_number(id_number)
            return Reply(200, {"match": resident is not None and self._same_face(photo, resident)})

        return self._idempotent("face_check", request_id, body, run)

    def apply(self, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        terminal = body["terminal_id"]
        card = parse_card(body.get("card"))
        lives = body.get("lives_at_registered_address")
        if not isinstance(lives, bool):
            raise malformed("lives_at_registered_address")
        phone = _str(body, "phone", max_len=11)
        if not PHONE.match(phone):
            raise malformed("phone")
        photo = parse_photo(body)

        def run() -> Reply:
            s = self.settings
            found = self._assess(card, lives)
            refusals = list(found.refusals)
            if not refusals and found.resident is not None and not self._same_face(photo, found.resident):
                refusals.append(Refusal(Reason.FACE_MISMATCH))
            resident_key = found.resident.key if found.resident else None
            refusal = first_refusal(refusals)
            if refusal is not None:
                self.store.add_application(
                    request_id=request_id, terminal_id=terminal, resident=resident_key,
                    id_number=card.id_number, decided_on=s.today, approved=False,
                    reason=refusal.reason.value, available_on=refusal.available_on, permit_number=None,
                )
                return Reply(200, {"approved": False} | refusal_json(refusal))
            # No refusal means a registration exists, so the resident does too.
            assert found.resident is not None and found.registration is not None
            number = self.store.next_permit_number(s.permit_prefix, s.today.year)
            valid_from, valid_until = new_permit_validity(s.today, s.pack)
            self.store.add_approved_permit(
                resident=found.resident.key, terminal_id=terminal, number=number, issued=s.today,
                valid_from=valid_from, valid_until=valid_until, authority=s.pack.issuing_authority,
                residence_address=found.registration.address,
            )
            self.store.add_application(
                request_id=request_id, terminal_id=terminal, resident=resident_key, id_number=card.id_number,
                decided_on=s.today, approved=True, reason=None, available_on=None, permit_number=number,
            )
            return Reply(200, {"approved": True, "permit": {
                "number": number,
                "issued": s.today.isoformat(),
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
                "authority": s.pack.issuing_authority,
                "residence_address": found.registration.address,
            }})

        return self._idempotent("apply", request_id, body, run)

    def confirm(self, permit_number: str, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        if "card_serial" not in body:
            raise malformed("card_serial")
        serial = _str(body, "card_serial", nullable=True, max_len=64)

        def run() -> Reply:
            issuance = self.store.issuance(permit_number)
            if issuance is None:
                return UNKNOWN_PERMIT
            if issuance.state is IssuanceState.VOIDED:
                return Reply(409, {"error": "ISSUANCE_STATE", "state": issuance.state.value})
            self.store.set_issuance(permit_number, IssuanceState.ISSUED, card_serial=serial)
            return Reply(200, {"permit_number": permit_number, "state": IssuanceState.ISSUED.value})

        return self._idempotent("confirm", request_id, [permit_number, body], run)

    def void(self, permit_number: str, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        try:
            reason = Reason(body.get("reason"))
        except ValueError:
            raise malformed("reason") from None

        def run() -> Reply:
            issuance = self.store.issuance(permit_number)
            if issuance is None:
                return UNKNOWN_PERMIT
            if issuance.state is IssuanceState.ISSUED:
                return Reply(409, {"error": "ISSUANCE_STATE", "state": issuance.state.value})
            self.store.set_issuance(permit_number, IssuanceState.VOIDED, void_reason=reason.value)
            return Reply(200, {"permit_number": permit_number, "state": IssuanceState.VOIDED.value})

        return self._idempotent("void", request_id, [permit_number, body], run)

    # --- registration, proofs, permits, status ------------------------------------------------

    def register(self, body: dict[str, Any]) -> Reply:
        """居住登记申报: the ID card's checks, then SH-REG-1..6 against the proof on record."""
        request_id = self._envelope(body)
        terminal = body["terminal_id"]
        card = parse_card(body.get("card"))
        address = _str(body, "address", max_len=300)
        kind = _enum(ProofKind, body, "proof_kind")
        reference = _str(body, "proof_reference", max_len=64)
        relative = parse_relative(body.get("relative"), kind)

        def run() -> Reply:
            s = self.settings
            first = first_refusal(id_card_refusals(card, s.today, s.pack))
            if first is not None:
                return Reply(200, {"registered": False, "reason": first.reason.value, "rule": None})
            proof = self.store.proof_by_reference(reference)
            refused = registration_refusal(proof, kind, address, card.name, relative, s.today)
            if refused is not None:
                return Reply(200, {"registered": False, "reason": refused[0].value, "rule": refused[1]})
            resident = self.store.ensure_resident(card)
            receipt = self.store.next_receipt_number(s.permit_prefix, s.today.year)
            self.store.declare(
                resident=resident, card=card, address=address, declared=s.today, proof_kind=kind,
                proof_reference=reference, relationship=relative.relationship.value if relative else None,
                receipt=receipt, request_id=request_id, terminal_id=terminal,
            )
            registration = self.store.registration_of(resident)
            assert registration is not None
            facts = registration_json(registration, s.today, s.pack)
            return Reply(200, {"registered": True, "receipt": {
                "number": receipt, "declared": facts["declared"], "eligible_on": facts["eligible_on"],
                "expires_on": facts["expires_on"], "address": address,
            }})

        return self._idempotent("register", request_id, body, run)

    def verify_proof(self, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        by_qr = "qr_payload" in body
        if by_qr == ("certificate_number" in body):  # exactly one of them
            raise malformed("qr_payload")
        value = _str(body, "qr_payload", max_len=512) if by_qr else _str(body, "certificate_number", max_len=64)

        def run() -> Reply:
            proof = self.store.proof_by_qr(value) if by_qr else self.store.proof_by_reference(value)
            if proof is None or not proof_in_force(proof, self.settings.today):
                return Reply(200, {"valid": False, "reason": Reason.PROOF_INVALID.value})
            return Reply(200, {"valid": True, "proof": proof_json(proof)})

        return self._idempotent("verify_proof", request_id, body, run)

    def _permit_of(self, number: str, id_number: str) -> PermitRow | None:
        # A wrong ID number looks exactly like an unknown permit: a prober learns nothing.
        row = self.store.permit_row(number)
        return row if row is not None and row.id_number == id_number else None

    def lookup(self, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        number = _str(body, "permit_number", max_len=32)
        id_number = _str(body, "id_number", max_len=32)

        def run() -> Reply:
            row = self._permit_of(number, id_number)
            return UNKNOWN_PERMIT if row is None else Reply(200, permit_json(row))

        return self._idempotent("lookup", request_id, body, run)

    def endorsement(self, permit_number: str, body: dict[str, Any]) -> Reply:
        """The standing, its window, and the card-face rewrite decision (kiosk.endorsement)."""
        request_id = self._envelope(body)
        id_number = _str(body, "id_number", max_len=32)
        card_valid_until = _day(body, "card_valid_until")

        def run() -> Reply:
            s = self.settings
            row = self._permit_of(permit_number, id_number)
            if row is None:
                return UNKNOWN_PERMIT
            decision = rewrite_decision(row.standing, card_valid_until, s.today, s.pack)
            return Reply(200, {
                "permit": permit_json(row),
                "card_valid_until": card_valid_until.isoformat(),
                "window": window_json(window(row.standing.valid_until, s.pack), s.today),
                "decision": decision_json(decision),
            })

        return self._idempotent("endorsement", request_id, [permit_number, body], run)

    def rewrite_confirm(self, permit_number: str, body: dict[str, Any]) -> Reply:
        request_id = self._envelope(body)
        terminal = body["terminal_id"]
        serial = _str(body, "card_serial", max_len=64)
        valid_from, valid_until = _day(body, "valid_from"), _day(body, "valid_until")

        def run() -> Reply:
            row = self.store.permit_row(permit_number)
            if row is None:
                return UNKNOWN_PERMIT
            if (valid_from, valid_until) != (row.standing.valid_from, row.standing.valid_until):
                return Reply(409, {"error": "VALIDITY_MISMATCH"})  # the card shows what the backend never granted
            self.store.record_rewrite(
                permit_number=permit_number, terminal_id=terminal, card_serial=serial, valid_from=valid_from,
                valid_until=valid_until, on=self.settings.today,
            )
            return Reply(200, {"permit_number": permit_number, "card_valid_from": valid_from.isoformat(),
                               "card_valid_until": valid_until.isoformat()})

        return self._idempotent("rewrite_confirm", request_id, [permit_number, body], run)

    def status(self, body: dict[str, Any]) -> Reply:
        """Registration, application progress, permit and window, points (SH-PTS-1/2)."""
        request_id = self._envelope(body)
        card = parse_card(body.get("card"))

        def run() -> Reply:
            s = self.settings
            resident = self.store.resident_by_id_number(card.id_number)
            key = resident.key if resident is not None else None
            registration = self.store.registration_of(key) if key else None
            application = self.store.latest_application_of(key) if key else None
            permit = self.store.current_permit_row_of(key) if key else None
            permit_body = None
            if permit is not None:
                permit_body = permit_json(permit) | {
                    "card_valid_until": permit.card_valid_until.isoformat(),
                    "window": window_json(window(permit.standing.valid_until, s.pack), s.today),
                }
            app_body = None
            if application is not None:
                app_body = {
                    "decided_on": application.decided_on.isoformat(), "approved": application.approved,
                    "reason": application.reason, "available_on": _iso(application.available_on),
                    "permit_number": application.permit_number,
                    "issuance": application.issuance.value if application.issuance else None,
                }
            standing = points(permit.standing if permit else None, s.today, s.pack)
            return Reply(200, {
                "registration": registration_json(registration, s.today, s.pack) if registration else None,
                "application": app_body,
                "permit": permit_body,
                "points": {
                    "state": standing.state.value, "valid_until": _iso(standing.valid_until),
                    "reason": standing.reason.value if standing.reason else None,
                },
            })

        return self._idempotent("status", request_id, body, run)
