"""A pytest plugin that writes what each test cost in CPU: a measurement, never an assertion.

  TEST_CPU_REPORT=out/cpu.jsonl bash scripts/test.sh -p tests.cpu_report

One JSON line a test (appended, so xdist workers can share the file): its node id, its wall
time and the CPU (user + sys) of this pytest process, of the processes it waited for
(subprocesses a test runs) and of the fork server and its children (sim/zygote.py: the kiosk,
hub and backend of a whole session, and what they waited for: pcscd), each taken before the
test's set-up and after its teardown (the fork server's start counts in a worker's first test).
`python -m tests.cpu_report FILE` prints the totals and the costliest tests.

  TEST_FORK_SERVER_LOG=out/forks bash scripts/test.sh
  python -m tests.cpu_report --children out/forks

keeps each worker's fork server log and sums what its children cost by entry point (the kiosk of
a whole session, the device hub, the emulated backend...): count, CPU, system CPU, minor page
faults. A child's figures include what it waited for (a kiosk's pcscd).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sim import zygote

TICK = os.sysconf("SC_CLK_TCK")


def _fork_server_cpu() -> float:
    """CPU of the fork server and of its reaped children, 0 when none runs. When the server has
    stopped, its whole CPU is in this process's RUSAGE_CHILDREN instead: the two cancel out."""
    pid = os.environ.get(zygote.PID_ENV) if zygote.ENV in os.environ else None
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK  # utime, stime, cutime, cstime: fields 14-17 of stat


def _sample() -> tuple[float, float, float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.monotonic(), me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, _fork_server_cpu())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Iterator[None]:
    before = _sample()
    yield
    after = _sample()
    path = os.environ.get("TEST_CPU_REPORT")
    if not path:
        return
    wall, own, waited, forked = (a - b for a, b in zip(after, before, strict=True))
    line = json.dumps({"test": item.nodeid, "start": round(time.time() - wall, 3), "wall_s": round(wall, 3),
                       "own_s": round(own, 3), "subprocess_s": round(waited, 3), "forked_s": round(forked, 3),
                       "cpu_s": round(own + waited + forked, 3), "worker": os.environ.get("PYTEST_XDIST_WORKER", "")})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def children(folder: Path) -> int:
    by_module: dict[str, list[float]] = {}
    for log in sorted(folder.glob("fork-server-*.log")):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                child = json.loads(line)
            except ValueError:
                continue  # the server's own messages
            if not isinstance(child, dict) or "module" not in child:
                continue
            m = by_module.setdefault(child["module"], [0, 0.0, 0.0, 0])
            m[0] += 1
            m[1] += child.get("cpu_s", 0.0)
            m[2] += child.get("sys_s", 0.0)
            m[3] += child.get("minflt", 0)
    print("forked children by entry point (count, CPU s, of it system, CPU s each, minor faults each):")
    for name, (n, cpu, system, faults) in sorted(by_module.items(), key=lambda kv: -kv[1][1]):
        print(f"  {int(n):5d} {cpu:7.1f} {system:6.1f} {cpu / n:6.3f} {faults / n:8.0f}  {name}")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--children":
        return children(Path(argv[1]))
    rows = [json.loads(x) for x in Path(argv[0]).read_text(encoding="utf-8").splitlines() if x.strip()]
    top = int(argv[1]) if len(argv) > 1 else 40
    cpu = sum(r["cpu_s"] for r in rows)
    print(f"{len(rows)} tests: {cpu:.1f} s CPU (own {sum(r['own_s'] for r in rows):.1f}, subprocesses "
          f"{sum(r['subprocess_s'] for r in rows):.1f}, forked {sum(r['forked_s'] for r in rows):.1f}), "
          f"{sum(r['wall_s'] for r in rows):.1f} s wall summed")
    by_file: dict[str, list[float]] = {}
    for r in rows:
        f = by_file.setdefault(r["test"].split("::")[0], [0, 0.0, 0.0])
        f[0] += 1
        f[1] += r["cpu_s"]
        f[2] += r["wall_s"]
    print("\nby file (tests, CPU s, wall s summed):")
    for name, (n, c, w) in sorted(by_file.items(), key=lambda kv: -kv[1][1])[:25]:
        print(f"  {c:7.1f} {w:7.1f} {int(n):4d}  {name}")
    print(f"\ntop {top} tests by CPU (CPU s, wall s):")
    for r in sorted(rows, key=lambda r: -r["cpu_s"])[:top]:
        print(f"  {r['cpu_s']:6.2f} {r['wall_s']:6.2f}  {r['test']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
