"""The backend client against a hostile server over real HTTP on 127.0.0.1 (issue 15).

The server (tests/protocol/hostile_http_server.py) runs as its own process; each test starts it
and stops it by PID. The client is the kiosk's BackendClient with its own timeouts: a reply
dripped a byte at a time inside the read timeout ends at the reply deadline (connect + read
timeout) as TIMEOUT; a 64 MiB body ends at MAX_REPLY_BYTES as BAD_REPLY without being held whole;
a body nested past Python's recursion limit is BAD_REPLY; a head whose body never comes is
TIMEOUT at the read timeout. None of them raises. Durations are not asserted (rule of the
developers' guide): only the typed outcome, which a client without the deadline or the cap would
not reach (the drip test would answer FaceCheck after 120 s; the huge body would be parsed).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from kiosk.backend_client import BackendClient
from kiosk.backend_types import BackendFailure, FailureKind
from kiosk.identity import CardType, Identity, Sex

ROOT = Path(__file__).resolve().parents[2]
CARD = Identity(CardType.CITIZEN, "测试", Sex.MALE, "01", date(1990, 3, 7), "安徽省合肥市瑶海区长江东路100号",
                "340104199003071015", "合肥市公安局瑶海分局", date(2020, 1, 1), None)


@contextmanager
def hostile(mode: str) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.protocol.hostile_http_server", mode], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()  # by its PID: this process only
        proc.wait(5)


@pytest.mark.parametrize(("mode", "kind"), [("drip", FailureKind.TIMEOUT), ("huge", FailureKind.BAD_REPLY),
                                            ("nested", FailureKind.BAD_REPLY), ("stall", FailureKind.TIMEOUT)])
def test_a_hostile_reply_is_a_typed_failure(mode: str, kind: FailureKind) -> None:
    with hostile(mode) as url, BackendClient(url, "SH-HOSTILE-01", connect_timeout=0.5, read_timeout=1.0,
                                             retries=0) as client:
        result = client.face_check("req-1", CARD, b"png")
    assert isinstance(result, BackendFailure) and result.kind is kind, result
