"""SH-PRIV-1: after a whole session, no resident data in any log the kiosk or the emulators wrote.

The kiosk's event log, the device hub's log and the backend's log are scanned for the
resident's name, ID number (unmasked), addresses and phone number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sh_priv_1_no_personal_data_in_logs(tmp_path: Path):
    report = tmp_path / "report.json"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    proc = subprocess.run(
        [sys.executable, "run_kiosk.py", "--sim", "--headless", "--scenario",
         "tests/scenarios/cases/issued_happy_path.toml", "--report", str(report), "--keep-workdir"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    data = json.loads(report.read_text(encoding="utf-8"))
    workdir = Path(data["workdir"])
    try:
        assert proc.returncode == 0, data.get("failures")
        secrets = ["张伟", "340102199003070010", "安徽省合肥市瑶海区长江东路100号", "上海市长宁区仙霞路765号3室",
                   "仙霞路", "13800138000"]
        logs = [workdir / "kiosk.jsonl", workdir / "hub.log", workdir / "backend.log"]
        assert (workdir / "kiosk.jsonl").stat().st_size > 0
        for log in logs:
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            for secret in secrets:
                assert secret not in text, f"{log.name} contains resident data"
        kiosk_log = (workdir / "kiosk.jsonl").read_text(encoding="utf-8")
        assert "3401**********0010" in kiosk_log  # the masked form is what a log may carry
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
