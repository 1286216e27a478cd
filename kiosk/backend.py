"""The kiosk's only way to the instant-approval backend (即申即批), per docs/backend-api.yaml.

Every call returns a typed result. Network and server trouble come back as a BackendFailure,
never as an exception: the caller is a worker thread whose result becomes one event for the
state machine, and an exception there would be an event lost.

Every operation carries the caller's request id and the backend answers a replay with its first
answer, so a call that failed to connect or got a 5xx is retried with the same id (bounded, with
backoff). A timeout or a dropped connection is not retried here: the request may still be
running on the backend, and the caller decides (with the same id) when to ask again. Whether the
backend is up is the controller's business (it calls `health`); this module keeps no thread.
Log lines hold the operation, request id and disposition, never personal data (SH-PRIV-1).

The wire vocabulary of registration (relationships, proof documents) lives here too: the kiosk
offers it and the simulated backend imports it, so both speak the same words.
"""

from __future__ import annotations

import base64
import logging
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from kiosk.dates import Window
from kiosk.endorsement import REWRITE_ORDER, PermitStanding, Points, PointsState, Rewrite
from kiosk.identity import Identity
from kiosk.policy import NEW_PERMIT_ORDER, Refusal
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, PermitStatus, ProofKind

log = logging.getLogger("kiosk.backend")
T = TypeVar("T")


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"  # no connection, or the connection was lost before an answer
    TIMEOUT = "timeout"  # connected, but no answer within the read timeout
    SERVER_ERROR = "server_error"  # 5xx after the retries
    BAD_REPLY = "bad_reply"  # an answer that does not match the contract
    REFUSED_REQUEST = "refused_request"  # 4xx: the backend would not take the request as sent


# --- the registration vocabulary (SH-REG-1..6) -------------------------------------------------


class Relationship(StrEnum):
    """Who the relative is to the declarant; only CLOSE_RELATIVES count (SH-REG-3)."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    PATERNAL_GRANDPARENT = "paternal_grandparent"  # 祖父母
    MATERNAL_GRANDPARENT = "maternal_grandparent"  # 外祖父母
    PATERNAL_GRANDCHILD = "paternal_grandchild"  # 孙子女
    MATERNAL_GRANDCHILD = "maternal_grandchild"  # 外孙子女
    FULL_SIBLING = "full_sibling"  # 同胞兄弟姐妹
    HALF_SIBLING = "half_sibling"
    PARENT_IN_LAW = "parent_in_law"
    CHILD_IN_LAW = "child_in_law"
    SIBLING_IN_LAW = "sibling_in_law"
    UNCLE_AUNT = "uncle_aunt"
    NEPHEW_NIECE = "nephew_niece"
    COUSIN = "cousin"
    OTHER = "other"


CLOSE_RELATIVES: frozenset[Relationship] = frozenset({  # SH-REG-3, seed 004: "No one else."
    Relationship.SPOUSE, Relationship.PARENT, Relationship.CHILD, Relationship.PATERNAL_GRANDPARENT,
    Relationship.MATERNAL_GRANDPARENT, Relationship.PATERNAL_GRANDCHILD, Relationship.MATERNAL_GRANDCHILD,
    Relationship.FULL_SIBLING,
})
RELATIVE_KINDS: frozenset[ProofKind] = frozenset({ProofKind.RELATIVE_PROPERTY, ProofKind.RELATIVE_RENTAL})


class ProofDocument(StrEnum):
    PROPERTY_CERTIFICATE = "property_certificate"  # 房地产权证明
    RENTAL_FILING = "rental_filing"  # 房屋租赁合同登记备案证明
    DORMITORY_CERTIFICATE = "dormitory_certificate"  # 集体宿舍证明


# SH-REG-1: the document each way of living needs.
DOCUMENT_FOR: dict[ProofKind, ProofDocument] = {
    ProofKind.OWN_PROPERTY: ProofDocument.PROPERTY_CERTIFICATE,
    ProofKind.RELATIVE_PROPERTY: ProofDocument.PROPERTY_CERTIFICATE,
    ProofKind.RENTAL: ProofDocument.RENTAL_FILING,
    ProofKind.RELATIVE_RENTAL: ProofDocument.RENTAL_FILING,
    ProofKind.DORMITORY: ProofDocument.DORMITORY_CERTIFICATE,
}


class PropertyUse(StrEnum):
    """The use stated on the property certificate (SH-REG-4: only residential counts)."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    OFFICE = "office"
    FACTORY = "factory"


class Party(StrEnum):
    """An owner or a lessee (SH-REG-6)."""

    INDIVIDUAL = "individual"
    UNIT = "unit"


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendFailure:
    kind: FailureKind
    status: int | None = None  # the HTTP status, where there was one
    error: str | None = None  # the backend's error code, e.g. REQUEST_ID_REUSED


@dataclass(frozen=True)
class Precheck:
    refusals: tuple[Refusal, ...]  # every failing check, in the order of RULES.md
    registered_address: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FaceCheck:
    match: bool


@dataclass(frozen=True)
class PermitGrant:
    number: str
    issued: date
    valid_from: date
    valid_until: date
    authority: str
    residence_address: str = field(repr=False)


@dataclass(frozen=True)
class Approval:
    permit: PermitGrant


@dataclass(frozen=True)
class Confirmed:
    permit_number: str


@dataclass(frozen=True)
class Voided:
    permit_number: str


@dataclass(frozen=True)
class Relative:
    """The close relative whose housing the declarant lives in (SH-REG-2, SH-REG-3)."""

    relationship: Relationship
    name: str = field(repr=False)
    promise_letter: bool = True  # the electronic 亲属关系承诺书, filled in at the kiosk


@dataclass(frozen=True)
class Receipt:
    number: str
    declared: date
    eligible_on: date  # add_months(declared, 6): a permit becomes possible (SH-REG-7)
    expires_on: date  # add_months(declared, 12): declare again from this day
    address: str = field(repr=False)


@dataclass(frozen=True)
class Registered:
    receipt: Receipt


@dataclass(frozen=True)
class RegistrationRefused:
    reason: Reason
    rule: str | None  # the rule of RULES.md that refused (SH-REG-1..6); None for the ID card's checks


@dataclass(frozen=True)
class VerifiedProof:
    document: ProofDocument
    reference: str
    property_use: PropertyUse
    in_management_area: bool
    owner_type: Party
    valid_until: date | None  # None: no end on record
    address: str | None = field(repr=False)  # None: the record holds none, the resident types it


@dataclass(frozen=True)
class ProofRejected:
    reason: Reason = Reason.PROOF_INVALID


@dataclass(frozen=True)
class PermitRecord:
    number: str
    issued: date
    standing: PermitStanding


@dataclass(frozen=True)
class UnknownPermit:
    """No permit with this number for this ID number (the backend does not say which part is wrong)."""

    permit_number: str


@dataclass(frozen=True)
class WindowInfo:
    opens: date  # V - 30 days
    closes: date  # V, the last day on time
    grace_ends: date  # V + grace days (V itself in Beijing)
    position: Window


@dataclass(frozen=True)
class EndorsementCheck:
    """The backend's standing, its window, and its decision for the card that was presented.

    The kiosk may run kiosk.endorsement.rewrite_decision on `permit.standing` to cross-check `decision`.
    """

    permit: PermitRecord
    card_valid_until: date
    window: WindowInfo
    decision: Rewrite | Refusal


@dataclass(frozen=True)
class Rewritten:
    permit_number: str
    valid_from: date
    valid_until: date


@dataclass(frozen=True)
class RegistrationInfo:
    declared: date
    eligible_on: date
    expires_on: date
    expired: bool
    address: str = field(repr=False)


@dataclass(frozen=True)
class ApplicationInfo:
    decided_on: date
    approved: bool
    reason: Reason | None
    available_on: date | None
    permit_number: str | None
    issuance: str | None  # approved | issued | voided, for an approval


@dataclass(frozen=True)
class PermitInfo:
    permit: PermitRecord
    card_valid_until: date
    window: WindowInfo


@dataclass(frozen=True)
class StatusReport:
    registration: RegistrationInfo | None
    application: ApplicationInfo | None
    permit: PermitInfo | None
    points: Points


def new_request_id() -> str:
    return uuid.uuid4().hex


def card_json(card: Identity) -> dict[str, Any]:
    def iso(d: date | None) -> str | None:
        return d.isoformat() if d is not None else None

    return {
        "card_type": card.card_type.value,
        "name": card.name,
        "sex": card.sex.value if card.sex is not None else None,
        "nation": card.nation,
        "birth": iso(card.birth),
        "id_number": card.id_number,
        "address": card.address,
        "authority": card.authority,
        "valid_from": iso(card.valid_from),
        "valid_to": iso(card.valid_to),
    }


# --- reading replies: anything unexpected raises _BadReply, which becomes bad_reply ----------


class _BadReply(Exception):
    pass


def _obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _BadReply("not an object")
    return value


def _str(data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = data.get(key)
    if value is None and nullable and key in data:
        return None
    if not isinstance(value, str):
        raise _BadReply(key)
    return value


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _BadReply(key)
    return value


def _date(data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    text = _str(data, key, nullable=nullable)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _BadReply(key) from None


def _refusal(data: dict[str, Any]) -> Refusal:
    try:
        reason = Reason(_str(data, "reason"))
    except ValueError:
        raise _BadReply("reason") from None
    if reason not in NEW_PERMIT_ORDER:  # first_refusal could not rank anything else
        raise _BadReply("reason")
    return Refusal(reason, _date(data, "available_on", nullable=True))


def _precheck(data: dict[str, Any]) -> Precheck:
    items = data.get("refusals")
    if not isinstance(items, list):
        raise _BadReply("refusals")
    return Precheck(
        refusals=tuple(_refusal(_obj(item)) for item in items),
        registered_address=_str(data, "registered_address", nullable=True),
    )


def _face(data: dict[str, Any]) -> FaceCheck:
    return FaceCheck(_bool(data, "match"))


def _application(data: dict[str, Any]) -> Approval | Refusal:
    if not _bool(data, "approved"):
        refusal = _refusal(data)
        if refusal.reason is Reason.REG_TOO_RECENT and refusal.available_on is None:
            raise _BadReply("available_on")
        return refusal
    permit = _obj(data.get("permit"))
    grant = PermitGrant(
        number=_str(permit, "number"),
        issued=_date(permit, "issued"),
        valid_from=_date(permit, "valid_from"),
        valid_until=_date(permit, "valid_until"),
        authority=_str(permit, "authority"),
        residence_address=_str(permit, "residence_address"),
    )
    if not grant.number or grant.valid_until < grant.valid_from:
        raise _BadReply("permit")
    return Approval(grant)


def _issuance_state(data: dict[str, Any], permit_number: str, state: str) -> None:
    if _str(data, "permit_number") != permit_number or _str(data, "state") != state:
        raise _BadReply("issuance")


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    text = _str(data, key, nullable=nullable)
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise _BadReply(key) from None


def _registration(data: dict[str, Any]) -> Registered | RegistrationRefused:
    if not _bool(data, "registered"):
        reason = _enum(Reason, data, "reason")
        if reason not in REGISTRATION_REASONS:
            raise _BadReply("reason")
        rule = _str(data, "rule", nullable=True)
        if (rule is None) != (reason in ID_CARD_REASONS):  # the proof checks always name their rule
            raise _BadReply("rule")
        return RegistrationRefused(reason, rule)
    receipt = _obj(data.get("receipt"))
    result = Receipt(
        number=_str(receipt, "number"),
        declared=_date(receipt, "declared"),
        eligible_on=_date(receipt, "eligible_on"),
        expires_on=_date(receipt, "expires_on"),
        address=_str(receipt, "address"),
    )
    if not result.number or not result.declared < result.eligible_on < result.expires_on:
        raise _BadReply("receipt")
    return Registered(result)


def _proof(data: dict[str, Any]) -> VerifiedProof | ProofRejected:
    if not _bool(data, "valid"):
        if _enum(Reason, data, "reason") is not Reason.PROOF_INVALID:
            raise _BadReply("reason")
        return ProofRejected()
    proof = _obj(data.get("proof"))
    return VerifiedProof(
        document=_enum(ProofDocument, proof, "document"),
        reference=_str(proof, "reference"),
        property_use=_enum(PropertyUse, proof, "property_use"),
        in_management_area=_bool(proof, "in_management_area"),
        owner_type=_enum(Party, proof, "owner_type"),
        valid_until=_date(proof, "valid_until", nullable=True),
        address=_str(proof, "address", nullable=True),
    )


def _permit_record(data: dict[str, Any]) -> PermitRecord:
    standing = PermitStanding(
        status=_enum(PermitStatus, data, "status"),
        address_changed=_bool(data, "address_changed"),
        valid_from=_date(data, "valid_from"),
        valid_until=_date(data, "valid_until"),
        endorsement=_enum(EndorsementState, data, "endorsement"),
    )
    record = PermitRecord(number=_str(data, "number"), issued=_date(data, "issued"), standing=standing)
    if not record.number or standing.valid_until < standing.valid_from:
        raise _BadReply("permit")
    return record


def _window(data: dict[str, Any]) -> WindowInfo:
    info = WindowInfo(
        opens=_date(data, "opens"),
        closes=_date(data, "closes"),
        grace_ends=_date(data, "grace_ends"),
        position=_enum(Window, data, "position"),
    )
    if not info.opens <= info.closes <= info.grace_ends:
        raise _BadReply("window")
    return info


def _decision(data: dict[str, Any]) -> Rewrite | Refusal:
    if _bool(data, "rewrite"):
        rewrite = Rewrite(_date(data, "valid_from"), _date(data, "valid_until"))
        if rewrite.valid_until <= rewrite.valid_from:
            raise _BadReply("decision")
        return rewrite
    reason = _enum(Reason, data, "reason")
    if reason not in REWRITE_ORDER:
        raise _BadReply("reason")
    available_on = _date(data, "available_on", nullable=True)
    if (reason is Reason.ENDORSEMENT_NOT_DUE) != (available_on is not None):
        raise _BadReply("available_on")
    return Refusal(reason, available_on)


def _endorsement(data: dict[str, Any]) -> EndorsementCheck:
    return EndorsementCheck(
        permit=_permit_record(_obj(data.get("permit"))),
        card_valid_until=_date(data, "card_valid_until"),
        window=_window(_obj(data.get("window"))),
        decision=_decision(_obj(data.get("decision"))),
    )


def _points(data: dict[str, Any]) -> Points:
    state = _enum(PointsState, data, "state")
    reason = _enum(Reason, data, "reason", nullable=True)
    if (state is PointsState.VOID) != (reason is not None):
        raise _BadReply("points")
    return Points(state, _date(data, "valid_until", nullable=True), reason)


def _status(data: dict[str, Any]) -> StatusReport:
    reg_data, app_data, permit_data = data.get("registration"), data.get("application"), data.get("permit")
    for key in ("registration", "application", "permit", "points"):
        if key not in data:
            raise _BadReply(key)
    registration = None
    if reg_data is not None:
        reg = _obj(reg_data)
        registration = RegistrationInfo(
            declared=_date(reg, "declared"), eligible_on=_date(reg, "eligible_on"),
            expires_on=_date(reg, "expires_on"), expired=_bool(reg, "expired"), address=_str(reg, "address"),
        )
    application = None
    if app_data is not None:
        app = _obj(app_data)
        application = ApplicationInfo(
            decided_on=_date(app, "decided_on"), approved=_bool(app, "approved"),
            reason=_enum(Reason, app, "reason", nullable=True),
            available_on=_date(app, "available_on", nullable=True),
            permit_number=_str(app, "permit_number", nullable=True),
            issuance=_str(app, "issuance", nullable=True),
        )
    permit = None
    if permit_data is not None:
        item = _obj(permit_data)
        permit = PermitInfo(
            permit=_permit_record(item), card_valid_until=_date(item, "card_valid_until"),
            window=_window(_obj(item.get("window"))),
        )
    return StatusReport(registration, application, permit, _points(_obj(data.get("points"))))


# Registration refusals: the ID card's checks, then SH-REG-1..6.
ID_CARD_REASONS: frozenset[Reason] = frozenset({
    Reason.CARD_TYPE_UNSUPPORTED, Reason.ID_NUMBER_INVALID, Reason.ID_CARD_EXPIRED, Reason.LOCAL_HUKOU,
    Reason.UNDER_16,
})
REGISTRATION_REASONS: frozenset[Reason] = ID_CARD_REASONS | {
    Reason.PROOF_INVALID, Reason.NON_RESIDENTIAL_PROPERTY, Reason.DORMITORY_IN_RESIDENTIAL_AREA,
    Reason.RELATIVE_NOT_CLOSE,
}


def tls_verify(verify: bool | str | ssl.SSLContext, cert: str | tuple[str, str] | None) -> bool | ssl.SSLContext:
    """What httpx takes as `verify`: a CA file and a client certificate become one SSL context.

    httpx 0.28 deprecates passing a CA path or `cert` directly; an SSLContext is the supported way.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    elif cert is None:
        return verify
    elif verify:
        context = ssl.create_default_context()
    else:  # a client certificate without checking the server: for a test bench only
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


class BackendClient:
    """One reused httpx.Client (a new one per call costs 20-30 ms of certificate loading)."""

    def __init__(
        self,
        base_url: str,
        terminal_id: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 2,
        backoff_s: float = 0.2,
        verify: bool | str | ssl.SSLContext = True,
        cert: str | tuple[str, str] | None = None,
    ) -> None:
        """`verify`: True (system CAs), False, a CA bundle path or an SSLContext; `cert`: the terminal's
        client certificate (PEM path with the key inside, or (cert, key)) for mutual TLS. Both only
        matter for an https base_url and when no `transport` is given."""
        self.terminal_id = terminal_id
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            verify=tls_verify(verify, cert),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- operations ---------------------------------------------------------------------

    def health(self) -> bool:
        reply = self._exchange("health", "GET", "/v1/health", None, "-", attempts=1)
        return isinstance(reply, dict) and reply.get("status") == "ok"

    def precheck(self, request_id: str, card: Identity) -> Precheck | BackendFailure:
        body = {"card": card_json(card)}
        return self._call("precheck", "/v1/new-permit/precheck", request_id, body, _precheck)

    def face_check(self, request_id: str, card: Identity, photo_png: bytes) -> FaceCheck | BackendFailure:
        body = {"id_number": card.id_number, "photo_png": base64.b64encode(photo_png).decode("ascii")}
        return self._call("face_check", "/v1/new-permit/face-check", request_id, body, _face)

    def apply(
        self, request_id: str, card: Identity, lives_at_registered_address: bool, phone: str, photo_png: bytes
    ) -> Approval | Refusal | BackendFailure:
        body = {
            "card": card_json(card),
            "lives_at_registered_address": lives_at_registered_address,
            "phone": phone,
            "photo_png": base64.b64encode(photo_png).decode("ascii"),
        }
        return self._call("apply", "/v1/new-permit/applications", request_id, body, _application)

    def confirm_issuance(
        self, request_id: str, permit_number: str, card_serial: str | None
    ) -> Confirmed | BackendFailure:
        def read(data: dict[str, Any]) -> Confirmed:
            _issuance_state(data, permit_number, "issued")
            return Confirmed(permit_number)

        path = f"/v1/issuances/{quote(permit_number, safe='')}/confirm"
        return self._call("confirm", path, request_id, {"card_serial": card_serial}, read)

    def void_issuance(self, request_id: str, permit_number: str, reason: Reason) -> Voided | BackendFailure:
        def read(data: dict[str, Any]) -> Voided:
            _issuance_state(data, permit_number, "voided")
            return Voided(permit_number)

        path = f"/v1/issuances/{quote(permit_number, safe='')}/void"
        return self._call("void", path, request_id, {"reason": reason.value}, read)

    def declare_registration(
        self, request_id: str, card: Identity, address: str, proof_kind: ProofKind, proof_reference: str,
        relative: Relative | None = None,
    ) -> Registered | RegistrationRefused | BackendFailure:
        """居住登记申报: SH-REG-1..7 decide; a relative is needed exactly for the relative kinds."""
        body: dict[str, Any] = {
            "card": card_json(card),
            "address": address,
            "proof_kind": proof_kind.value,
            "proof_reference": proof_reference,
        }
        if relative is not None:
            body["relative"] = {
                "relationship": relative.relationship.value,
                "name": relative.name,
                "promise_letter": relative.promise_letter,
            }
        return self._call("register", "/v1/registrations", request_id, body, _registration)

    def verify_proof(
        self, request_id: str, *, qr_payload: str | None = None, certificate_number: str | None = None
    ) -> VerifiedProof | ProofRejected | BackendFailure:
        """A residence proof by the payload of its QR code or by its typed number (exactly one)."""
        if (qr_payload is None) == (certificate_number is None):
            raise ValueError("verify_proof: give exactly one of qr_payload and certificate_number")
        body = {"qr_payload": qr_payload} if qr_payload is not None else {"certificate_number": certificate_number}
        return self._call("verify_proof", "/v1/proofs/verify", request_id, body, _proof)

    def lookup_permit(
        self, request_id: str, permit_number: str, id_number: str
    ) -> PermitRecord | UnknownPermit | BackendFailure:
        """The permit record behind a card's chip data (permit number and holder's ID number)."""
        body = {"permit_number": permit_number, "id_number": id_number}
        return self._call("lookup", "/v1/permits/lookup", request_id, body, _permit_record,
                          unknown=lambda: UnknownPermit(permit_number))

    def check_endorsement(
        self, request_id: str, permit_number: str, id_number: str, card_valid_until: date
    ) -> EndorsementCheck | UnknownPermit | BackendFailure:
        """The endorsement state and the rewrite decision for a card showing `card_valid_until`."""
        def read(data: dict[str, Any]) -> EndorsementCheck:
            check = _endorsement(data)
            if check.permit.number != permit_number or check.card_valid_until != card_valid_until:
                raise _BadReply("permit")
            return check

        path = f"/v1/permits/{quote(permit_number, safe='')}/endorsement"
        body = {"id_number": id_number, "card_valid_until": card_valid_until.isoformat()}
        return self._call("endorsement", path, request_id, body, read, unknown=lambda: UnknownPermit(permit_number))

    def confirm_rewrite(
        self, request_id: str, permit_number: str, card_serial: str, rewrite: Rewrite
    ) -> Rewritten | BackendFailure:
        """The card now shows `rewrite`; the backend records it (409 VALIDITY_MISMATCH if not its own)."""
        def read(data: dict[str, Any]) -> Rewritten:
            done = Rewritten(_str(data, "permit_number"), _date(data, "card_valid_from"),
                             _date(data, "card_valid_until"))
            if done != Rewritten(permit_number, rewrite.valid_from, rewrite.valid_until):
                raise _BadReply("rewrite")
            return done

        path = f"/v1/permits/{quote(permit_number, safe='')}/rewrite-confirm"
        body = {
            "card_serial": card_serial,
            "valid_from": rewrite.valid_from.isoformat(),
            "valid_until": rewrite.valid_until.isoformat(),
        }
        return self._call("rewrite_confirm", path, request_id, body, read)

    def query_status(self, request_id: str, card: Identity) -> StatusReport | BackendFailure:
        """Registration, application progress, permit validity with its window, points (SH-PTS-1/2)."""
        return self._call("status", "/v1/status", request_id, {"card": card_json(card)}, _status)

    # --- transport ----------------------------------------------------------------------

    def _call(
        self, op: str, path: str, request_id: str, body: dict[str, Any], read: Callable[[dict[str, Any]], T],
        *, unknown: Callable[[], T] | None = None,
    ) -> T | BackendFailure:
        envelope = {"request_id": request_id, "terminal_id": self.terminal_id} | body
        reply = self._exchange(op, "POST", path, envelope, request_id, attempts=1 + self._retries)
        if isinstance(reply, BackendFailure):
            # An unknown permit is an answer about the card, not trouble with the backend.
            if unknown is not None and reply.status == 404 and reply.error == "UNKNOWN_PERMIT":
                return unknown()
            return reply
        try:
            return read(_obj(reply))
        except _BadReply as exc:
            log.warning("backend op=%s rid=%s disposition=bad_reply field=%s", op, request_id, exc)
            return BackendFailure(FailureKind.BAD_REPLY, status=200)

    def _exchange(
        self, op: str, method: str, path: str, body: dict[str, Any] | None, request_id: str, *, attempts: int
    ) -> Any:
        """The decoded JSON of a 200 answer, or a BackendFailure."""
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            outcome = self._once(method, path, body)
            if not isinstance(outcome, _Failed):
                log.info("backend op=%s rid=%s disposition=ok attempts=%d ms=%d", op, request_id, attempt,
                         (time.monotonic() - started) * 1000)
                return outcome
            if not (outcome.retryable and attempt < attempts):
                break
            time.sleep(self._backoff_s * 2 ** (attempt - 1))  # backoff between retries, not a race fix
        failure = outcome.failure
        log.warning("backend op=%s rid=%s disposition=%s status=%s attempts=%d ms=%d", op, request_id,
                    failure.kind.value, failure.status, attempt, (time.monotonic() - started) * 1000)
        return failure

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """One attempt: the decoded JSON of a 200 answer, or _Failed."""
        try:
            response = self._http.request(method, path, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # the request never left
            # A certificate the other side will not accept stays unacceptable: retrying only delays.
            return _Failed(BackendFailure(FailureKind.UNREACHABLE), retryable=not _is_tls_refusal(exc))
        except httpx.TimeoutException:
            return _Failed(BackendFailure(FailureKind.TIMEOUT), retryable=False)
        except httpx.DecodingError:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY), retryable=False)
        except httpx.RequestError:  # the connection broke after the request went out
            return _Failed(BackendFailure(FailureKind.UNREACHABLE), retryable=False)
        status = response.status_code
        if status >= 500:
            return _Failed(BackendFailure(FailureKind.SERVER_ERROR, status=status), retryable=True)
        if status >= 400:
            failure = BackendFailure(FailureKind.REFUSED_REQUEST, status=status, error=_error_code(response))
            return _Failed(failure, retryable=False)
        if status != 200:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY, status=status), retryable=False)
        try:
            return response.json()
        except ValueError:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY, status=status), retryable=False)


@dataclass(frozen=True)
class _Failed:
    failure: BackendFailure
    retryable: bool  # only what surely or harmlessly failed: no connection, or a 5xx of an idempotent call


def _is_tls_refusal(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None
