"""One whole session as CI and reviewers run it: `run_kiosk.py --sim --headless --scenario F`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sim import zygote

ROOT = Path(__file__).resolve().parents[2]


def run(scenario: Path, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    """(exit code, the report, the kiosk's stderr); forked by the fork server when one runs."""
    report = tmp_path / "report.json"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    proc = zygote.run(
        [sys.executable, str(ROOT / "run_kiosk.py"), "--sim", "--headless", "--scenario", str(scenario),
         "--report", str(report), *extra],
        cwd=ROOT, env=env, timeout=120, out_dir=tmp_path / "kiosk-output",
    )
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return proc.returncode, data, proc.stderr
