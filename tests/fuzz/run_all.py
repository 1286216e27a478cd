"""One fuzz command over every decoder and parser the kiosk reads hostile input with (issue 15).

    .venv/bin/python -m tests.fuzz --total 1000000 [--jobs 2] [--only chip,backend] [--chunk 50000]

Every hypothesis property of the targets below runs with its share of `--total` examples: equal
shares, weighted down for the targets whose one example costs milliseconds (a whole scenario
parse, a client round trip through httpx) so that the run ends in minutes. Each property is cut
into chunks of at most `--chunk` examples, and the chunks run in `--jobs` processes (spawned, one
per chunk, so each reads its own FUZZ_EXAMPLES at import) to use every core. The examples are
counted as they run (hypothesis may stop short of max_examples when a strategy is exhausted), and
one table prints examples, CPU seconds and failures per target, then the total and the wall time.
Exit 0 when nothing failed, 1 otherwise; a failure prints hypothesis's falsifying example.

The regular suite runs the same properties at FUZZ_EXAMPLES (default 200, tests/fuzz/common.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

# target: (module, weight). The weight scales the equal share of each of its properties.
TARGETS: dict[str, tuple[str, float]] = {
    "ga467": ("tests.fuzz.fuzz_ga467", 1.0),  # ID reader frames, read data, card text, photo
    "printer": ("tests.fuzz.test_printer_decoder", 1.0),  # printer replies
    "chip": ("tests.fuzz.test_chip_replies_fuzz", 1.0),  # permit chip APDU responses and records
    "qr_payload": ("tests.fuzz.qr_payload", 1.0),  # QR proof payloads
    "qr_lines": ("tests.fuzz.test_qr_scanner_lines", 1.0),  # QR scanner serial lines
    "backend": ("tests.fuzz.test_backend_replies_fuzz", 0.5),  # backend replies through the client
    "scenario": ("tests.fuzz.test_scenario_files_fuzz", 0.25),  # scenario files
}


@dataclass(frozen=True)
class Task:
    target: str
    module: str
    prop: str
    examples: int


@dataclass(frozen=True)
class Done:
    task: Task
    ran: int
    cpu_s: float
    failure: str | None


def properties(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    factories = getattr(module, "PROPERTIES", None)
    if isinstance(factories, dict):
        return sorted(factories)
    return sorted(n for n, f in vars(module).items() if n.startswith("test_") and hasattr(f, "hypothesis"))


def _property(module: Any, prop: str, examples: int) -> Callable[[], None]:
    factories = getattr(module, "PROPERTIES", None)
    if isinstance(factories, dict):
        return factories[prop](examples)  # type: ignore[no-any-return]
    return getattr(module, prop)  # type: ignore[no-any-return]


def run_task(task: Task) -> Done:
    """In a fresh process: the property at task.examples, its examples counted as they run."""
    os.environ["FUZZ_EXAMPLES"] = str(task.examples)
    from hypothesis import settings

    settings.register_profile("fuzz-command", database=None, print_blob=True)
    settings.load_profile("fuzz-command")
    started = time.process_time()
    ran = 0
    try:
        fn = _property(importlib.import_module(task.module), task.prop, task.examples)
        inner = fn.hypothesis.inner_test  # type: ignore[attr-defined]

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal ran
            ran += 1
            return inner(*args, **kwargs)

        fn.hypothesis.inner_test = counted  # type: ignore[attr-defined]
        fn()
        failure = None
    except BaseException:  # any failure of a property is a finding to print, not a crash
        failure = traceback.format_exc(limit=-8)
    return Done(task, ran, time.process_time() - started, failure)


def plan(total: int, chunk: int, only: set[str] | None) -> list[Task]:
    found = [(t, m, w, p) for t, (m, w) in TARGETS.items() if only is None or t in only for p in properties(m)]
    weight = sum(w for _, _, w, _ in found)
    tasks = []
    for target, module, w, prop in found:
        share = max(1, round(total * w / weight))
        while share > 0:
            n = min(share, chunk)
            tasks.append(Task(target, module, prop, n))
            share -= n
    # Largest first, so that the last chunks to finish are short ones and both cores stay busy.
    return sorted(tasks, key=lambda t: -t.examples * (1 / TARGETS[t.target][1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--total", type=int, default=1_000_000, help="examples across all properties")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: the cores)")
    ap.add_argument("--chunk", type=int, default=50_000, help="most examples one process runs")
    ap.add_argument("--only", default="", help=f"comma-separated targets of: {', '.join(TARGETS)}")
    args = ap.parse_args(argv)
    only = {t.strip() for t in args.only.split(",") if t.strip()} or None
    if only is not None and not only <= set(TARGETS):
        ap.error(f"--only: unknown target(s) {', '.join(sorted(only - set(TARGETS)))}")
    tasks = plan(args.total, max(1, args.chunk), only)
    print(f"{len(tasks)} chunks of {len({(t.module, t.prop) for t in tasks})} properties, "
          f"{sum(t.examples for t in tasks)} examples planned, {args.jobs} processes", flush=True)
    started = time.monotonic()
    results: list[Done] = []
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        for future in as_completed([pool.submit(run_task, t) for t in tasks]):
            done = future.result()
            results.append(done)
            print(f"[{len(results)}/{len(tasks)}] {done.task.target} {done.task.prop}: {done.ran} examples, "
                  f"{done.cpu_s:.1f} cpu s{', FAILED' if done.failure else ''}", flush=True)
            if done.failure:
                print(f"FAILED {done.task.target} {done.task.prop}:\n{done.failure}", flush=True)
    wall = time.monotonic() - started
    print(f"\n{'target':<12} {'properties':>10} {'examples':>10} {'cpu s':>8} {'failed':>6}")
    for target in TARGETS:
        mine = [r for r in results if r.task.target == target]
        if mine:
            print(f"{target:<12} {len({r.task.prop for r in mine}):>10} {sum(r.ran for r in mine):>10} "
                  f"{sum(r.cpu_s for r in mine):>8.1f} {sum(1 for r in mine if r.failure):>6}")
    failed = sum(1 for r in results if r.failure)
    print(f"{'total':<12} {len({(r.task.module, r.task.prop) for r in results}):>10} "
          f"{sum(r.ran for r in results):>10} {sum(r.cpu_s for r in results):>8.1f} {failed:>6}")
    print(f"wall time {wall:.1f} s on {args.jobs} processes")
    return 1 if failed else 0

