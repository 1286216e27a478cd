"""Residence registration (居住登记申报, SH-REG-1..7): the ID card, the kind of home and its proof
(its QR code scanned or its number typed), the relative and their promise letter where the home
is a relative's, the reason for living here, the address the proof names, the phone, and the
declaration; a receipt to photograph.

The order of checks is RULES.md's: the ID card's (REGISTRATION_ORDER up to UNDER_16, here), then
the proof's, which the backend assesses when it verifies the proof (PROOF_INVALID →
NON_RESIDENTIAL_PROPERTY → DORMITORY_IN_RESIDENTIAL_AREA → LEASE_TO_UNIT), then the relative
(RELATIVE_NOT_CLOSE: SH-REG-3, refused here at once), then the records at the declaration
(REG_CURRENT → ADDRESS_CHANGED). The backend decides everything again when the declaration is
made; its answer stands. The QR scanner is optional: without it the number is typed.
Screens' views: kiosk/flows/registration_views.py; the session's fields: registration_data.py.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from devices.events import IdCardRead, IdReadFailed, QrScanned
from devices.status import DeviceKind
from kiosk import backend as bk
from kiosk.availability import Needs
from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.flows.base import Flow
from kiosk.flows.id_card_step import IdCardStep
from kiosk.flows.phone_step import PhoneStep
from kiosk.flows.registration_data import (
    PROOF_NUMBER,
    PROOF_NUMBER_MAX,
    PURPOSES,
    RELATIONSHIPS,
    Presented,
    Purpose,
    RegData,
    is_close,
    needs_relative,
)
from kiosk.flows.registration_views import SCREENS
from kiosk.logevents import LogEvent
from kiosk.policy import REGISTRATION_ORDER, Refusal
from kiosk.qr_payload import PayloadRejected, parse_proof_payload
from kiosk.reasons import Outcome, Reason, Service
from kiosk.records import ProofKind
from kiosk.view import Waiting

P = "registration"
# RULES.md, Order of checks, residence registration: the checks at the ID card.
ID_CARD_ORDER = REGISTRATION_ORDER[:REGISTRATION_ORDER.index(Reason.UNDER_16) + 1]


# The failures after which the request may have reached the backend: asking again is safe (request ids).
LOST = frozenset({bk.FailureKind.UNREACHABLE, bk.FailureKind.TIMEOUT})


class RG(StrEnum):
    ID_READ = "reg_id_read"
    PROOF_VERIFIED = "reg_proof_verified"
    SCANNED = "reg_scanned"
    DECLARED = "reg_declared"
    RECEIPT_TIMEOUT = "reg_receipt_timeout"


class Registration(PhoneStep, Flow):
    SERVICE = Service.REGISTRATION
    # DESIGN.md: the QR scanner is optional, the proof's number can be typed.
    NEEDS = Needs((DeviceKind.ID_READER, DeviceKind.BACKEND))
    SCREENS = SCREENS
    CHART = ChartPart(
        owner=P,
        states=(StateSpec(P, on_enter="enter_service", children=(
            StateSpec("notice", Waiting.TOUCH, session=True),
            StateSpec("read_id", Waiting.ID_CARD, session=True, back=f"{P}.notice",
                      on_enter="enter_read_id", on_exit="exit_read_id"),
            StateSpec("proof_type", Waiting.TOUCH, session=True),
            # Waits for the proof's QR code, and takes its number typed on the same screen.
            StateSpec("proof", Waiting.QR, session=True, back=f"{P}.proof_type",
                      on_enter="enter_proof", on_exit="exit_proof"),
            StateSpec("verify_proof", on_enter="enter_verify_proof"),
            StateSpec("relative", Waiting.TOUCH, session=True, back=f"{P}.proof_type"),
            StateSpec("promise", Waiting.TOUCH, session=True, back=f"{P}.relative"),
            StateSpec("purpose", Waiting.TOUCH, session=True),
            StateSpec("address", Waiting.TOUCH, session=True, back=f"{P}.purpose"),
            StateSpec("phone", Waiting.DIGITS, session=True, back=f"{P}.address"),
            StateSpec("confirm", Waiting.TOUCH, session=True, back=f"{P}.phone"),
            StateSpec("submit", on_enter="enter_submit"),
            StateSpec("receipt", Waiting.TOUCH, timers=(TimerSpec("receipt", "receipt", RG.RECEIPT_TIMEOUT),),
                      on_enter="enter_receipt"),
            StateSpec("done", Waiting.TOUCH, closing=True),
        )),),
        edges=(
            Edge(T.TAP_SERVICE, "ready.menu", f"{P}.notice", conditions=("chosen",)),
            Edge(T.TAP_CONFIRM, f"{P}.notice", f"{P}.read_id"),
            Edge(RG.ID_READ, f"{P}.read_id", f"{P}.proof_type"),
            Edge(T.TAP_CHOICE, f"{P}.proof_type", f"{P}.proof", conditions=("kind_chosen",)),
            Edge(T.TAP_KEY, f"{P}.proof", None),
            Edge(T.TAP_CONFIRM, f"{P}.proof", f"{P}.verify_proof", conditions=("number_typed",),
                 before="note_typed"),
            Edge(RG.SCANNED, f"{P}.proof", f"{P}.verify_proof"),
            Edge(RG.PROOF_VERIFIED, f"{P}.verify_proof", "refusal", conditions=("proof_refused",)),
            Edge(RG.PROOF_VERIFIED, f"{P}.verify_proof", f"{P}.relative", conditions=("relative_needed",)),
            Edge(RG.PROOF_VERIFIED, f"{P}.verify_proof", f"{P}.purpose"),
            # SH-REG-3: a relative who is not a close one is refused at once.
            Edge(T.TAP_CHOICE, f"{P}.relative", "refusal", conditions=("relative_not_close",),
                 before="note_relative_not_close"),
            Edge(T.TAP_CHOICE, f"{P}.relative", f"{P}.promise", conditions=("relative_chosen",)),
            # SH-REG-2: the promise letter, read in full and confirmed, stands in for the proof.
            Edge(T.TAP_CONFIRM, f"{P}.promise", f"{P}.purpose", before="note_letter_confirmed"),
            Edge(T.TAP_CHOICE, f"{P}.purpose", f"{P}.address", conditions=("purpose_chosen",)),
            Edge(T.TAP_ANSWER_YES, f"{P}.address", f"{P}.phone"),
            # Not living at the address the proof names: that proof does not cover them; another may.
            Edge(T.TAP_ANSWER_NO, f"{P}.address", f"{P}.proof_type", before="note_other_proof"),
            Edge(T.TAP_KEY, f"{P}.phone", None),
            Edge(T.TAP_CONFIRM, f"{P}.phone", f"{P}.confirm", conditions=("phone_valid",)),
            Edge(T.TAP_CONFIRM, f"{P}.phone", None, after="note_phone_problem"),  # says what is wrong
            Edge(T.TAP_CHOICE, f"{P}.phone", f"{P}.confirm", conditions=("no_phone_declared",)),
            Edge(T.TAP_CONFIRM, f"{P}.confirm", f"{P}.submit"),
            Edge(RG.DECLARED, f"{P}.submit", f"{P}.receipt"),
            Edge(T.TAP_CONFIRM, f"{P}.receipt", f"{P}.done"),
            Edge(RG.RECEIPT_TIMEOUT, f"{P}.receipt", "goodbye"),
            Edge(T.REFUSED, P, "refusal"),
            Edge(T.FAULTED, P, "fault"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.id_card = IdCardStep(core, f"{P}.read_id", RG.ID_READ, ID_CARD_ORDER)
        self._asked_again = False  # the declaration was asked again after a lost answer

    def handlers(self) -> dict[type, Any]:
        return {IdCardRead: self.id_card.on_read, IdReadFailed: self.id_card.on_failed, QrScanned: self.on_scanned}

    def on_status(self, device: Any) -> bool:
        # A scanner that comes back while the proof screen waits is turned on again; a scanner that
        # goes away ends nothing: the number can be typed (DESIGN.md: QR scanner optional).
        if device is DeviceKind.QR_SCANNER and self.core.state == f"{P}.proof":
            self._scanning(True)
        return False

    @property
    def data(self) -> RegData:
        """The session's RegData (set on entering the service; guards read a blank one before)."""
        d = self.core.session.service_data
        return d if isinstance(d, RegData) else RegData()

    # --- guards (pure) ------------------------------------------------------------------------

    def chosen(self) -> bool:
        return self.core.session.chosen is Service.REGISTRATION and self.core.availability.offers(Service.REGISTRATION)

    def kind_chosen(self) -> bool:
        return self.data.kind is not None

    def number_typed(self) -> bool:
        return bool(PROOF_NUMBER.match(self.data.digits))

    def proof_refused(self) -> bool:
        return self.core.session.refusal is not None

    def relative_needed(self) -> bool:
        return needs_relative(self.data.kind)

    def relative_chosen(self) -> bool:
        return self.data.relationship is not None

    def relative_not_close(self) -> bool:
        rel = self.data.relationship
        return rel is not None and not is_close(rel)

    def purpose_chosen(self) -> bool:
        return self.data.purpose is not None

    # --- taps ---------------------------------------------------------------------------------

    def on_choice(self, choice: str) -> None:
        d, state = self.data, self.core.state
        if state == f"{P}.proof_type":
            d.kind = next((k for k in ProofKind if k.value == choice), None)
            # Another kind of home: whatever was answered for the last one does not carry over.
            d.proof, d.relationship, d.letter_confirmed = None, None, False
        elif state == f"{P}.relative":
            d.relationship = next((r for r in RELATIONSHIPS if r.value == choice), None)
        elif state == f"{P}.purpose":
            d.purpose = next((p for p in PURPOSES if p.value == choice), None)
        elif state == f"{P}.phone" and choice == "no_phone":
            s = self.core.session
            s.no_phone, s.phone, s.phone_error = True, "", None

    def on_key(self, key: str) -> None:
        state = self.core.state
        if state == f"{P}.proof":
            self.data.digits = _keyed(self.data.digits, key, PROOF_NUMBER_MAX)
            self.data.payload_problem = None
        elif state == f"{P}.phone":
            self.core.session.phone = _keyed(self.core.session.phone, key, 11)
            self.core.session.phone_error = None

    # --- notes ----------------------------------------------------------------------------------

    def note_typed(self) -> None:
        d = self.data
        d.number, d.code, d.presented = d.digits, None, Presented.TYPED

    def note_relative_not_close(self) -> None:
        self.core.session.refusal = Refusal(Reason.RELATIVE_NOT_CLOSE)

    def note_letter_confirmed(self) -> None:
        self.data.letter_confirmed = True

    def note_other_proof(self) -> None:
        d = self.data
        d.kind, d.proof, d.relationship, d.letter_confirmed, d.purpose = None, None, None, False, None
        d.digits, d.number, d.code, d.presented = "", "", None, None

    # --- states ---------------------------------------------------------------------------------

    def enter_service(self) -> None:
        s = self.core.session
        if not isinstance(s.service_data, RegData):
            s.service_data = RegData()
        super().enter_service()

    def enter_proof(self) -> None:
        self.data.payload_problem = None
        self._scanning(True)

    def exit_proof(self) -> None:
        self._scanning(False)

    def _scanning(self, on: bool) -> None:
        scanner = self.core.ports.qr_scanner
        if scanner is not None and (not on or self.core.availability.is_up(DeviceKind.QR_SCANNER)):
            scanner.set_scanning(on)

    def on_scanned(self, event: QrScanned) -> None:
        if self.core.state != f"{P}.proof":
            return
        s, d = self.core.session, self.data
        # The payload is a claim only: parsed strictly here, verified by the backend (number and code).
        found = parse_proof_payload(event.payload, self.core.config.devices.qr_scanner.proof_hosts)
        if isinstance(found, PayloadRejected):
            d.payload_problem = found.problem.value
            self.core.log.emit(LogEvent.PROOF_PAYLOAD_REJECTED, session=s.id, problem=found.problem)
            return
        d.number, d.code, d.presented, d.payload_problem = found.number, found.code, Presented.QR, None
        self.core.fire(RG.SCANNED)

    def enter_verify_proof(self) -> None:
        s, d = self.core.session, self.data
        d.scans += 1
        card, kind, number, code = s.identity, d.kind, d.number, d.code
        rid, backend = s.request_id(f"verify_proof_{d.scans}"), self.core.ports.backend
        assert card is not None and kind is not None
        self.call_backend("verify_proof", lambda: backend.verify_proof(
            rid, certificate_number=number, verification_code=code, card=card, proof_kind=kind), self._verified)

    def _verified(self, result: Any) -> None:
        if self.core.state != f"{P}.verify_proof" or self.backend_failed(result):
            return
        s, d = self.core.session, self.data
        if isinstance(result, bk.VerifiedProof):
            if result.assessment is not None:
                s.refusal = Refusal(result.assessment.reason)
            elif not result.address:  # nothing to declare: the address comes from the proof
                s.refusal = Refusal(Reason.PROOF_INVALID)
            else:
                d.proof = result
        else:
            s.refusal = Refusal(Reason.PROOF_INVALID)
        self.core.log.emit(LogEvent.PROOF_VERIFIED, session=s.id, presented=d.presented,
                           reason=s.refusal.reason if s.refusal is not None else Reason.OK)
        self.core.fire(RG.PROOF_VERIFIED)

    def enter_submit(self) -> None:
        s, d = self.core.session, self.data
        card, kind, proof, backend = s.identity, d.kind, d.proof, self.core.ports.backend
        assert card is not None and kind is not None and proof is not None and proof.address is not None
        relative = None
        if needs_relative(kind) and d.relationship is not None:
            relative = bk.Relative(d.relationship, "", promise_letter=d.letter_confirmed)
        address, reference, rid = proof.address, proof.reference, s.request_id("register")
        purpose = (d.purpose or Purpose.WORK).value

        def declare() -> Any:
            return backend.declare_registration(rid, card, address, kind, reference, relative, purpose=purpose)

        def declared(result: Any) -> None:
            # An answer lost after the request went out may hide a declaration already made: asked
            # again with the same request id, the backend answers the first time's answer (one receipt).
            if isinstance(result, bk.BackendFailure) and result.kind in LOST and not self._asked_again:
                self._asked_again = True
                self.call_backend("register", declare, declared)
                return
            self._declared(result)

        self._asked_again = False
        self.call_backend("register", declare, declared)

    def _declared(self, result: Any) -> None:
        if self.core.state != f"{P}.submit" or self.backend_failed(result):
            return
        s = self.core.session
        if isinstance(result, bk.RegistrationRefused):
            reg = result.registration
            # REG_CURRENT shows the last day of the registration still valid: add_months(declared, 12) - 1.
            s.refusal = Refusal(result.reason, reg.expires_on - timedelta(days=1) if reg is not None else None)
            self.core.fire(T.REFUSED)
            return
        if not isinstance(result, bk.Registered):
            s.fault_device = DeviceKind.BACKEND.value
            self.core.fire(T.FAULTED)
            return
        self.data.receipt = result.receipt
        s.end(Outcome.REGISTERED, Reason.OK)
        self.core.log.emit(LogEvent.REGISTRATION_DECLARED, session=s.id, kind=self.data.kind)
        self.core.fire(RG.DECLARED)

    def enter_receipt(self) -> None:
        self.data.receipt_deadline = self.core.clock.monotonic() + self.core.config.timeouts.receipt


def _keyed(digits: str, key: str, limit: int) -> str:
    if key == "del":
        return digits[:-1]
    if key.isdigit() and len(digits) < limit:
        return digits + key
    return digits
