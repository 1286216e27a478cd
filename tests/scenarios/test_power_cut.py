"""A power cut at every journal write of an issuance (SIGKILL of the kiosk process), then a
restart against the same emulators and journal: every invariant of DESIGN.md must hold.

See sim/killpoints.py for the harness and the invariants; `python -m sim.killpoints` prints
the same table by hand.
"""

from __future__ import annotations

import pytest

from sim.killpoints import DEFAULT_SCENARIO, run_point

# The writes of one issuance, in order (the baseline test checks this list against the kiosk).
WRITES = [
    "begin_issuance", "step_started:picked", "step_done:picked", "step_started:printed", "step_done:printed",
    "step_started:encoded", "step_done:encoded", "step_started:verified", "step_done:verified",
    "step_started:presented", "step_done:presented", "step_done:taken", "step_started:confirmed",
    "step_done:confirmed", "finish:issued",
]


def test_baseline_issuance_journals_every_step():
    result = run_point(DEFAULT_SCENARIO, None)
    assert result.ok, result.violations
    assert [w.split(":SH")[0] for w in result.writes] == WRITES
    assert result.finals == ["issued"]


@pytest.mark.parametrize("kill_at", range(1, len(WRITES) + 1), ids=WRITES)
def test_power_cut_after_each_journal_write(kill_at: int):
    result = run_point(DEFAULT_SCENARIO, kill_at)
    assert result.play_exit == -9, "the kiosk was to die by SIGKILL at this write"
    assert result.ok, result.violations
    # A card that reached the resident is issued; one that did not is retained or never picked.
    expected = "issued" if kill_at >= WRITES.index("step_done:taken") + 1 else None
    if expected:
        assert result.finals == [expected]
    else:
        assert result.finals[0] in ("retained", "voided")
