"""The backend client: one reused HTTP connection, retries with the same request id, typed results.

Every call returns a typed result. Network and server trouble come back as a BackendFailure,
never as an exception: the caller is a worker thread whose result becomes one event for the
state machine, and an exception there would be an event lost.

A call that failed to connect or got a 5xx is retried with the same request id (bounded, with
backoff); the backend answers a replay with its first answer. A timeout or a dropped connection
is not retried here: the request may still be running on the backend, and the caller decides
(with the same id) when to ask again. Each exchange is logged through the catalog (`log`):
operation, request id, disposition, attempts and time, never a request's body (SH-PRIV-1).
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from kiosk.backend_tls import is_tls_refusal, refusal_cause, tls_cause, tls_verify
from kiosk.backend_types import (
    ApplicationVoided,
    Approval,
    BackendFailure,
    Confirmed,
    EndorsementCheck,
    FaceCheck,
    FailureKind,
    PermitRecord,
    Precheck,
    ProofRejected,
    Registered,
    RegistrationRefused,
    Relative,
    Rewritten,
    StatusReport,
    UnknownPermit,
    VerifiedProof,
    Voided,
)
from kiosk.backend_wire import (
    BadReply,
    as_object,
    card_json,
    check_issuance_state,
    date_field,
    decode_application,
    decode_endorsement,
    decode_face,
    decode_permit_record,
    decode_precheck,
    decode_proof,
    decode_registration,
    decode_status,
    text_field,
)
from kiosk.endorsement import Rewrite
from kiosk.identity import Identity
from kiosk.logevents import EventLog, LogEvent
from kiosk.policy import Refusal
from kiosk.reasons import Reason
from kiosk.records import ProofKind

T = TypeVar("T")
__all__ = ["MAX_REPLY_BYTES", "BackendClient", "tls_verify"]

# The largest documented answer is a few kB: a body past this is hostile or broken (issue 15).
MAX_REPLY_BYTES = 1 << 20


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
        log: EventLog | None = None,
    ) -> None:
        """`verify`: True (system CAs), False, a CA bundle path or an SSLContext; `cert`: the terminal's
        client certificate (PEM path with the key inside, or (cert, key)) for mutual TLS. Both only
        matter for an https base_url and when no `transport` is given. `log`: where each exchange
        is logged (BACKEND_ANSWERED, BACKEND_FAILED, BACKEND_BAD_REPLY); None logs nothing."""
        self.terminal_id = terminal_id
        self._log = log
        self._retries = retries
        self._backoff_s = backoff_s
        # httpx's read timeout bounds each read, not a reply dripped a byte at a time (issue 15).
        self._reply_deadline_s = connect_timeout + read_timeout
        # Our certificate, to name why a server refused it (kiosk/backend_tls.py, refusal_cause).
        self._cert_file = None if cert is None or transport is not None else cert if isinstance(cert, str) else cert[0]
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            # A plain-http base URL never speaks TLS (httpx follows no redirect): no CA bundle to
            # load, which cost 20-50 ms of CPU at every kiosk start (every whole-session test's).
            verify=tls_verify(verify, cert) if base_url.lower().startswith("https:") else False,
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
        return self._call("precheck", "/v1/new-permit/precheck", request_id, body, decode_precheck)

    def face_check(self, request_id: str, card: Identity, photo_png: bytes) -> FaceCheck | BackendFailure:
        body = {"id_number": card.id_number, "photo_png": base64.b64encode(photo_png).decode("ascii")}
        return self._call("face_check", "/v1/new-permit/face-check", request_id, body, decode_face)

    def apply(
        self, request_id: str, card: Identity, lives_at_registered_address: bool, phone: str, photo_png: bytes
    ) -> Approval | Refusal | BackendFailure:
        body = {
            "card": card_json(card),
            "lives_at_registered_address": lives_at_registered_address,
            "phone": phone,
            "photo_png": base64.b64encode(photo_png).decode("ascii"),
        }
        return self._call("apply", "/v1/new-permit/applications", request_id, body, decode_application)

    def confirm_issuance(
        self, request_id: str, permit_number: str, card_serial: str | None
    ) -> Confirmed | BackendFailure:
        def read(data: dict[str, Any]) -> Confirmed:
            check_issuance_state(data, permit_number, "issued")
            return Confirmed(permit_number)

        path = f"/v1/issuances/{quote(permit_number, safe='')}/confirm"
        return self._call("confirm", path, request_id, {"card_serial": card_serial}, read)

    def void_issuance(self, request_id: str, permit_number: str, reason: Reason) -> Voided | BackendFailure:
        def read(data: dict[str, Any]) -> Voided:
            check_issuance_state(data, permit_number, "voided")
            return Voided(permit_number)

        path = f"/v1/issuances/{quote(permit_number, safe='')}/void"
        return self._call("void", path, request_id, {"reason": reason.value}, read)

    def void_application(self, request_id: str, application_request_id: str,
                         reason: Reason) -> ApplicationVoided | BackendFailure:
        """Withdraw the application sent as `application_request_id`, answered or not."""

        def read(data: dict[str, Any]) -> ApplicationVoided:
            state = data.get("state")
            number = data.get("permit_number")
            if data.get("application_request_id") != application_request_id or state not in (
                    "voided", "refused", "unseen") or not (number is None or isinstance(number, str)) or (
                    (state == "voided") != isinstance(number, str)):
                raise BadReply("application_void")
            return ApplicationVoided(application_request_id, str(state), number)

        body = {"application_request_id": application_request_id, "reason": reason.value}
        return self._call("void_application", "/v1/new-permit/applications/void", request_id, body, read)

    def declare_registration(
        self, request_id: str, card: Identity, address: str, proof_kind: ProofKind, proof_reference: str,
        relative: Relative | None = None, purpose: str | None = None,
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
                "promise_letter": relative.promise_letter,
            }
            if relative.name:  # the kiosk does not ask it: the proof names the holder
                body["relative"]["name"] = relative.name
        if purpose is not None:
            body["purpose"] = purpose
        return self._call("register", "/v1/registrations", request_id, body, decode_registration)

    def verify_proof(
        self, request_id: str, *, qr_payload: str | None = None, certificate_number: str | None = None,
        verification_code: str | None = None, card: Identity | None = None, proof_kind: ProofKind | None = None,
    ) -> VerifiedProof | ProofRejected | BackendFailure:
        """A residence proof by the payload of its QR code or by its number (exactly one), the number
        with the code its QR code carries when it was scanned; with the declarant's card and the kind
        chosen, the reply assesses the proof for them (VerifiedProof.assessment)."""
        if (qr_payload is None) == (certificate_number is None):
            raise ValueError("verify_proof: give exactly one of qr_payload and certificate_number")
        if (card is None) != (proof_kind is None):
            raise ValueError("verify_proof: give both or neither of card and proof_kind")
        body: dict[str, Any] = (
            {"qr_payload": qr_payload} if qr_payload is not None else {"certificate_number": certificate_number})
        if verification_code is not None:
            body["verification_code"] = verification_code
        if card is not None and proof_kind is not None:
            body |= {"card": card_json(card), "proof_kind": proof_kind.value}
        return self._call("verify_proof", "/v1/proofs/verify", request_id, body, decode_proof)

    def lookup_permit(
        self, request_id: str, permit_number: str, id_number: str
    ) -> PermitRecord | UnknownPermit | BackendFailure:
        """The permit record behind a card's chip data (permit number and holder's ID number)."""
        body = {"permit_number": permit_number, "id_number": id_number}
        return self._call("lookup", "/v1/permits/lookup", request_id, body, decode_permit_record,
                          unknown=lambda: UnknownPermit(permit_number))

    def check_endorsement(
        self, request_id: str, permit_number: str, id_number: str, card_valid_until: date
    ) -> EndorsementCheck | UnknownPermit | BackendFailure:
        """The endorsement state and the rewrite decision for a card showing `card_valid_until`."""
        def read(data: dict[str, Any]) -> EndorsementCheck:
            check = decode_endorsement(data)
            if check.permit.number != permit_number or check.card_valid_until != card_valid_until:
                raise BadReply("permit")
            return check

        path = f"/v1/permits/{quote(permit_number, safe='')}/endorsement"
        body = {"id_number": id_number, "card_valid_until": card_valid_until.isoformat()}
        return self._call("endorsement", path, request_id, body, read, unknown=lambda: UnknownPermit(permit_number))

    def confirm_rewrite(
        self, request_id: str, permit_number: str, card_serial: str, rewrite: Rewrite
    ) -> Rewritten | BackendFailure:
        """The card now shows `rewrite`; the backend records it (409 VALIDITY_MISMATCH if not its own)."""
        def read(data: dict[str, Any]) -> Rewritten:
            done = Rewritten(text_field(data, "permit_number"), date_field(data, "card_valid_from"),
                             date_field(data, "card_valid_until"))
            if done != Rewritten(permit_number, rewrite.valid_from, rewrite.valid_until):
                raise BadReply("rewrite")
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
        return self._call("status", "/v1/status", request_id, {"card": card_json(card)}, decode_status)

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
            return read(as_object(reply))
        except BadReply as exc:
            self._emit(LogEvent.BACKEND_BAD_REPLY, op=op, request_id=request_id, field=str(exc))
            return BackendFailure(FailureKind.BAD_REPLY, status=200)

    def _exchange(
        self, op: str, method: str, path: str, body: dict[str, Any] | None, request_id: str, *, attempts: int
    ) -> Any:
        """The decoded JSON of a 200 answer, or a BackendFailure."""
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            outcome = self._once(method, path, body)
            if not isinstance(outcome, _Failed):
                self._emit(LogEvent.BACKEND_ANSWERED, op=op, request_id=request_id, attempts=attempt,
                           ms=_ms_since(started))
                return outcome
            if not (outcome.retryable and attempt < attempts):
                break
            time.sleep(self._backoff_s * 2 ** (attempt - 1))  # backoff between retries, not a race fix
        failure = outcome.failure
        if outcome.tls is not None:
            self._emit(LogEvent.BACKEND_TLS_FAILED, op=op, cause=outcome.tls)
        self._emit(LogEvent.BACKEND_FAILED, op=op, request_id=request_id, disposition=failure.kind.value,
                   status=failure.status, attempts=attempt, ms=_ms_since(started))
        return failure

    def _emit(self, event: LogEvent, **values: Any) -> None:
        if self._log is not None:
            self._log.emit(event, **values)

    def _once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """One attempt: the decoded JSON of a 200 answer, or _Failed."""
        started, started_reply = time.monotonic(), False
        try:
            with self._http.stream(method, path, json=body) as response:
                status, started_reply = response.status_code, True
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_REPLY_BYTES:
                        return _Failed(BackendFailure(FailureKind.BAD_REPLY, status=status), retryable=False)
                    if time.monotonic() - started > self._reply_deadline_s:
                        return _Failed(BackendFailure(FailureKind.TIMEOUT, status=status), retryable=False)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # the request never left
            # A certificate the other side will not accept stays unacceptable: retrying only delays.
            return _Failed(BackendFailure(FailureKind.UNREACHABLE), retryable=not is_tls_refusal(exc),
                           tls=tls_cause(exc))
        except httpx.TimeoutException:
            return _Failed(BackendFailure(FailureKind.TIMEOUT), retryable=False)
        except httpx.DecodingError:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY), retryable=False)
        except httpx.RequestError as exc:  # the connection broke after the request went out
            # ... or the server refused our certificate after the handshake (TLS 1.3 sends its alert then).
            cause = tls_cause(exc)
            if cause is None and self._cert_file and isinstance(exc, httpx.RemoteProtocolError) and not started_reply:
                cause = refusal_cause(self._cert_file)
            return _Failed(BackendFailure(FailureKind.UNREACHABLE), retryable=False, tls=cause)
        if status >= 500:
            return _Failed(BackendFailure(FailureKind.SERVER_ERROR, status=status), retryable=True)
        if status >= 400:
            failure = BackendFailure(FailureKind.REFUSED_REQUEST, status=status, error=_error_code(bytes(raw)))
            return _Failed(failure, retryable=False)
        if status != 200:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY, status=status), retryable=False)
        try:
            return _json(bytes(raw))
        except ValueError:
            return _Failed(BackendFailure(FailureKind.BAD_REPLY, status=status), retryable=False)


def _json(raw: bytes) -> Any:
    """The decoded body; ValueError for anything that is not JSON, nested too deep included."""
    try:
        return json.loads(raw)
    except RecursionError:  # "[[[[..." a hundred thousand deep: hostile, not a crash (issue 15)
        raise ValueError("nested too deep") from None


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class _Failed:
    failure: BackendFailure
    retryable: bool  # only what surely or harmlessly failed: no connection, or a 5xx of an idempotent call
    tls: str | None = None  # why the TLS handshake failed (kiosk/backend_tls.py), if it did


def _error_code(raw: bytes) -> str | None:
    try:
        data = _json(raw)
    except ValueError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None

