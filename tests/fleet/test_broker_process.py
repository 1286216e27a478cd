"""A test's Mosquitto dies with the process that started it, however that one dies: a crashed
test process once left its brokers running for hours (sim/child_guard.py, sim/mosquitto.py)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from sim.mosquitto import Broker, Pki

ROOT = Path(__file__).resolve().parents[2]
PARENT = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from sim.mosquitto import Broker, Pki
folder = Path(sys.argv[2])
b = Broker(folder / "broker", Pki.make(folder / "pki")).start()
print(b.pid, b.proc.pid, flush=True)
sys.stdin.read()  # until it is killed
"""


def ends_within(pid: int, timeout: float) -> bool:
    """True when process `pid` has ended (or is a zombie) within `timeout`: waits on its pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_the_broker_dies_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(ROOT), str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline().split()
        assert len(line) == 2, "the parent did not start its broker"
        broker, guard = int(line[0]), int(line[1])
        assert comm(broker) == "mosquitto" and not ends_within(broker, 0)
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit: the kernel closes its files
        parent.wait(10)
        assert ends_within(broker, 15.0), f"mosquitto {broker} outlived its parent"
        assert ends_within(guard, 15.0), f"the guard {guard} outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_the_broker_dies_with_its_guard_killed_by_sigkill(tmp_path: Path) -> None:
    b = Broker(tmp_path / "broker", Pki.make(tmp_path / "pki")).start()
    try:
        assert b.proc is not None
        broker = b.pid
        assert comm(broker) == "mosquitto" and b.proc.pid != broker
        b.proc.send_signal(signal.SIGKILL)  # the guard: the kernel's parent-death signal ends Mosquitto
        b.proc.wait(10)
        assert ends_within(broker, 15.0), f"mosquitto {broker} outlived its guard"
    finally:
        b.stop()
    assert b.proc is None


def test_a_stop_ends_mosquitto_by_its_pid_and_a_start_again_keeps_the_port(tmp_path: Path) -> None:
    b = Broker(tmp_path / "broker", Pki.make(tmp_path / "pki")).start()
    first, port = b.pid, b.port
    b.stop()
    assert ends_within(first, 0), "stop returned while mosquitto ran"
    b.start()
    try:
        assert b.port == port and b.pid != first and comm(b.pid) == "mosquitto"
    finally:
        b.stop()
