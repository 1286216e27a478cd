"""Every scenario in large text and in English (issue 13's done-when), with every frame's text checked.

  python -m sim.variants [--variant large,en] [--only NAME] [--jobs N] [--json OUT]

A variant is a resident who, at the first screen with the header's controls (the attract screen),
taps 大字版 and/or English, as a resident can, and then plays the scenario as written; the choice
carries through the session (and into an offered service). `run_kiosk.py ... --variant large,en`
plays one scenario so; the kiosk's display is wrapped by sim/overflow.py's CheckedDisplay, the
one overflow checker, and the report gains `overflow` (frames checked, problems): any problem is
a failure. This command plays every scenario of tests/scenarios/cases in each variant asked
(default: `large`, `en`, `large,en`), one kiosk process each, and prints the summary: scenarios
run, frames checked, overflows found. Technicians' scenarios (diagnostics) have no header and
are left out. The suite plays a fixed sample (tests/scenarios/test_variants.py).

Runs side by side (`--jobs N`) each run in a network and mount namespace of their own
(scripts/isolated, as scripts/test.sh runs xdist workers): pcscd's socket, the virtual readers'
lock and vpcd's fixed ports are machine-wide otherwise, and two kiosks fought over them. Without
root there are no namespaces, so the runs go one at a time. A run that did not get as far as a
report (the harness's fault: pcscd, a port, a crash, a timeout) is counted apart as a harness
failure, never as an overflow or a pass.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk import chrome
from kiosk.view import View

ROOT = Path(__file__).resolve().parent.parent
ISOLATED = ROOT / "scripts" / "isolated"
CASES = ROOT / "tests" / "scenarios" / "cases"
DEFAULT = ("large", "en", "large,en")


@dataclass(frozen=True)
class Variant:
    large_text: bool = False
    lang: str | None = None

    @classmethod
    def parse(cls, text: str) -> Variant:
        """`large`, `en`, `zh`, or both comma-separated (`large,en`)."""
        large, lang = False, None
        for part in filter(None, (p.strip() for p in text.split(","))):
            if part == "large":
                large = True
            elif part in chrome.LANGS:
                lang = part
            else:
                raise ValueError(f"--variant: {part!r} is not large, zh or en")
        return cls(large, lang)

    def __str__(self) -> str:
        return ",".join([*(["large"] if self.large_text else []), *([self.lang] if self.lang else [])]) or "plain"


class Switcher:
    """The resident's taps on the header's controls until the view is in the variant: one tap per
    frame, none while a tap still waits for its redraw."""

    def __init__(self, variant: Variant) -> None:
        self.variant = variant
        self._tapped: View | None = None
        self.taps = 0

    def wanted(self, view: View) -> str | None:
        ids = {b.id for b in view.chrome}
        if self.variant.large_text and not view.large_text and chrome.LARGE in ids:
            return chrome.LARGE
        if self.variant.lang and view.lang and view.lang != self.variant.lang and chrome.LANG in ids:
            return chrome.LANG
        return None

    def step(self, view: View, tap: Any) -> bool:
        """True when it tapped (the frame is used); `tap(view, button_id)` is the runner's real touch."""
        target = self.wanted(view)
        if target is None or view.help is not None or view.overlay is not None or view is self._tapped:
            return False
        if tap(view, target):
            self._tapped = view
            self.taps += 1
            return True
        return False


def scenarios(only: list[str]) -> list[Path]:
    from sim.scenario import load

    out = []
    for path in sorted(CASES.glob("*.toml")):
        if only and not any(o in path.stem for o in only):
            continue
        if load(path).diagnostics:
            continue
        out.append(path)
    return out


def can_isolate() -> bool:
    """Namespaces need root (and util-linux's unshare)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def play(path: Path, variant: Variant, out: Path, isolate: bool) -> dict[str, Any]:
    """One scenario in one variant, in its own kiosk process (as tests/scenarios/play.py runs it), in
    namespaces of its own when `isolate`. `outcome`: passed | overflow | failed (the scenario's own
    expectations) | harness (no report: the run never got to judge the screens)."""
    report = out / f"{path.stem}.{variant}.json"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    cmd = [sys.executable, str(ROOT / "run_kiosk.py"), "--sim", "--headless", "--scenario",
           str(path), "--report", str(report), "--variant", str(variant)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(ISOLATED), *cmd] if isolate else cmd,
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        code, err = proc.returncode, proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        code, err = -1, "timed out after 300 s"
    try:
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    except (OSError, ValueError):
        data = {}
    audit = data.get("overflow") or {}
    if not data or "overflow" not in data or code not in (0, 1):
        outcome = "harness"
    elif audit.get("problem_count", 0):
        outcome = "overflow"
    else:
        outcome = "passed" if data.get("passed") and code == 0 else "failed"
    return {"scenario": path.stem, "variant": str(variant), "exit": code, "outcome": outcome,
            "passed": outcome == "passed",
            "frames": audit.get("frames_checked", 0), "overflows": audit.get("problem_count", 0),
            "problems": audit.get("problems", [])[:20], "failures": data.get("failures", [])[:10],
            "wall_s": round(time.monotonic() - t0, 1), **({"stderr": err} if outcome != "passed" else {})}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", help="large | en | large,en (repeatable; default all three)")
    ap.add_argument("--only", action="append", default=[], help="scenarios whose name contains this")
    ap.add_argument("--jobs", type=int, default=max(1, len(os.sched_getaffinity(0))))
    ap.add_argument("--json", type=Path, help="write every run's result and the totals here")
    args = ap.parse_args(argv)
    try:
        variants = [Variant.parse(v) for v in (args.variant or DEFAULT)]
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    runs = [(p, v) for p in scenarios(args.only) for v in variants]
    isolate = can_isolate()
    jobs = max(1, args.jobs) if isolate else 1
    if args.jobs > 1 and not isolate:
        print("not root: no namespaces for side-by-side runs (pcscd and vpcd are machine-wide), so one at a time",
              file=sys.stderr)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kiosk-variants-") as tmp, ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda pv: play(pv[0], pv[1], Path(tmp), isolate), runs))
    for r in results:
        if r["outcome"] != "passed":
            print(f"{r['scenario']} [{r['variant']}]: {r['outcome']}, exit {r['exit']}, {r['overflows']} overflows")
            for line in r["problems"][:5] + [f for f in r["failures"] if "overflow" not in f][:3]:
                print(f"    {line}")
            if r["outcome"] == "harness":
                print("    " + "\n    ".join(r.get("stderr", "").strip().splitlines()[-4:]))
    totals = {"scenarios": len({r["scenario"] for r in results}), "runs": len(results),
              "frames_checked": sum(r["frames"] for r in results),
              "overflows": sum(r["overflows"] for r in results),
              "runs_with_overflows": sum(1 for r in results if r["overflows"]),
              "runs_failed": sum(1 for r in results if r["outcome"] == "failed"),
              "runs_harness": sum(1 for r in results if r["outcome"] == "harness"),
              "wall_s": round(time.monotonic() - started, 1), "jobs": jobs, "isolated": isolate}
    print(f"{totals['scenarios']} scenarios x {len(variants)} variants ({', '.join(map(str, variants))}): "
          f"{totals['runs']} runs, {totals['frames_checked']} frames checked, {totals['overflows']} overflows "
          f"in {totals['runs_with_overflows']} runs, {totals['runs_failed']} runs failed their expectations, "
          f"{totals['runs_harness']} runs failed for the harness (no verdict); "
          f"{totals['wall_s']} s wall with {jobs} job(s){', each isolated' if isolate else ''}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"totals": totals, "runs": results}, indent=1, ensure_ascii=False),
                             encoding="utf-8")
    if totals["runs_harness"]:
        return 3  # no verdict for some runs: neither a pass nor an overflow
    return 0 if all(r["outcome"] == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
