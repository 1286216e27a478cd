"""systemd's notify protocol end to end: the real kiosk (`run_kiosk.py --sim --headless`) with a
NOTIFY_SOCKET of the test's own (an abstract socket the test binds) and WATCHDOG_USEC set.

READY=1 comes once the kiosk is at rest, WATCHDOG=1 comes from the main loop (rate-limited to
half the interval), stops while the loop is blocked (the scenario step `stall`, which makes the
frame hook sleep on the loop's own thread: a heartbeat thread would go on and fail this test),
resumes after it, and STOPPING=1 is the last word. Every wait is a receive with a timeout.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sim import zygote

ROOT = Path(__file__).resolve().parents[2]
WATCHDOG_S = 0.1  # WATCHDOG_USEC=100000: a heartbeat at most every 0.05 s
STALL_S = 4.0
STALL_SCREEN = "new_permit.phone"

SCENARIO = (ROOT / "sim" / "scenarios" / "demo.toml").read_text(encoding="utf-8") + f"""
[[steps]]
do = "expect_screen"
screen = "{STALL_SCREEN}"

[[steps]]
do = "stall"
seconds = {STALL_S}
"""


def _receive_all(sock: socket.socket, proc: Any) -> list[tuple[float, list[str]]]:
    """Every datagram with the time it arrived, until STOPPING=1 (or 30 s of silence: a failure)."""
    got: list[tuple[float, list[str]]] = []
    sock.settimeout(30.0)
    while True:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no datagram for 30 s; so far: {got[-5:]}; kiosk exit: {proc.poll()}") from None
        lines = data.decode("utf-8").split("\n")
        got.append((time.monotonic(), lines))
        if "STOPPING=1" in lines:
            return got


def test_ready_heartbeats_stop_while_the_loop_blocks_and_stopping(tmp_path: Path) -> None:
    scenario = tmp_path / "stall.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    name = f"kiosk-notify-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET="@" + name,
               WATCHDOG_USEC=str(int(WATCHDOG_S * 1_000_000)))
    env.pop("WATCHDOG_PID", None)
    err_path = tmp_path / "kiosk-stderr.txt"
    with err_path.open("wb") as err:  # forked by the fork server when one runs (sim/zygote.py)
        proc = zygote.popen(
            [sys.executable, str(ROOT / "run_kiosk.py"), "--sim", "--headless", "--scenario", str(scenario),
             "--report", str(tmp_path / "report.json")],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
    try:
        got = _receive_all(sock, proc)
        sock.settimeout(5.0)
        try:
            late = sock.recv(4096)
        except TimeoutError:
            late = b""
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.close()
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, stderr[-3000:]
    assert late == b"", f"a datagram after STOPPING=1: {late!r}"

    lines = [line for _, ls in got for line in ls]
    assert lines.count("READY=1") == 1
    ready_at = next(i for i, (_, ls) in enumerate(got) if "READY=1" in ls)
    statuses = [line for _, ls in got[:ready_at + 1] for line in ls if line.startswith("STATUS=")]
    assert statuses[0].startswith("STATUS=starting:"), statuses  # boot reported before READY
    assert "STATUS=ready: attract screen" in got[ready_at][1]
    assert not any(line.startswith("STATUS=serving:") for line in statuses)

    beats = [t for t, ls in got if "WATCHDOG=1" in ls]
    stall_at = next(t for t, ls in got if f"STATUS=serving: {STALL_SCREEN}" in ls)
    gaps = [(b - a, a) for a, b in itertools.pairwise(beats)]
    stalled, silent_from = max(gaps)
    # Blocked for STALL_S: no heartbeat meanwhile (the test reads at once, so arrival ≈ sending),
    # and the one long silence is the stall's: it begins with the last heartbeat before the loop
    # blocked: one half interval at most before the stall's screen was reported (the heartbeat was
    # not due yet; 0.5 s of margin for the test's own reading under load) or in the frame after
    # it (the stall comes one frame after the step that waits for its screen).
    assert stalled >= STALL_S - 1.0, f"the heartbeat went on while the loop was blocked: {stalled:.2f} s"
    assert stall_at - 0.5 <= silent_from <= stall_at + 1.0, (silent_from - stall_at)
    before = [t for t in beats if t <= silent_from]
    after = [t for t in beats if t > silent_from]
    assert len(before) >= 3 and len(after) >= 3, (len(before), len(after))
    # Rate limit: at most one heartbeat per half interval, though the loop spins faster than that
    # (without the limit this run sends some 50 a second of running time).
    running = beats[-1] - beats[0] - stalled
    assert len(beats) - 2 <= running / (WATCHDOG_S / 2) + 2, (len(beats), running)
    assert got[-1][1][0] == "STOPPING=1"
