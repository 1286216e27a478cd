"""The fork server for this test process's whole sessions (sim/zygote.py).

One per pytest process (each xdist worker is in its own namespaces, so it gets its own); its
PID is stopped when the session ends. `TEST_FORK_SERVER=0` runs every process from a new
interpreter instead."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import zygote
from sim.launcher import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def fork_server() -> Iterator[None]:
    if os.environ.get("TEST_FORK_SERVER", "1") == "0" or zygote.ENV in os.environ:
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="fork-server-"))
    path = folder / "socket"
    log = (folder / "server.log").open("ab")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # Its stdin is a pipe this process holds: should pytest be killed before the teardown, the
    # server sees the pipe close and stops (nothing is left running).
    proc = subprocess.Popen([sys.executable, "-m", "sim.zygote", "--socket", str(path), "--watch-stdin"], cwd=ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    log.close()
    server = ManagedProcess("fork server", proc, log_path=folder / "server.log").wait_ready(60)
    os.environ[zygote.ENV], os.environ[zygote.PID_ENV] = str(path), str(server.pid)
    try:
        yield
    finally:
        del os.environ[zygote.ENV], os.environ[zygote.PID_ENV]
        server.stop()
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
