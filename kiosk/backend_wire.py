"""JSON on the wire to and from the backend, per docs/backend-api.yaml.

`card_json` encodes an ID card for a request; the `decode_*` functions read a 200 answer into
the typed results of kiosk/backend_types.py, and raise BadReply (naming the field) on anything
the contract does not allow: the client turns that into a BackendFailure(BAD_REPLY).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from kiosk.backend_types import (
    ID_CARD_REASONS,
    REGISTRATION_REASONS,
    ApplicationInfo,
    Approval,
    EndorsementCheck,
    FaceCheck,
    PermitGrant,
    PermitInfo,
    PermitRecord,
    Precheck,
    ProofRejected,
    Receipt,
    Registered,
    RegistrationInfo,
    RegistrationRefused,
    StatusReport,
    VerifiedProof,
    WindowInfo,
)
from kiosk.backend_vocabulary import Party, ProofDocument, PropertyUse
from kiosk.dates import Window
from kiosk.endorsement import REWRITE_ORDER, PermitStanding, Points, PointsState, Rewrite
from kiosk.identity import Identity
from kiosk.policy import NEW_PERMIT_ORDER, Refusal
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, PermitStatus


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


# --- reading replies: anything unexpected raises BadReply, which becomes bad_reply -----------


class BadReply(Exception):
    pass


def as_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReply("not an object")
    return value


def text_field(data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = data.get(key)
    if value is None and nullable and key in data:
        return None
    if not isinstance(value, str):
        raise BadReply(key)
    return value


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise BadReply(key)
    return value


def date_field(data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    text = text_field(data, key, nullable=nullable)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadReply(key) from None


def _refusal(data: dict[str, Any]) -> Refusal:
    try:
        reason = Reason(text_field(data, "reason"))
    except ValueError:
        raise BadReply("reason") from None
    if reason not in NEW_PERMIT_ORDER:  # first_refusal could not rank anything else
        raise BadReply("reason")
    return Refusal(reason, date_field(data, "available_on", nullable=True))


def decode_precheck(data: dict[str, Any]) -> Precheck:
    items = data.get("refusals")
    if not isinstance(items, list):
        raise BadReply("refusals")
    return Precheck(
        refusals=tuple(_refusal(as_object(item)) for item in items),
        registered_address=text_field(data, "registered_address", nullable=True),
    )


def decode_face(data: dict[str, Any]) -> FaceCheck:
    return FaceCheck(_bool(data, "match"))


def decode_application(data: dict[str, Any]) -> Approval | Refusal:
    if not _bool(data, "approved"):
        refusal = _refusal(data)
        if refusal.reason is Reason.REG_TOO_RECENT and refusal.available_on is None:
            raise BadReply("available_on")
        return refusal
    permit = as_object(data.get("permit"))
    grant = PermitGrant(
        number=text_field(permit, "number"),
        issued=date_field(permit, "issued"),
        valid_from=date_field(permit, "valid_from"),
        valid_until=date_field(permit, "valid_until"),
        authority=text_field(permit, "authority"),
        residence_address=text_field(permit, "residence_address"),
    )
    if not grant.number or grant.valid_until < grant.valid_from:
        raise BadReply("permit")
    return Approval(grant)


def check_issuance_state(data: dict[str, Any], permit_number: str, state: str) -> None:
    if text_field(data, "permit_number") != permit_number or text_field(data, "state") != state:
        raise BadReply("issuance")


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], data: dict[str, Any], key: str, *, nullable: bool = False) -> Any:
    text = text_field(data, key, nullable=nullable)
    if text is None:
        return None
    try:
        return kind(text)
    except ValueError:
        raise BadReply(key) from None


def decode_registration(data: dict[str, Any]) -> Registered | RegistrationRefused:
    if not _bool(data, "registered"):
        reason = _enum(Reason, data, "reason")
        if reason not in REGISTRATION_REASONS:
            raise BadReply("reason")
        rule = text_field(data, "rule", nullable=True)
        if (rule is None) != (reason in ID_CARD_REASONS):  # the proof checks always name their rule
            raise BadReply("rule")
        reg = data.get("registration")
        return RegistrationRefused(reason, rule, None if reg is None else _registration_info(as_object(reg)))
    receipt = as_object(data.get("receipt"))
    result = Receipt(
        number=text_field(receipt, "number"),
        declared=date_field(receipt, "declared"),
        eligible_on=date_field(receipt, "eligible_on"),
        expires_on=date_field(receipt, "expires_on"),
        address=text_field(receipt, "address"),
    )
    if not result.number or not result.declared < result.eligible_on < result.expires_on:
        raise BadReply("receipt")
    return Registered(result)


def decode_proof(data: dict[str, Any]) -> VerifiedProof | ProofRejected:
    if not _bool(data, "valid"):
        if _enum(Reason, data, "reason") is not Reason.PROOF_INVALID:
            raise BadReply("reason")
        return ProofRejected()
    proof = as_object(data.get("proof"))
    assessment = None
    if data.get("assessment") is not None:
        found = as_object(data.get("assessment"))
        reason = _enum(Reason, found, "reason")
        if reason not in REGISTRATION_REASONS:
            raise BadReply("assessment.reason")
        assessment = RegistrationRefused(reason, text_field(found, "rule", nullable=True))
    return VerifiedProof(
        document=_enum(ProofDocument, proof, "document"),
        reference=text_field(proof, "reference"),
        property_use=_enum(PropertyUse, proof, "property_use"),
        in_management_area=_bool(proof, "in_management_area"),
        owner_type=_enum(Party, proof, "owner_type"),
        valid_until=date_field(proof, "valid_until", nullable=True),
        address=text_field(proof, "address", nullable=True),
        lessee_type=_enum(Party, proof, "lessee_type") if "lessee_type" in proof else Party.INDIVIDUAL,
        assessment=assessment,
    )


def decode_permit_record(data: dict[str, Any]) -> PermitRecord:
    standing = PermitStanding(
        status=_enum(PermitStatus, data, "status"),
        address_changed=_bool(data, "address_changed"),
        valid_from=date_field(data, "valid_from"),
        valid_until=date_field(data, "valid_until"),
        endorsement=_enum(EndorsementState, data, "endorsement"),
    )
    record = PermitRecord(number=text_field(data, "number"), issued=date_field(data, "issued"), standing=standing)
    if not record.number or standing.valid_until < standing.valid_from:
        raise BadReply("permit")
    return record


def _window(data: dict[str, Any]) -> WindowInfo:
    info = WindowInfo(
        opens=date_field(data, "opens"),
        closes=date_field(data, "closes"),
        grace_ends=date_field(data, "grace_ends"),
        position=_enum(Window, data, "position"),
    )
    if not info.opens <= info.closes <= info.grace_ends:
        raise BadReply("window")
    return info


def _decision(data: dict[str, Any]) -> Rewrite | Refusal:
    if _bool(data, "rewrite"):
        rewrite = Rewrite(date_field(data, "valid_from"), date_field(data, "valid_until"))
        if rewrite.valid_until <= rewrite.valid_from:
            raise BadReply("decision")
        return rewrite
    reason = _enum(Reason, data, "reason")
    if reason not in REWRITE_ORDER:
        raise BadReply("reason")
    available_on = date_field(data, "available_on", nullable=True)
    if (reason is Reason.ENDORSEMENT_NOT_DUE) != (available_on is not None):
        raise BadReply("available_on")
    return Refusal(reason, available_on)


def decode_endorsement(data: dict[str, Any]) -> EndorsementCheck:
    return EndorsementCheck(
        permit=decode_permit_record(as_object(data.get("permit"))),
        card_valid_until=date_field(data, "card_valid_until"),
        window=_window(as_object(data.get("window"))),
        decision=_decision(as_object(data.get("decision"))),
    )


def _points(data: dict[str, Any]) -> Points:
    state = _enum(PointsState, data, "state")
    reason = _enum(Reason, data, "reason", nullable=True)
    if (state is PointsState.VOID) != (reason is not None):
        raise BadReply("points")
    return Points(state, date_field(data, "valid_until", nullable=True), reason)


def decode_status(data: dict[str, Any]) -> StatusReport:
    reg_data, app_data, permit_data = data.get("registration"), data.get("application"), data.get("permit")
    for key in ("registration", "application", "permit", "points"):
        if key not in data:
            raise BadReply(key)
    registration = None if reg_data is None else _registration_info(as_object(reg_data))
    application = None
    if app_data is not None:
        app = as_object(app_data)
        application = ApplicationInfo(
            decided_on=date_field(app, "decided_on"), approved=_bool(app, "approved"),
            reason=_enum(Reason, app, "reason", nullable=True),
            available_on=date_field(app, "available_on", nullable=True),
            permit_number=text_field(app, "permit_number", nullable=True),
            issuance=text_field(app, "issuance", nullable=True),
        )
    permit = None
    if permit_data is not None:
        item = as_object(permit_data)
        permit = PermitInfo(
            permit=decode_permit_record(item), card_valid_until=date_field(item, "card_valid_until"),
            window=_window(as_object(item.get("window"))),
            endorsement_state=_shown_state(item),
        )
    points = as_object(data.get("points"))
    value, notice = points.get("value"), text_field(points, "notice", nullable=True)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise BadReply("points.value")
    return StatusReport(registration, application, permit, _points(points), value, notice)


SHOWN_STATES = ("passed", "not_due", "open", "grace", "lapsed")


def _shown_state(item: dict[str, Any]) -> str:
    state = text_field(item, "endorsement_state")
    if state not in SHOWN_STATES:
        raise BadReply("endorsement_state")
    return str(state)



def _registration_info(reg: dict[str, Any]) -> RegistrationInfo:
    return RegistrationInfo(
        declared=date_field(reg, "declared"), eligible_on=date_field(reg, "eligible_on"),
        expires_on=date_field(reg, "expires_on"), expired=_bool(reg, "expired"), address=text_field(reg, "address"),
        valid_through=date_field(reg, "valid_through"),
    )
