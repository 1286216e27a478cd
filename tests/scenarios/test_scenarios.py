"""Whole sessions: every scenario file under cases/ run through `run_kiosk.py` as CI and reviewers run it.

Each case starts the device hub and the emulated backend as processes, plays the session
headless, and must exit 0 with every expectation met. The file name says what it proves;
the rule ids are in each file's first line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "tests" / "scenarios" / "cases").glob("*.toml"))


def run(scenario: Path, tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    report = tmp_path / "report.json"
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run_kiosk.py"), "--sim", "--headless", "--scenario", str(scenario),
         "--report", str(report), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return proc.returncode, data, proc.stderr


@pytest.mark.parametrize("scenario", CASES, ids=[c.stem for c in CASES])
def test_scenario(scenario: Path, tmp_path: Path):
    code, report, stderr = run(scenario, tmp_path)
    assert code == 0, f"failures: {report.get('failures')}\nscreens: {report.get('screens')}\n{stderr[-3000:]}"
    assert report["passed"] is True


def test_happy_path_writes_screens_and_the_printed_face(tmp_path: Path):
    """SH-PMT-8: the terminal issues on the spot; SH-PMT-4: the card shows every field."""
    shots = tmp_path / "shots"
    code, report, stderr = run(CASES[0].parent / "issued_happy_path.toml", tmp_path, "--screenshots", str(shots))
    assert code == 0, stderr[-3000:]
    names = {p.name for p in shots.glob("*.png")}
    assert any("new_permit.details" in n for n in names)
    assert any(n.startswith("printed_") for n in names)
    printed = report["printed"]
    assert len(printed) == 1 and printed[0]["outcome"] == "taken"
    fields = printed[0]["fields"]
    assert fields["validity"] == "2026.11.22-2027.11.22"
    for key in ("name", "sex", "nation", "birth", "id_number", "household_address", "residence_address",
                "authority", "issued", "permit_number"):
        assert fields.get(key), f"the card face lacks {key} (SH-PMT-4)"
    for key in ("outcome", "reason", "screens", "cards_issued", "cards_retained", "printed", "duration_s",
                "passed", "failures"):
        assert key in report


def test_a_failed_expectation_exits_1(tmp_path: Path):
    text = (CASES[0].parent / "issued_happy_path.toml").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(text.replace('reason = "OK"', 'reason = "REG_EXPIRED"'), encoding="utf-8")
    code, report, _ = run(wrong, tmp_path)
    assert code == 1
    assert any("REG_EXPIRED" in f for f in report["failures"])


def test_a_malformed_scenario_exits_2_naming_the_key(tmp_path: Path):
    text = (CASES[0].parent / "issued_happy_path.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[expect]", "[expect]\ncards_isued = 1"), encoding="utf-8")
    code, _, stderr = run(bad, tmp_path)
    assert code == 2
    assert "expect.cards_isued" in stderr
