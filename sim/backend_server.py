"""The emulated instant-approval backend (即申即批) on uvicorn: HTTP JSON on loopback, SQLite.

    python -m sim.backend_server --db PATH --load residents.json --today 2026-11-22 \\
        --policy shanghai --host 127.0.0.1 --port 0 [--faults faults.json] [--terminals T1,T2] \\
        [--log-file PATH] [--tls-cert server.pem --tls-key server.key [--client-ca ca.pem]]

Prints one JSON line {"port": N, "pid": P, "scheme": "http"|"https"} once it listens, serves until
SIGTERM/SIGINT and exits 0. The backend itself is the package sim/backend (its own reading of
RULES.md; it imports nothing of the kiosk); the contract is docs/backend-api.yaml. With
--client-ca every client must present a certificate that CA signed (mutual TLS, as production).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn

from sim.backend.app import Service, build_app
from sim.backend.contract import Contract
from sim.backend.face import synthetic_matcher
from sim.backend.faults import FaultBoard, FaultError, parse_faults
from sim.backend.load import load_file
from sim.backend.ops import Backend, Settings
from sim.backend.rules import load_pack
from sim.backend.store import Store

log = logging.getLogger("sim.backend")


class _Server(uvicorn.Server):
    """uvicorn, with the ready line once it listens and our own signal handling (exit status 0)."""

    def __init__(self, config: uvicorn.Config, scheme: str) -> None:
        super().__init__(config)
        self.scheme = scheme
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def request_exit(self) -> None:
        """From the signal handler: stop now, not at uvicorn's next 0.1 s look at should_exit."""
        self.should_exit = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Not uvicorn's graceful wait (a fixed 0.1 s, then the open connections): each request's
        # records are committed before its reply, and a stop comes when the test is done with us.
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()

    async def main_loop(self) -> None:
        # uvicorn's own sleeps 0.1 s between looks at should_exit (most of a test's backend stop).
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while not await self.on_tick(0):  # tick 0: the Date header is made anew each second
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # main() installs the handlers; uvicorn's would re-raise the signal after shutdown

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.should_exit:
            return
        port = (sockets or [])[0].getsockname()[1] if sockets else self.config.port
        print(json.dumps({"port": port, "pid": os.getpid(), "scheme": self.scheme}), flush=True)
        log.info("serving port=%d scheme=%s", port, self.scheme)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sim.backend_server", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--load", help="population JSON file to load at start")
    parser.add_argument("--today", required=True, type=date.fromisoformat, help="the backend's date (ISO)")
    parser.add_argument("--policy", default="shanghai", help="policy pack name in config/policy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", help="JSON list of faults active from the start")
    parser.add_argument("--terminals", default="", help="extra terminal ids, comma-separated")
    parser.add_argument("--approval-ttl-s", type=float, default=72 * 3600.0,
                        help="an approval neither confirmed nor voided lapses after this long")
    parser.add_argument("--log-file", help="write the log here instead of stderr")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    parser.add_argument("--tls-key", help="the private key of --tls-cert (PEM)")
    parser.add_argument("--client-ca", help="require client certificates signed by this CA (PEM): mutual TLS")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key) or (args.client_ca and not args.tls_cert):
        parser.error("--tls-cert and --tls-key go together, and --client-ca needs them")
    return args


def _logging(log_file: str | None) -> None:
    handler: logging.Handler = (logging.FileHandler(log_file, encoding="utf-8") if log_file
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("sim.backend", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if name == "sim.backend" else logging.WARNING)
        logger.propagate = False


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made with an explicit IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted
    sockets only then, and without it Nagle and the client's delayed ACK cost 40 ms a reply."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    _logging(args.log_file)
    store = Store(args.db)
    if args.load:
        log.info("loaded residents=%d", load_file(store, args.load))
    faults = FaultBoard()
    if args.faults:
        try:
            faults.add(parse_faults(json.loads(Path(args.faults).read_text(encoding="utf-8"))))
        except FaultError as exc:
            print(f"sim.backend: --faults: bad {exc.field}", file=sys.stderr)
            return 2
    contract = Contract()
    settings = Settings(today=args.today, pack=load_pack(args.policy),
                        terminals=frozenset(t for t in args.terminals.split(",") if t),
                        approval_ttl_s=args.approval_ttl_s)
    service = Service(Backend(store, settings, synthetic_matcher(), contract), faults, contract)

    sock = _listen(args.host, args.port)
    tls: dict[str, Any] = {}
    if args.tls_cert:
        tls = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
        if args.client_ca:
            tls |= {"ssl_ca_certs": args.client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    # ws="none", loop="asyncio": uvicorn's "auto" tries to import websockets, wsproto and uvloop (not
    # installed) at every start, a search of the whole sys.path for each: 9,000 stat calls in 213 starts
    config = uvicorn.Config(build_app(service), http="h11", ws="none", loop="asyncio", lifespan="off",
                            log_config=None, access_log=False,
                            timeout_keep_alive=30, **tls)
    server = _Server(config, "https" if tls else "http")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.request_exit())
    log.info("policy=%s today=%s", settings.pack.city, settings.today)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
