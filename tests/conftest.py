"""Shared test set-up: headless SDL, the project root on sys.path, the order the suite's xdist
workers get their tests in, and the fork server (sim/zygote.py) for the processes tests start.

The fork server: one per pytest process (each xdist worker is in its own namespaces, so it gets
its own), started by the first test that asks for it (every whole-session test does, through
tests/scenarios/conftest.py); its PID is stopped when the session ends. `TEST_FORK_SERVER=0`
runs every process from a new interpreter instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import zygote
from sim.launcher import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

# The suite's longest tests, by node id prefix, and their wall seconds together alone on a quiet
# machine (measured with `--durations`; estimates for scheduling only, nothing asserts them).
# xdist's worksteal gives each worker one contiguous share of the collection and lets idle workers
# steal from the end of the others' shares: a long test near an end runs alone while the other
# workers sit idle. The tests of one prefix stay together (their module's fixtures are made once).
CELL = "tests/scenarios/test_fault_matrix.py::test_a_suite_cell_holds_every_invariant_after_a_reboot"
LONG: dict[str, float] = {
    "tests/scenarios/test_dev_panel.py::": 26,
    "tests/scenarios/test_watchdog.py::": 12,
    # a printer that never answers: 2 s response timeouts, retried, at each step (real time)
    f"{CELL}[new_permit/printer/silent": 12,
    f"{CELL}[card_rewrite/printer/silent": 12,
    "tests/scenarios/test_fault_matrix.py::test_a_short_mixed_soak": 10,
    # (the ones below measured in a loaded run, 6 workers: tests/cpu_report.py's report)
    "tests/fleet/test_fleet_broker.py::": 12,
    "tests/scenarios/test_privacy.py::": 9,
    "tests/unit/test_partial_frames.py::": 9,
    "tests/scenarios/test_diagnostics.py::": 7,
    "tests/unit/test_screen_overflow.py::": 6,
    "tests/unit/test_deploy.py::": 6,
    "tests/scenarios/test_metrics_endpoint.py::": 6,
    "tests/fleet/test_fleet_200.py::": 6,
    "tests/scenarios/test_qr_scanner_wiring.py::": 5,
    "tests/unit/test_touch_targets.py::": 4,
}


def _group(nodeid: str) -> str | None:
    return next((prefix for prefix in LONG if nodeid.startswith(prefix)), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the long tests go to the start of half the workers' initial shares, spread so
    that each of those starts with about as many long seconds (longest first to the least loaded).
    Every worker computes the same order (xdist requires one collection); in series it is untouched."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2 or len(items) < workers:
        return
    groups: dict[str, list[pytest.Item]] = {}
    rest = []
    for it in items:
        prefix = _group(it.nodeid)
        if prefix is None:
            rest.append(it)
        else:
            groups.setdefault(prefix, []).append(it)
    # The shares as xdist's worksteal scheduler first sends them: len(pending) // workers left.
    sizes, left = [], len(items)
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    # Most of the long tests wait on real time (timeouts, a real-time panel): at the heads of every
    # share they idled the machine together at the start. Half the shares take them; the other
    # half start on the rest, which keeps the cores busy meanwhile.
    takers = max(1, workers // 2)
    for prefix in sorted(groups, key=lambda p: -LONG[p]):
        i = min(range(takers), key=lambda j: (load[j], j))
        heads[i] += groups[prefix]
        load[i] += LONG[prefix]
    ordered: list[pytest.Item] = []
    for i, size in enumerate(sizes):
        take = max(0, size - len(heads[i]))
        ordered += heads[i] + rest[:take]
        del rest[:take]
    items[:] = ordered + rest


@pytest.fixture(scope="session")
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
        keep = os.environ.get("TEST_FORK_SERVER_LOG")  # a folder: what each forked child cost, kept
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / "server.log", Path(keep) / f"fork-server-{os.getpid()}.log")
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
