"""The device hub's control socket (sim/hub.serve): clients that connect at once are queued, not
refused. socketserver listens with a backlog of 5; a burst of connections beyond it (the runner,
the fault matrix and the developer panel calling under load) failed with EAGAIN."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

from sim.hub import HubClient, serve


class Echo:
    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "cmd": cmd.get("cmd")}


def test_clients_connecting_while_none_is_accepted_are_queued_and_then_served(tmp_path: Path) -> None:
    path = tmp_path / "hub.sock"
    server = serve(Echo(), path)  # type: ignore[arg-type]
    try:
        server.shutdown()  # nothing accepts now: every connection below waits in the backlog
        waiting = []
        for _ in range(32):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect(str(path))  # EAGAIN (BlockingIOError) once the backlog is full
            waiting.append(s)
        for s in waiting:
            s.close()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        client = HubClient(str(path))
        try:
            assert client.call("state") == {"ok": True, "cmd": "state"}
        finally:
            client.close()
    finally:
        server.shutdown()
        server.server_close()
