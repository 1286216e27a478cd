"""A real Mosquitto per test (TLS with client certificates, the fleet's ACL), started on
127.0.0.1 on a free port and stopped by its PID; certificates made at test time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet import view
from sim.mosquitto import OPERATOR, VIEWER, Broker, Pki

TERMINALS = ("T-0001", "T-0002")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    p = Pki.make(tmp_path / "pki")
    for cn in (*TERMINALS, OPERATOR, VIEWER):
        p.issue(cn)
    return p


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", pki).start()
    try:
        yield b
    finally:
        b.stop()


def connect(broker: Broker, cn: str, fleet: view.Fleet | None = None, *, persistent: bool = False,
            client_id: str = "") -> tuple[view.Fleet, object]:
    """A client with `cn`'s certificate that subscribes to the whole fleet into a `Fleet`."""
    ident = broker.pki.clients[cn]
    fleet = fleet or view.Fleet(keep_seqs=True)
    c = view.client("127.0.0.1", broker.port, str(broker.pki.ca), str(ident.cert), str(ident.key),
                    client_id=client_id, persistent=persistent)
    return fleet, view.watch(fleet, c, "127.0.0.1", broker.port)
