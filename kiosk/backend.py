"""The kiosk's only way to the instant-approval backend (即申即批), per docs/backend-api.yaml.

Every call returns a typed result. Network and server trouble come back as a BackendFailure,
never as an exception: the caller is a worker thread whose result becomes one event for the
state machine, and an exception there would be an event lost.

Every operation carries the caller's request id and the backend answers a replay with its first
answer, so a call that failed to connect or got a 5xx is retried with the same id (bounded, with
backoff). A timeout or a dropped connection is not retried here: the request may still be
running on the backend, and the caller decides (with the same id) when to ask again.
Log lines hold the operation, request id and disposition, never personal data (SH-PRIV-1).
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from kiosk.identity import Identity
from kiosk.policy import NEW_PERMIT_ORDER, Refusal
from kiosk.reasons import Reason

log = logging.getLogger("kiosk.backend")
T = TypeVar("T")


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"  # no connection, or the connection was lost before an answer
    TIMEOUT = "timeout"  # connected, but no answer within the read timeout
    SERVER_ERROR = "server_error"  # 5xx after the retries
    BAD_REPLY = "bad_reply"  # an answer that does not match the contract
    REFUSED_REQUEST = "refused_request"  # 4xx: the backend would not take the request as sent


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
    ) -> None:
        self.terminal_id = terminal_id
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
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

    # --- transport ----------------------------------------------------------------------

    def _call(
        self, op: str, path: str, request_id: str, body: dict[str, Any], read: Callable[[dict[str, Any]], T]
    ) -> T | BackendFailure:
        envelope = {"request_id": request_id, "terminal_id": self.terminal_id} | body
        reply = self._exchange(op, "POST", path, envelope, request_id, attempts=1 + self._retries)
        if isinstance(reply, BackendFailure):
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
        except (httpx.ConnectError, httpx.ConnectTimeout):  # the request never left
            return _Failed(BackendFailure(FailureKind.UNREACHABLE), retryable=True)
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


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None
