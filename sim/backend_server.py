"""The emulated instant-approval backend (即申即批): HTTP JSON on loopback, population in SQLite.

    python -m sim.backend_server --db PATH --load residents.json --today 2026-11-22 \
        --policy shanghai --host 127.0.0.1 --port 0 [--faults faults.json] [--terminals T1,T2]

Prints one JSON line {"port": N, "pid": P} once it listens, serves until SIGTERM/SIGINT and exits 0.
The decisions come from kiosk.policy, so kiosk and backend cannot disagree; the face check is an
honest stand-in for the authority's face service (sim.faces). The contract is docs/backend-api.yaml.
Log lines carry the operation, status, request id and at most a masked ID number (SH-PRIV-1).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import io
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from kiosk.identity import CardType, Identity, Sex, mask_id
from kiosk.policy import (
    NEW_PERMIT_ORDER,
    PolicyPack,
    Refusal,
    first_refusal,
    id_card_refusals,
    load_pack,
    new_permit_validity,
    record_refusals,
)
from kiosk.reasons import Reason
from kiosk.records import Holder, Registration
from sim.backend_store import BackendStore, IssuanceState, Resident

log = logging.getLogger("sim.backend")

OPS = ("health", "precheck", "face_check", "apply", "confirm", "void")
FAULT_KINDS = ("error_500", "slow", "drop", "malformed")
MAX_BODY = 8 * 1024 * 1024  # a permit photo as PNG in base64 stays far below this
PERMIT_PREFIX = {"shanghai": "SH", "beijing": "BJ"}
KNOWN_TERMINAL_PREFIXES = ("SH-", "BJ-")
PHONE = re.compile(r"^1\d{10}$")
# Valid HTTP, broken JSON: what a confused proxy or a half-written reply looks like to the kiosk.
MALFORMED_BODY = b'{"approved": tru\x00<html>502'

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


# --- faults -------------------------------------------------------------------------------


@dataclass  # not frozen: FaultBoard counts `remaining` down, under its lock
class Fault:
    op: str
    kind: str
    delay_s: float = 0.0
    remaining: int | None = None  # None: every matching request until cleared

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise malformed("fault")
        op, kind = spec.get("op"), spec.get("kind")
        if op != "*" and op not in OPS:
            raise malformed("op")
        if kind not in FAULT_KINDS:
            raise malformed("kind")
        delay = spec.get("delay_s", 0.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
            raise malformed("delay_s")
        count = spec.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise malformed("count")
        return cls(op, kind, float(delay), count)

    def as_json(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "delay_s": self.delay_s, "count": self.remaining}


class FaultBoard:
    """Faults waiting for their operation; the first matching one is used up per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.op in (op, "*"):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]


def parse_faults(spec: Any) -> list[Fault]:
    return [Fault.parse(s) for s in spec] if isinstance(spec, list) else [Fault.parse(spec)]


# --- request fields -----------------------------------------------------------------------


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
    except (binascii.Error, ValueError, OSError):
        raise malformed(key) from None
    if image.format != "PNG":
        raise malformed(key)
    return image.convert("RGB")


def refusal_json(refusal: Refusal) -> dict[str, Any]:
    return {
        "reason": refusal.reason.value,
        "available_on": refusal.available_on.isoformat() if refusal.available_on else None,
    }


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
                return Reply(404, {"error": "UNKNOWN_PERMIT"})
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
                return Reply(404, {"error": "UNKNOWN_PERMIT"})
            if issuance.state is IssuanceState.ISSUED:
                return Reply(409, {"error": "ISSUANCE_STATE", "state": issuance.state.value})
            self.store.set_issuance(permit_number, IssuanceState.VOIDED, void_reason=reason.value)
            return Reply(200, {"permit_number": permit_number, "state": IssuanceState.VOIDED.value})

        return self._idempotent("void", request_id, [permit_number, body], run)


# --- HTTP ---------------------------------------------------------------------------------

_ISSUANCE = re.compile(r"^/v1/issuances/([A-Za-z0-9]{1,32})/(confirm|void)$")
_ROUTES = {
    ("GET", "/v1/health"): "health",
    ("POST", "/v1/new-permit/precheck"): "precheck",
    ("POST", "/v1/new-permit/face-check"): "face_check",
    ("POST", "/v1/new-permit/applications"): "apply",
    ("GET", "/sim/records"): "sim_records",
    ("POST", "/sim/faults"): "sim_faults",
    ("DELETE", "/sim/faults"): "sim_faults_clear",
}


def route(method: str, path: str) -> tuple[str, str | None] | None:
    op = _ROUTES.get((method, path))
    if op is not None:
        return op, None
    m = _ISSUANCE.match(path)
    if m and method == "POST":
        return m.group(2), m.group(1)
    return None


def _masked(body: Any) -> str:
    if not isinstance(body, dict):
        return "-"
    card = body.get("card")
    number = card.get("id_number") if isinstance(card, dict) else body.get("id_number")
    return mask_id(number) if isinstance(number, str) else "-"


class BackendHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler asleep in a "slow" fault must not hold up shutdown

    def __init__(self, address: tuple[str, int], backend: Backend, faults: FaultBoard) -> None:
        super().__init__(address, Handler)
        self.backend = backend
        self.faults = faults

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback to stderr; a client that hung up is not worth more than a line.
        log.warning("connection error %s", type(sys.exc_info()[1]).__name__)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the kiosk reuses one connection
    # Headers and body leave in one write per reply (flushed by handle_one_request): written apart,
    # Nagle holds the body back until the client's delayed ACK, 40 ms a request.
    wbufsize = 64 * 1024
    server: BackendHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line is logged by _dispatch in its own, personal-data-free form

    def _read_body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise malformed("body")
        raw = self.rfile.read(length) if length else b""
        if self.command == "GET" or self.command == "DELETE":
            return {}
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise malformed("body") from None

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        found = route(method, path)
        op, permit_number = found if found else ("unknown", None)
        body: Any = None
        fault = self.server.faults.take(op) if op in OPS else None
        if fault is not None and fault.kind == "error_500":
            reply = Reply(500, {"error": "INTERNAL"})  # failed before doing anything: a retry is clean
            self._drain()
        else:
            try:
                body = self._read_body()
                reply = self._run(op, permit_number, body)
            except ApiError as exc:
                reply = exc.reply
            except Exception as exc:  # a bug must answer 500, and its message may hold personal data
                log.error("op=%s internal error %s", op, type(exc).__name__)
                reply = Reply(500, {"error": "INTERNAL"})
        kind = fault.kind if fault else "-"
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay_s)  # the emulated slowness itself
        log.info(
            "op=%s status=%s id=%s fault=%s ms=%d", op, reply.status, _masked(body), kind,
            (time.monotonic() - started) * 1000,
        )
        if fault is not None and fault.kind == "drop":
            self.close_connection = True  # processed, but the answer is lost on the way
            return
        if fault is not None and fault.kind == "malformed":
            self._send(200, MALFORMED_BODY)
            return
        self._send(reply.status, json.dumps(reply.body, ensure_ascii=False).encode())

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)

    def _run(self, op: str, permit_number: str | None, body: Any) -> Reply:
        backend = self.server.backend
        if op == "health":
            return backend.health()
        if op == "sim_records":
            return Reply(200, backend.store.records())
        if op == "sim_faults_clear":
            self.server.faults.clear()
            return Reply(200, {"faults": []})
        if op == "sim_faults":
            self.server.faults.add(parse_faults(body))
            return Reply(200, {"faults": self.server.faults.snapshot()})
        if op == "unknown":
            return Reply(404, {"error": "NOT_FOUND"})
        if not isinstance(body, dict):
            raise malformed("body")
        if op in ("confirm", "void"):
            assert permit_number is not None
            return getattr(backend, op)(permit_number, body)
        return getattr(backend, op)(body)

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout on its side)


# --- command line -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.backend_server", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--load", help="residents JSON file to load at start")
    parser.add_argument("--today", required=True, type=date.fromisoformat, help="the backend's date (ISO)")
    parser.add_argument("--policy", default="shanghai", help="policy pack name in config/policy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", help="JSON list of faults active from the start")
    parser.add_argument("--terminals", default="", help="extra terminal ids, comma-separated")
    parser.add_argument("--log-file", help="write the log here instead of stderr")
    args = parser.parse_args(argv)

    handler: logging.Handler = (
        logging.FileHandler(args.log_file, encoding="utf-8")
        if args.log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    store = BackendStore(args.db)
    if args.load:
        count = store.load_file(args.load)
        log.info("loaded residents=%d", count)
    faults = FaultBoard()
    if args.faults:
        faults.add(parse_faults(json.loads(Path(args.faults).read_text(encoding="utf-8"))))
    settings = Settings(
        today=args.today, pack=load_pack(args.policy),
        terminals=frozenset(t for t in args.terminals.split(",") if t),
    )
    server = BackendHTTPServer((args.host, args.port), Backend(store, settings, sim_face_matcher()), faults)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    print(json.dumps({"port": server.server_address[1], "pid": os.getpid()}), flush=True)
    log.info("serving port=%d policy=%s today=%s", server.server_address[1], settings.pack.city,
             settings.today)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    store.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
