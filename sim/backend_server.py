"""The emulated instant-approval backend (即申即批): HTTP JSON on loopback, population in SQLite.

    python -m sim.backend_server --db PATH --load residents.json --today 2026-11-22 \
        --policy shanghai --host 127.0.0.1 --port 0 [--faults faults.json] [--terminals T1,T2] \
        [--tls-cert server.pem --tls-key server.key [--client-ca ca.pem]]

Prints one JSON line {"port": N, "pid": P, "scheme": "http"|"https"} once it listens, serves until
SIGTERM/SIGINT and exits 0. The operations are sim/backend_ops.py, the faults sim/backend_faults.py;
the contract is docs/backend-api.yaml. With --client-ca every client must present a certificate that
CA signed (mutual TLS, as production runs). Log lines carry the operation, status, request id and
at most a masked ID number (SH-PRIV-1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.identity import mask_id
from kiosk.policy import load_pack
from sim.backend_faults import MALFORMED_BODY, FaultBoard, parse_faults
from sim.backend_ops import (
    MAX_BODY,
    OPS,
    ApiError,
    Backend,
    Reply,
    Settings,
    malformed,
    sim_face_matcher,
)
from sim.backend_store import BackendStore

log = logging.getLogger("sim.backend")
HANDSHAKE_TIMEOUT_S = 10.0  # a client that connects and says nothing must not hold a handler forever


# --- HTTP ---------------------------------------------------------------------------------

_BY_PERMIT = re.compile(r"^/v1/(issuances|permits)/([A-Za-z0-9]{1,32})/(confirm|void|endorsement|rewrite-confirm)$")
_BY_PERMIT_OPS = {
    ("issuances", "confirm"): "confirm",
    ("issuances", "void"): "void",
    ("permits", "endorsement"): "endorsement",
    ("permits", "rewrite-confirm"): "rewrite_confirm",
}
_ROUTES = {
    ("GET", "/v1/health"): "health",
    ("POST", "/v1/new-permit/precheck"): "precheck",
    ("POST", "/v1/new-permit/face-check"): "face_check",
    ("POST", "/v1/new-permit/applications"): "apply",
    ("POST", "/v1/registrations"): "register",
    ("POST", "/v1/proofs/verify"): "verify_proof",
    ("POST", "/v1/permits/lookup"): "lookup",
    ("POST", "/v1/status"): "status",
    ("GET", "/sim/records"): "sim_records",
    ("POST", "/sim/faults"): "sim_faults",
    ("DELETE", "/sim/faults"): "sim_faults_clear",
}
PERMIT_OPS = frozenset(_BY_PERMIT_OPS.values())


def route(method: str, path: str) -> tuple[str, str | None] | None:
    """(operation, permit number in the path) or None."""
    op = _ROUTES.get((method, path))
    if op is not None:
        return op, None
    m = _BY_PERMIT.match(path)
    if m and method == "POST":
        found = _BY_PERMIT_OPS.get((m.group(1), m.group(3)))
        if found is not None:
            return found, m.group(2)
    return None


def allowed_methods(path: str) -> tuple[str, ...]:
    return tuple(m for m in ("GET", "POST", "DELETE") if route(m, path) is not None)


def server_tls_context(cert: str, key: str, client_ca: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=client_ca)
    return context


def _masked(body: Any) -> str:
    if not isinstance(body, dict):
        return "-"
    card = body.get("card")
    number = card.get("id_number") if isinstance(card, dict) else body.get("id_number")
    return mask_id(number) if isinstance(number, str) else "-"


class BackendHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler asleep in a "slow" fault must not hold up shutdown

    def __init__(
        self, address: tuple[str, int], backend: Backend, faults: FaultBoard, tls: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(address, Handler)
        self.backend = backend
        self.faults = faults
        if tls is not None:
            # The handshake runs in the handler's thread (Handler.setup), so a slow or hostile client
            # cannot stall accept() for everyone else.
            self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def scheme(self) -> str:
        return "https" if isinstance(self.socket, ssl.SSLSocket) else "http"

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
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_TIMEOUT_S)
            self.request.do_handshake()  # a failure (no or bad client certificate) ends in handle_error
            self.request.settimeout(None)
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def __getattr__(self, name: str) -> Any:
        # Any other method token (PUT, TRACE, QUERY, ...) answers in the contract's own terms (405 on a
        # documented path, else 404, JSON), not with the standard library's HTML 501 page.
        if name.startswith("do_"):
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

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
            body = json.loads(raw)
            # A lone surrogate (valid JSON escape, invalid text) could be neither stored nor answered.
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (UnicodeError, json.JSONDecodeError, RecursionError):
            raise malformed("body") from None
        return body

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        found = route(method, path)
        op, permit_number = found if found else ("unknown", None)
        body: Any = None
        fault = self.server.faults.take(op) if op in OPS else None
        allowed = allowed_methods(path) if found is None else ()
        if found is None:  # nothing of the body matters on a path or method the contract does not have
            reply = Reply(405, {"error": "METHOD_NOT_ALLOWED"}) if allowed else Reply(404, {"error": "NOT_FOUND"})
            self._drain()
        elif fault is not None and fault.kind == "error_500":
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
        extra = {"Allow": ", ".join(allowed)} if allowed else {}
        self._send(reply.status, json.dumps(reply.body, ensure_ascii=False).encode(), extra)

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
        if not isinstance(body, dict):
            raise malformed("body")
        if op in PERMIT_OPS:
            assert permit_number is not None
            return getattr(backend, op)(permit_number, body)
        return getattr(backend, op)(body)

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has headers only
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
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--client-ca", help="require client certificates signed by this CA (PEM): mutual TLS")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key) or (args.client_ca and not args.tls_cert):
        parser.error("--tls-cert and --tls-key go together, and --client-ca needs them")

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
    tls = server_tls_context(args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    server = BackendHTTPServer((args.host, args.port), Backend(store, settings, sim_face_matcher()), faults, tls)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    print(json.dumps({"port": server.server_address[1], "pid": os.getpid(), "scheme": server.scheme}), flush=True)
    log.info("serving port=%d scheme=%s policy=%s today=%s", server.server_address[1], server.scheme,
             settings.pack.city, settings.today)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    store.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
