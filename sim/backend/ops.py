"""The operations: a request the document accepts, in; this backend's decision and reply, out.

sim/backend/app.py has checked the body against docs/backend-api.yaml and the terminal; what the
schema cannot say (a citizen card's sex and birth, the days the endorsement arithmetic reads, a
relative exactly for a relative's housing, a PNG that decodes) is checked here, 400 with its field.
Every reply is checked against the document before it is remembered for replays and sent.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sim.backend import decide as d
from sim.backend.contract import Contract
from sim.backend.face import FaceMatcher, decode_png
from sim.backend.rules import Pack, add_months, window
from sim.backend.store import Store
from sim.backend.vocab import (
    RELATIVES_HOME,
    CardType,
    IssuanceState,
    Kin,
    PointsState,
    ProofKind,
    Reason,
    ShownState,
)
from sim.proofs import code_matches

MAX_BODY = 8 * 1024 * 1024  # a permit photo as PNG in base64 stays far below this
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)  # the days the endorsement arithmetic reads
DRIFT_MONTHS = 12  # policy_drift: how far past the rules' validity the drifted answer reaches


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]


class BadRequest(Exception):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class Call:
    body: dict[str, Any]
    permit_number: str | None = None
    drift: bool = False  # a policy_drift fault strikes this request


@dataclass(frozen=True)
class Settings:
    today: date
    pack: Pack
    terminals: frozenset[str] = frozenset()
    # An approval neither confirmed nor voided this long after it was made lapses (docs/backend-api.yaml).
    approval_ttl_s: float = 72 * 3600.0


UNKNOWN_PERMIT = Reply(404, {"error": "UNKNOWN_PERMIT"})


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _day(body: dict[str, Any], key: str) -> date:
    value = date.fromisoformat(body[key])
    if not EARLIEST <= value <= LATEST:
        raise BadRequest(key)
    return value


def parse_card(raw: dict[str, Any]) -> d.Card:
    card = d.Card(
        card_type=CardType(raw["card_type"]), name=raw["name"], sex=raw["sex"], nation=raw["nation"],
        birth=_date(raw["birth"]), id_number=raw["id_number"], address=raw["address"], authority=raw["authority"],
        valid_from=_date(raw["valid_from"]), valid_to=_date(raw["valid_to"]),
    )
    if card.card_type is CardType.CITIZEN:  # the record checks compare these
        if card.sex is None:
            raise BadRequest("card.sex")
        if card.birth is None:
            raise BadRequest("card.birth")
    return card


def refusal_json(r: d.Refusal) -> dict[str, Any]:
    return {"reason": r.reason.value, "available_on": _iso(r.available_on)}


def permit_json(p: d.PermitOnFile) -> dict[str, Any]:
    return {"number": p.number, "issued": p.issued.isoformat(), "status": p.status.value,
            "valid_from": p.valid_from.isoformat(), "valid_until": p.valid_until.isoformat(),
            "endorsement": p.endorsed.value, "address_changed": p.address_changed}


def window_json(valid_until: date, today: date, pack: Pack) -> dict[str, Any]:
    w = window(valid_until, pack)
    return {"opens": w.opens.isoformat(), "closes": valid_until.isoformat(), "grace_ends": w.grace_ends.isoformat(),
            "position": w.position(today).value}


def registration_json(reg: d.RegistrationOnFile, today: date, pack: Pack) -> dict[str, Any]:
    return {"declared": reg.declared.isoformat(), "eligible_on": d.eligible_on(reg, pack).isoformat(),
            "expires_on": d.expires_on(reg, pack).isoformat(),
            "valid_through": d.registration_valid_through(reg, pack).isoformat(),
            "expired": today >= d.expires_on(reg, pack), "address": reg.address}


def decision_json(decision: d.Rewrite | d.Refusal) -> dict[str, Any]:
    if isinstance(decision, d.Rewrite):
        return {"rewrite": True, "valid_from": decision.valid_from.isoformat(),
                "valid_until": decision.valid_until.isoformat()}
    return {"rewrite": False} | refusal_json(decision)


def drifted(decision: d.Rewrite | d.Refusal, card_valid_until: date, pack: Pack) -> d.Rewrite:
    """policy_drift at `endorsement`: a rewrite the rules do not give. Where the rules rewrite, a
    validity a year longer than theirs; where they refuse, a rewrite as if an endorsement had passed
    (card's V to add_months(V, 12))."""
    if isinstance(decision, d.Rewrite):
        return d.Rewrite(decision.valid_from, add_months(decision.valid_until, DRIFT_MONTHS))
    return d.Rewrite(card_valid_until, add_months(card_valid_until, pack.permit_months))


class Backend:
    def __init__(self, store: Store, settings: Settings, faces: FaceMatcher, contract: Contract) -> None:
        self.store, self.settings, self.faces, self.contract = store, settings, faces, contract
        self.handlers: dict[str, Callable[[Call], Reply]] = {
            "precheck": self.precheck, "face_check": self.face_check, "apply": self.apply, "confirm": self.confirm,
            "void": self.void, "void_application": self.void_application, "register": self.register,
            "verify_proof": self.verify_proof, "lookup": self.lookup,
            "endorsement": self.endorsement, "rewrite_confirm": self.rewrite_confirm, "status": self.status,
        }

    def known_terminal(self, terminal: str) -> bool:
        return terminal.startswith(("SH-", "BJ-")) or terminal in self.settings.terminals

    def serve(self, op: str, call: Call) -> Reply:
        """Idempotent by request id: a replay returns the first answer; another body is 409."""
        request_id = call.body["request_id"]
        digest = hashlib.sha256(json.dumps([op, call.permit_number, call.body], sort_keys=True,
                                           ensure_ascii=False).encode()).hexdigest()
        with self.store.transaction():
            seen = self.store.remembered(request_id)
            if seen is not None:
                return Reply(seen.status, seen.body) if seen.digest == digest else Reply(
                    409, {"error": "REQUEST_ID_REUSED"})
            reply = self.handlers[op](call)
            self.contract.check_reply(op, reply.status, reply.body)  # off the document: rolled back, 500
            self.store.remember(request_id, op, digest, reply.status, reply.body)
            return reply

    def health(self) -> Reply:
        s = self.settings
        return Reply(200, {"status": "ok", "policy": s.pack.city, "today": s.today.isoformat()})

    # --- new permit -----------------------------------------------------------------------------

    def _assess(
        self, card: d.Card, lives: bool | None
    ) -> tuple[list[d.Refusal], str | None, d.RegistrationOnFile | None]:
        s = self.settings
        self.store.expire_approvals(time.time() - s.approval_ttl_s)
        refusals = d.card_refusals(card, s.today, s.pack)
        if card.card_type is not CardType.CITIZEN:
            return refusals, None, None
        resident = self.store.resident(card.id_number)
        reg = self.store.registration(resident.key) if resident else None
        permit = self.store.permit_of(resident.key) if resident else None
        refusals += d.record_refusals(card, reg, permit, s.today, s.pack, lives)
        return d.in_order(refusals), resident.key if resident else None, reg

    def precheck(self, call: Call) -> Reply:
        refusals, _key, reg = self._assess(parse_card(call.body["card"]), None)
        return Reply(200, {"refusals": [refusal_json(r) for r in refusals],
                           "registered_address": reg.address if reg else None})

    def _photo(self, body: dict[str, Any]) -> Any:
        photo = decode_png(body["photo_png"])
        if photo is None:
            raise BadRequest("photo_png")
        return photo

    def face_check(self, call: Call) -> Reply:
        photo = self._photo(call.body)
        resident = self.store.resident(call.body["id_number"])  # no resident, no reference: simply no match
        return Reply(200, {"match": resident is not None and self.faces(photo, resident.key)})

    def apply(self, call: Call) -> Reply:
        s, body = self.settings, call.body
        if self.store.request_voided(body["request_id"]):
            return Reply(409, {"error": "REQUEST_VOIDED"})
        card, photo = parse_card(body["card"]), self._photo(body)
        refusals, key, reg = self._assess(card, body["lives_at_registered_address"])
        if not refusals and key is not None and not self.faces(photo, key):
            refusals.append(d.Refusal(Reason.FACE_MISMATCH))
        log = {"request_id": body["request_id"], "terminal": body["terminal_id"], "resident": key,
               "id_number": card.id_number, "decided_on": s.today}
        if refusals:
            first = refusals[0]
            self.store.add_application(**log, approved=False, reason=first.reason.value,
                                       available_on=first.available_on, permit_number=None)
            return Reply(200, {"approved": False} | refusal_json(first))
        assert key is not None and reg is not None  # no refusal: registered, so on record
        valid_from, valid_until = d.new_permit_period(s.today, s.pack)
        if call.drift:  # policy_drift: twice the validity the rules give
            valid_until = add_months(valid_until, DRIFT_MONTHS)
        number = self.store.next_number("permits", "number", f"{s.pack.permit_prefix}{s.today.year:04d}")
        self.store.add_permit(resident=key, terminal=body["terminal_id"], number=number, issued=s.today,
                              valid_from=valid_from, valid_until=valid_until, authority=s.pack.authority,
                              address=reg.address)
        self.store.add_application(**log, approved=True, reason=None, available_on=None, permit_number=number)
        return Reply(200, {"approved": True, "permit": {
            "number": number, "issued": s.today.isoformat(), "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(), "authority": s.pack.authority, "residence_address": reg.address,
        }})

    def confirm(self, call: Call) -> Reply:
        number = call.permit_number or ""
        state = self.store.issuance(number)
        if state is None:
            return UNKNOWN_PERMIT
        if state is IssuanceState.VOIDED:
            return Reply(409, {"error": "ISSUANCE_STATE", "state": state.value})
        self.store.set_issuance(number, IssuanceState.ISSUED, serial=call.body["card_serial"])
        return Reply(200, {"permit_number": number, "state": IssuanceState.ISSUED.value})

    def void(self, call: Call) -> Reply:
        number = call.permit_number or ""
        state = self.store.issuance(number)
        if state is None:
            return UNKNOWN_PERMIT
        if state is IssuanceState.ISSUED:
            return Reply(409, {"error": "ISSUANCE_STATE", "state": state.value})
        self.store.set_issuance(number, IssuanceState.VOIDED, void_reason=call.body["reason"])
        return Reply(200, {"permit_number": number, "state": IssuanceState.VOIDED.value})

    def void_application(self, call: Call) -> Reply:
        """Void an application by the request id it was sent with, whether or not it was ever
        answered: the kiosk that lost the reply cannot know the permit number."""
        body = call.body
        rid = body["application_request_id"]
        app = self.store.application_of_request(rid)
        if app is None:
            self.store.void_request(rid, body["terminal_id"])
            return Reply(200, {"application_request_id": rid, "state": "unseen", "permit_number": None})
        if not app.approved or app.permit_number is None:
            return Reply(200, {"application_request_id": rid, "state": "refused", "permit_number": None})
        if app.issuance is IssuanceState.ISSUED:
            return Reply(409, {"error": "ISSUANCE_STATE", "state": IssuanceState.ISSUED.value})
        if app.issuance is not IssuanceState.VOIDED:
            self.store.set_issuance(app.permit_number, IssuanceState.VOIDED, void_reason=body["reason"])
        return Reply(200, {"application_request_id": rid, "state": "voided", "permit_number": app.permit_number})

    # --- registration and proofs ---------------------------------------------------------------------

    def register(self, call: Call) -> Reply:
        s, body = self.settings, call.body
        card, kind, address = parse_card(body["card"]), ProofKind(body["proof_kind"]), body["address"]
        raw = body.get("relative")
        if (kind in RELATIVES_HOME) != (raw is not None):  # a relative exactly for a relative's housing
            raise BadRequest("relative")
        relative = None if raw is None else d.RelativeClaim(Kin(raw["relationship"]), raw.get("name", ""),
                                                            raw["promise_letter"])
        purpose = body.get("purpose")
        refused = next(iter(d.card_refusals(card, s.today, s.pack)), None)
        if refused is None:
            proof = self.store.proof(reference=body["proof_reference"])
            refused = d.proof_refusal(proof, kind, address, card.name, relative, s.today)
        resident = self.store.resident(card.id_number)
        reg = self.store.registration(resident.key) if resident else None
        if refused is None:
            permit = self.store.permit_of(resident.key) if resident else None
            refused = d.registration_record_refusal(address, reg, permit, s.today, s.pack)
        if refused is not None:
            reply: dict[str, Any] = {"registered": False, "reason": refused.reason.value, "rule": refused.rule}
            if refused.reason is Reason.REG_CURRENT and reg is not None:
                reply["registration"] = registration_json(reg, s.today, s.pack)
            return Reply(200, reply)
        key = self.store.resident_from_card(card)
        receipt = self.store.next_number("declarations", "receipt", f"{s.pack.permit_prefix}R{s.today.year:04d}")
        self.store.declare(resident=key, card=card, address=address, declared=s.today, kind=kind.value,
                           reference=body["proof_reference"], kin=relative.kin.value if relative else None,
                           receipt=receipt, request_id=body["request_id"], terminal=body["terminal_id"],
                           promise_letter=relative.promise_letter if relative else None, purpose=purpose)
        new = self.store.registration(key)
        assert new is not None
        facts = registration_json(new, s.today, s.pack)
        return Reply(200, {"registered": True, "receipt": {"number": receipt, "address": address} | {
            k: facts[k] for k in ("declared", "eligible_on", "expires_on")}})

    def verify_proof(self, call: Call) -> Reply:
        """By its QR payload, or its number (with the code its QR code carries, when scanned); with
        the declarant's card and the kind chosen, the proof's checks as far as they can run before
        the address is confirmed and a relative named (`assessment`)."""
        body, today = call.body, self.settings.today
        if ("card" in body) != ("proof_kind" in body):
            raise BadRequest("proof_kind")
        proof = (self.store.proof(qr=body["qr_payload"]) if "qr_payload" in body
                 else self.store.proof(reference=body["certificate_number"]))
        code = body.get("verification_code")
        # A scanned proof's code is checked as the proof system signs it (sim/proofs.py); a typed
        # number comes without one.
        if proof is None or not d.proof_verifies(proof, today) or (
                code is not None and not (code.isascii() and code_matches(proof.reference, code))):
            return Reply(200, {"valid": False, "reason": Reason.PROOF_INVALID.value})
        reply: dict[str, Any] = {"valid": True, "proof": {
            "document": proof.document.value, "reference": proof.reference, "property_use": proof.use.value,
            "in_management_area": proof.in_management_area, "owner_type": proof.owner.value,
            "lessee_type": proof.lessee.value, "valid_until": _iso(proof.valid_until), "address": proof.address}}
        if "card" in body:
            card = parse_card(body["card"])
            refused = next(iter(d.card_refusals(card, today, self.settings.pack)), None)
            if refused is None:
                refused = d.proof_refusal(proof, ProofKind(body["proof_kind"]), None, card.name, None, today)
            reply["assessment"] = None if refused is None else {"reason": refused.reason.value, "rule": refused.rule}
        return Reply(200, reply)

    # --- permits, endorsement, card-face rewrite, status ---------------------------------------------

    def lookup(self, call: Call) -> Reply:
        permit = self.store.permit(call.body["permit_number"], call.body["id_number"])
        return UNKNOWN_PERMIT if permit is None else Reply(200, permit_json(permit))

    def endorsement(self, call: Call) -> Reply:
        s = self.settings
        shown = _day(call.body, "card_valid_until")
        permit = self.store.permit(call.permit_number or "", call.body["id_number"])
        if permit is None:
            return UNKNOWN_PERMIT
        decision = d.rewrite_decision(permit, shown, s.today, s.pack)
        if call.drift:
            decision = drifted(decision, shown, s.pack)
        return Reply(200, {"permit": permit_json(permit), "card_valid_until": shown.isoformat(),
                           "window": window_json(permit.valid_until, s.today, s.pack),
                           "decision": decision_json(decision)})

    def rewrite_confirm(self, call: Call) -> Reply:
        body = call.body
        valid_from, valid_until = _day(body, "valid_from"), _day(body, "valid_until")
        permit = self.store.permit(call.permit_number or "")
        if permit is None:
            return UNKNOWN_PERMIT
        if (valid_from, valid_until) != (permit.valid_from, permit.valid_until):
            return Reply(409, {"error": "VALIDITY_MISMATCH"})  # the card would show what was never granted
        self.store.record_rewrite(number=permit.number, terminal=body["terminal_id"], serial=body["card_serial"],
                                  valid_from=valid_from, valid_until=valid_until, on=self.settings.today)
        return Reply(200, {"permit_number": permit.number, "card_valid_from": valid_from.isoformat(),
                           "card_valid_until": valid_until.isoformat()})

    def status(self, call: Call) -> Reply:
        s = self.settings
        card = parse_card(call.body["card"])
        resident = self.store.resident(card.id_number)
        key = resident.key if resident else None
        reg = self.store.registration(key) if key else None
        app = self.store.latest_application(key) if key else None
        permit = self.store.permit_of(key) if key else None
        pts = d.points(permit, s.today, s.pack)
        state = d.shown_state(permit, s.today, s.pack) if permit is not None else None
        if call.drift and permit is not None:  # policy_drift: read as if an endorsement had passed
            state = ShownState.PASSED
            pts = d.Points(PointsState.VALID, add_months(permit.valid_until, s.pack.permit_months))
        reg_facts = registration_json(reg, s.today, s.pack) if reg else None
        if call.drift and reg_facts is not None and permit is None:  # a permit possible a month early
            reg_facts["eligible_on"] = add_months(d.eligible_on(reg, s.pack), -1).isoformat()
        held = self.store.points(permit.number) if permit is not None else None
        # SH-PTS-2: the notice is printed only for points that stand.
        notice = held[1] if held is not None and pts.state is PointsState.VALID else None
        return Reply(200, {
            "registration": reg_facts,
            "application": None if app is None else {
                "decided_on": app.decided_on.isoformat(), "approved": app.approved, "reason": app.reason,
                "available_on": _iso(app.available_on), "permit_number": app.permit_number,
                "issuance": app.issuance.value if app.issuance else None},
            "permit": None if permit is None else permit_json(permit) | {
                "card_valid_until": permit.card_valid_until.isoformat(),
                "window": window_json(permit.valid_until, s.today, s.pack),
                "endorsement_state": state.value if state is not None else None},
            "points": {"state": pts.state.value, "valid_until": _iso(pts.valid_until),
                       "reason": pts.reason.value if pts.reason else None,
                       "value": held[0] if held is not None else None, "notice": notice},
        })
