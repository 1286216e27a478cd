"""Issue 13's done-when, sampled: whole sessions with the resident in large text and/or English
(`run_kiosk.py ... --variant`), every frame's text checked by the one overflow checker
(sim/overflow.py). Every scenario in every variant is `python -m sim.variants` (docs/scenarios.md):
too long for the suite, so the suite plays a fixed sample covering each service's end screens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scenarios.play import run

CASES = Path(__file__).parent / "cases"
SAMPLE = [
    ("issued_happy_path", "large,en"),  # every new-permit step, the done screen's countdown
    ("aborted_card_not_taken", "large,en"),  # the last call and the kept card's QR code on a scrolled page
    ("fault_backend_unavailable", "large"),  # the referral QR code, scrolled to (zh)
    ("status_shanghai_open_on_v", "en"),  # the status screen's facts
]


@pytest.mark.parametrize(("name", "variant"), SAMPLE, ids=[f"{n}[{v}]" for n, v in SAMPLE])
def test_scenario_in_a_variant(name: str, variant: str, tmp_path: Path) -> None:
    code, report, stderr = run(CASES / f"{name}.toml", tmp_path, "--variant", variant)
    assert code == 0, f"failures: {report.get('failures')}\n{stderr[-2000:]}"
    audit = report["overflow"]
    assert report["variant"] == variant and report["large_text"] is ("large" in variant)
    # Frames were checked (the shortest sample, a backend down at the start, draws ten), none wrong.
    assert audit["frames_checked"] >= 8 and audit["lines_checked"] > 100 and audit["problem_count"] == 0, audit

