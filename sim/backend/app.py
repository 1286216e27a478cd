"""The HTTP side: a Starlette application (served by uvicorn, sim/backend_server.py).

Per request: the route (404 off the document, 405 with Allow for another method), a fault that
strikes, the body (JSON, at most MAX_BODY), the envelope (request id and terminal id as the
document has them, then the terminal: 403), the whole request against docs/backend-api.yaml
(400 with the first bad field), the operation, and its reply checked against the document (a
reply off it is a bug of this emulator: 500 and a line on stderr). Log lines carry the
operation, status, fault, time and at most a masked ID number (SH-PRIV-1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sim.backend.contract import Contract, ContractError
from sim.backend.faults import MALFORMED_BODY, OPS, Fault, FaultBoard, FaultError, FaultKind, parse_faults
from sim.backend.ops import MAX_BODY, Backend, BadRequest, Call, Reply
from sim.backend.vocab import mask

log = logging.getLogger("sim.backend")
PERMIT_NUMBER = re.compile(r"[A-Za-z0-9]{1,32}")
# (path, methods, operation per method): the document's paths, nothing else.
TABLE: tuple[tuple[str, dict[str, str]], ...] = (
    ("/v1/health", {"GET": "health"}),
    ("/v1/new-permit/precheck", {"POST": "precheck"}),
    ("/v1/new-permit/face-check", {"POST": "face_check"}),
    ("/v1/new-permit/applications", {"POST": "apply"}),
    ("/v1/new-permit/applications/void", {"POST": "void_application"}),
    ("/v1/issuances/{permit_number}/confirm", {"POST": "confirm"}),
    ("/v1/issuances/{permit_number}/void", {"POST": "void"}),
    ("/v1/registrations", {"POST": "register"}),
    ("/v1/proofs/verify", {"POST": "verify_proof"}),
    ("/v1/permits/lookup", {"POST": "lookup"}),
    ("/v1/permits/{permit_number}/endorsement", {"POST": "endorsement"}),
    ("/v1/permits/{permit_number}/rewrite-confirm", {"POST": "rewrite_confirm"}),
    ("/v1/status", {"POST": "status"}),
    ("/sim/records", {"GET": "sim_records"}),
    ("/sim/faults", {"POST": "sim_faults", "DELETE": "sim_faults_clear"}),
)
NOT_FOUND = {"error": "NOT_FOUND"}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status, headers=headers)


def _masked(body: Any) -> str:
    if not isinstance(body, dict):
        return "-"
    card = body.get("card")
    number = card.get("id_number") if isinstance(card, dict) else body.get("id_number")
    return mask(number) if isinstance(number, str) else "-"


class _Malformed(Exception):
    def __init__(self, field: str, close: bool = False) -> None:
        super().__init__(field)
        self.field, self.close = field, close


async def _read_json(request: Request) -> Any:
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        length = -1
    if length < 0 or length > MAX_BODY:
        raise _Malformed("body", close=True)
    raw = await request.body()
    if request.method in ("GET", "DELETE"):
        return {}
    try:
        body = json.loads(raw)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate: valid JSON, invalid text
    except (UnicodeError, ValueError, RecursionError):
        raise _Malformed("body") from None
    return body


class Service:
    """The application's state: the backend, its faults, the document."""

    def __init__(self, backend: Backend, faults: FaultBoard, contract: Contract) -> None:
        self.backend, self.faults, self.contract = backend, faults, contract

    async def handle(self, request: Request, op: str) -> Response:
        started = time.monotonic()
        number = request.path_params.get("permit_number")
        if number is not None and not PERMIT_NUMBER.fullmatch(number):
            return _json(404, NOT_FOUND)
        fault = self.faults.take(op) if op in OPS else None
        body: Any = None
        try:
            if fault is not None and fault.kind is FaultKind.ERROR_500:
                await request.body()
                reply = Reply(500, {"error": "INTERNAL"})  # failed before doing anything: a retry is clean
            else:
                body = await _read_json(request)
                reply = await self._run(op, number, body, fault)
        except _Malformed as exc:
            reply = Reply(400, {"error": "MALFORMED_REQUEST", "field": exc.field})
            if exc.close:
                return _json(400, reply.body, {"Connection": "close"})
        kind = fault.kind.value if fault else "-"
        if fault is not None and fault.kind is FaultKind.SLOW:
            await asyncio.sleep(fault.delay_s)
        log.info("op=%s status=%s id=%s fault=%s ms=%d", op, reply.status, _masked(body), kind,
                 (time.monotonic() - started) * 1000)
        if fault is not None and fault.kind is FaultKind.DROP:
            _drop(request.scope)  # done, but the answer is lost on the way
        if fault is not None and fault.kind is FaultKind.MALFORMED:
            return Response(MALFORMED_BODY, 200, media_type="application/json")
        return _json(reply.status, reply.body)

    async def _run(self, op: str, number: str | None, body: Any, fault: Fault | None) -> Reply:
        backend = self.backend
        if op == "health":
            return backend.health()
        if op == "sim_records":
            return Reply(200, await to_thread.run_sync(backend.store.records))
        if op == "sim_faults_clear":
            self.faults.clear()
            return Reply(200, {"faults": []})
        try:
            if op == "sim_faults":
                self.contract.check_request(op, body)
                self.faults.add(parse_faults(body))
                return Reply(200, {"faults": self.faults.snapshot()})
            if not isinstance(body, dict):
                raise _Malformed("body")
            self.contract.check_part("RequestId", body.get("request_id"), "request_id")
            self.contract.check_part("TerminalId", body.get("terminal_id"), "terminal_id")
            if not backend.known_terminal(body["terminal_id"]):
                return Reply(403, {"error": "UNKNOWN_TERMINAL"})  # and nothing else is checked
            self.contract.check_request(op, body)
        except (ContractError, FaultError) as exc:
            raise _Malformed(exc.field) from None
        call = Call(body, number, drift=fault is not None and fault.kind is FaultKind.POLICY_DRIFT)
        try:
            return await to_thread.run_sync(backend.serve, op, call)
        except BadRequest as exc:
            raise _Malformed(exc.field) from None
        except ContractError as exc:  # this emulator's own bug: say so plainly, answer 500
            line = f"sim.backend: BUG: reply off docs/backend-api.yaml op={op} at {exc.field} ({exc.detail})"
            log.error(line)
            print(line, file=sys.stderr, flush=True)
            return Reply(500, {"error": "INTERNAL"})
        except Exception as exc:  # a bug must answer 500; its message may hold personal data
            log.error("op=%s internal error %s", op, type(exc).__name__)
            return Reply(500, {"error": "INTERNAL"})


def _drop(scope: Scope) -> None:
    """Close the connection with no answer (uvicorn's h11 cycle, captured by _KeepTransport)."""
    cycle = scope.get("sim.cycle")
    if cycle is not None:
        cycle.disconnected = True  # uvicorn writes nothing more for this request
        cycle.transport.close()


class _KeepTransport:
    """Outermost: remember uvicorn's request cycle, so that a `drop` fault can close the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = getattr(send, "__self__", None)
        if scope["type"] == "http" and hasattr(cycle, "transport") and hasattr(cycle, "disconnected"):
            scope["sim.cycle"] = cycle
        await self.app(scope, receive, send)


def allowed(path: str) -> list[str]:
    for template, methods in TABLE:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
            return sorted(methods)
    return []


def build_app(service: Service) -> ASGIApp:
    def endpoint(methods: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            op = methods.get(request.method)
            if op is None:  # HEAD, which Starlette adds beside GET
                raise HTTPException(405)
            return await service.handle(request, op)

        return run

    async def not_found_or_method(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            methods = allowed(request.url.path)
            return _json(405, {"error": "METHOD_NOT_ALLOWED"}, {"Allow": ", ".join(methods)})
        return _json(404, NOT_FOUND) if status == 404 else _json(500, {"error": "INTERNAL"})

    routes = [Route(path, endpoint(methods), methods=list(methods)) for path, methods in TABLE]
    app = Starlette(routes=routes, exception_handlers={404: not_found_or_method, 405: not_found_or_method})
    return _KeepTransport(app)
