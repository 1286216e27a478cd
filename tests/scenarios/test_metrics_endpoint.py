"""The Prometheus endpoint of a real kiosk (`run_kiosk.py --sim --headless`, `[metrics] enabled`)
scraped in the middle of a session: while the main loop is held at the success screen (the
scenario step `stall`; the test knows it is there from the kiosk's own STATUS= datagram on a
NOTIFY_SOCKET of its own), the endpoint's thread answers with the card just issued counted."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from sim import zygote

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:  # the test runs in a network namespace of its own (tools/iso, xdist workers)
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_endpoint_counts_the_session_while_it_runs(tmp_path: Path) -> None:
    port = _free_port()
    config = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    old = "enabled = false              # true: GET"
    assert old in config and "port = 9464" in config
    (tmp_path / "kiosk.toml").write_text(
        config.replace(old, "enabled = true               # true: GET").replace("port = 9464", f"port = {port}"),
        encoding="utf-8")
    demo = (ROOT / "sim" / "scenarios" / "demo.toml").read_text(encoding="utf-8")
    steps = '[[steps]]\ndo = "expect_screen"\nscreen = "new_permit.done"\n\n[[steps]]\ndo = "stall"\nseconds = 5\n'
    (tmp_path / "case.toml").write_text(demo + "\n" + steps, encoding="utf-8")
    name = f"kiosk-metrics-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(60.0)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET="@" + name)
    err_path = tmp_path / "kiosk-stderr.txt"
    with err_path.open("wb") as err:  # forked by the fork server when one runs (sim/zygote.py)
        proc = zygote.popen(
            [sys.executable, str(ROOT / "run_kiosk.py"), "--config", str(tmp_path / "kiosk.toml"), "--sim",
             "--headless", "--scenario", str(tmp_path / "case.toml"), "--report", str(tmp_path / "report.json")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        while "STATUS=serving: new_permit.done" not in sock.recv(4096).decode().split("\n"):
            pass
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10.0)
        proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, stderr[-3000:]
    assert reply.status_code == 200
    lines = reply.text.splitlines()
    assert 'kiosk_service_offered{service="new_permit"} 1' in lines
    assert any(line.startswith("kiosk_issuances_total{") for line in lines), reply.text
    assert any(line.startswith('kiosk_log_events_total{code="I001",event="ISSUANCE_STARTED"') for line in lines)
    assert not any(line.startswith("kiosk_sessions_total{") for line in lines)  # the session is not over yet
    assert "340102199003070010" not in reply.text and "张伟" not in reply.text
