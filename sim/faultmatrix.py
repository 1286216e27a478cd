"""The fault matrix: every fault kind the emulators know, at every step it can strike, in every
service, each run followed by a reboot (issue 15).

  python -m sim.faultmatrix [--jobs N] [--json OUT] [--only TEXT] [--suite] [--list]

The cells and one cell's run are sim/faultcells.py. Prints one table, a row a cell: outcome,
reason, cards issued / retained / retention records written (`kpt`: a resident told "your card
was kept", never more than the cards retained) / left in the printer, journal rows and approvals
open after the reboot, whether the session or a boot was stuck, whether a technician had to clear
something, and the verdict; then the totals. Exit 1 when any cell is stuck, crashed, breaks card accounting
or leaves an approval open; 0 otherwise.

`--jobs N` runs the cells in N worker processes, each in network and mount namespaces of its
own (a private loopback and /run/pcscd: pcscd serves one machine, so each worker needs its own;
`unshare`, so root). Each cell starts its own emulators (pcscd, hub and backend start in about
0.4 s together): a fault a cell leaves armed or a card it leaves jammed can never leak into the
next cell's figures, which shared emulators would allow.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sim import zygote

ROOT = Path(__file__).resolve().parent.parent
# What /work/shared/tools/iso does, per worker: a private loopback, /run/pcscd and TMPDIR.
ISOLATE = ["unshare", "-mn", "--propagation", "private", "bash", "-c",
           'ip link set lo up && mkdir -p /run/pcscd && mount -t tmpfs none /run/pcscd && '
           'export TMPDIR="$(mktemp -d)" && exec "$@"', "isolate"]


def worker(cells_file: Path, out_file: Path) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.faultcells import Cell, run_cell

    config, sim = load_kiosk_config(), load_sim_config()
    for raw in json.loads(cells_file.read_text(encoding="utf-8")):
        result = run_cell(Cell(**raw), config, sim, run_kiosk.build_kiosk, run_kiosk.make_display)
        with out_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(result) + "\n")
    return 0


def run_matrix(cells: list[Any], jobs: int, progress: bool = True) -> list[dict[str, Any]]:
    from dataclasses import asdict

    jobs = max(1, min(jobs, len(cells)))
    if jobs > 1 and os.geteuid() != 0:
        raise SystemExit("--jobs > 1 needs root (each worker gets network and mount namespaces of its own)")
    work = Path(tempfile.mkdtemp(prefix="kiosk-faultmatrix-"))
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONPATH=str(ROOT))
    procs = []
    for j in range(jobs):
        share = [asdict(c) for c in cells[j::jobs]]
        (work / f"cells{j}.json").write_text(json.dumps(share), encoding="utf-8")
        cmd = [sys.executable, "-m", "sim.faultmatrix", "--worker", str(work / f"cells{j}.json"),
               str(work / f"out{j}.jsonl")]
        # one worker: forked by the test suite's fork server when one runs (sim/zygote.py)
        with (work / f"err{j}.log").open("w") as err:
            procs.append(zygote.popen([*ISOLATE, *cmd] if jobs > 1 else cmd, cwd=ROOT, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err))
    done_before = 0
    while any(p.poll() is None for p in procs):
        with contextlib.suppress(subprocess.TimeoutExpired):
            next(p for p in procs if p.poll() is None).wait(1.0)  # returns as soon as it ends
        done = sum(_count_lines(work / f"out{j}.jsonl") for j in range(jobs))
        if progress and done != done_before:
            print(f"\r  {done}/{len(cells)} cells", end="", file=sys.stderr, flush=True)
            done_before = done
    if progress:
        print(file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for j in range(jobs):
        path = work / f"out{j}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            r = json.loads(line)
            results[_key(r)] = r
    out = []
    for c in cells:
        r = results.get(_key(asdict(c)))
        if r is None:  # the worker process died in this cell (or before it)
            err = [(work / f"err{j}.log").read_text(errors="replace")[-400:] for j in range(jobs)]
            r = {**asdict(c), "step": c.step, "crash": "the worker process died", "violations":
                 ["the worker process died: " + " | ".join(e for e in err if e)], "stuck": False}
        out.append(r)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return out


def _key(r: dict[str, Any]) -> str:
    return "/".join(str(r.get(k)) for k in ("service", "device", "kind", "at", "screen"))


def _count_lines(path: Path) -> int:
    return sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0


def verdict(r: dict[str, Any]) -> str:
    if r.get("crash"):
        return "CRASH"
    if r.get("stuck"):
        return "STUCK"
    if r.get("violations"):
        return "FAIL"
    return "ok"


def print_table(results: list[dict[str, Any]]) -> dict[str, Any]:
    head = (f"{'service':13s} {'device':11s} {'kind':13s} {'step':18s} {'outcome':16s} {'reason':20s} "
            f"{'iss':>3s} {'ret':>3s} {'kpt':>3s} {'in':>3s} {'jrn':>3s} {'apr':>3s} {'stuck':5s} {'tech':4s} verdict")
    print(head)
    for r in results:
        print(f"{r['service']:13s} {r['device']:11s} {r['kind']:13s} {r['step']:18s} {r.get('outcome')!s:16s} "
              f"{r.get('reason')!s:20s} {r.get('issued', '-')!s:>3s} {r.get('retained', '-')!s:>3s} "
              f"{r.get('kept_records', '-')!s:>3s} "
              f"{r.get('in_printer', '-')!s:>3s} {r.get('journal_open', '-')!s:>3s} "
              f"{r.get('approvals_open', '-')!s:>3s} {'yes' if r.get('stuck') else 'no':5s} "
              f"{'yes' if r.get('technician') else 'no':4s} {verdict(r)}"
              + (f"  {'; '.join(r['violations'])[:300]}" if r.get("violations") else ""))
    verdicts = Counter(verdict(r) for r in results)
    accounting = sum(1 for r in results if not r.get("crash") and not r.get("stuck") and any(
        "approval" not in v and "application" not in v for v in r.get("violations", [])))
    totals = {
        "cells": len(results), "ok": verdicts["ok"], "failed": verdicts["FAIL"], "stuck": verdicts["STUCK"],
        "crashed": verdicts["CRASH"], "accounting_errors": accounting,
        "stranded_approvals": sum(1 for r in results if (r.get("approvals_open") or 0) > 0),
        "technician_needed": sum(1 for r in results if r.get("technician")),
        "outcomes": dict(Counter(str(r.get("outcome")) for r in results)),
        "wall_s_sum": round(sum(r.get("wall_s", 0) for r in results), 1),
    }
    print(f"totals: {totals['cells']} cells, {totals['ok']} ok, {totals['failed']} failed "
          f"({totals['accounting_errors']} with a card-accounting error, {totals['stranded_approvals']} with an "
          f"approval open), {totals['stuck']} stuck, {totals['crashed']} crashed; a technician needed in "
          f"{totals['technician_needed']}; outcomes {totals['outcomes']}")
    return totals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=max(1, len(os.sched_getaffinity(0))))
    ap.add_argument("--json", type=Path, help="write every cell's result and the totals here")
    ap.add_argument("--only", action="append", default=[], help="cells whose name contains this (repeatable)")
    ap.add_argument("--suite", action="store_true", help="only the suite's fixed subset")
    ap.add_argument("--list", action="store_true", help="list the cells and exit")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    sys.path.insert(0, str(ROOT))
    from sim.faultcells import SUITE, all_cells

    cells = list(SUITE) if args.suite else all_cells()
    if args.only:
        cells = [c for c in cells if any(o in c.name for o in args.only)]
    if args.list:
        for c in cells:
            print(c.name)
        print(f"{len(cells)} cells")
        return 0
    started = time.monotonic()
    results = run_matrix(cells, args.jobs)
    totals = print_table(results)
    totals["wall_s"] = round(time.monotonic() - started, 1)
    totals["jobs"] = args.jobs
    print(f"{totals['cells']} cells in {totals['wall_s']} s wall with {args.jobs} worker(s)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"totals": totals, "cells": results}, indent=1, ensure_ascii=False),
                             encoding="utf-8")
    return 0 if totals["ok"] == totals["cells"] else 1


if __name__ == "__main__":
    sys.exit(main())
