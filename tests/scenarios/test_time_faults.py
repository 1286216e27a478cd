"""The wall clock stepped back and forward mid-session, as NTP does (issue 15, time faults).

A whole session in-process on the real emulated stack with the virtual clock. At the residence
question the wall clock is stepped back one hour; at the phone number, forward two hours. The
machine's timers read the monotonic clock (kiosk/clock.py), so a step fires none of them: no idle
warning, no timeout, and every timer that does fire fires once. The header's clock follows the wall
clock as it stands; the date does not change (the steps stay within the day), so the printed
validity and the backend's decision are the scenario's own; the journal stamps its marks with the
stepped wall time (10:0x here), in sequence order, and the row ends issued.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import run_kiosk
from kiosk.clock import VirtualClock
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.controller import Kiosk
from kiosk.flows.new_permit import COUNTDOWN_S
from kiosk.view import View
from sim import runner
from sim.runner import ScenarioPlayer, SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
HAPPY = ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml"
STEPS = {"new_permit.residence": -3600.0, "new_permit.phone": +7200.0}


def test_wall_clock_steps_mid_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stepped: dict[str, tuple[str, str]] = {}
    fired: list[tuple[str, str]] = []
    frame_hook = ScenarioPlayer.__call__
    on_timer = Kiosk._on_timer

    def step_the_wall_clock(self: ScenarioPlayer, view: View) -> Any:
        if view.screen in STEPS and view.screen not in stepped:
            assert isinstance(self.clock, VirtualClock)
            before = view.clock_text
            self.clock.step_wall(STEPS[view.screen])
            stepped[view.screen] = (before, self.kiosk.view().clock_text)
        return frame_hook(self, view)

    def record_timer(self: Kiosk, name: str) -> None:
        fired.append((self.state, name))
        on_timer(self, name)

    monkeypatch.setattr(runner.ScenarioPlayer, "__call__", step_the_wall_clock)
    monkeypatch.setattr(Kiosk, "_on_timer", record_timer)
    (tmp_path / "rig").mkdir()
    rig = SimRig(load(HAPPY), config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), 0.0)
        still_here = player.still_here
    finally:
        rig.close(keep_workdir=True)
    assert report["failures"] == [], report["failures"]  # issued, printed validity 2026.11.22-2027.11.22
    assert set(stepped) == set(STEPS)
    back, forward = stepped["new_permit.residence"], stepped["new_permit.phone"]
    assert back[0].startswith("2026-11-22 09:") and back[1].startswith("2026-11-22 08:"), back
    assert forward[0].startswith("2026-11-22 08:") and forward[1].startswith("2026-11-22 10:"), forward
    assert still_here == 0, "an idle warning came up: a timer read the wall clock"
    assert not [f for f in fired if "idle" in f[1] or "timeout" in f[1]], fired
    # The photo's 3-2-1 re-arms itself each second: each tick once before the one capture, no more.
    ticks = Counter(fired)[("new_permit.photo", "photo_countdown")]
    assert ticks == COUNTDOWN_S, f"the photo countdown ticked {ticks} times, not {COUNTDOWN_S}"
    repeats = [k for k, n in Counter(fired).items()
               if n > 1 and k[1] not in ("health", "settle", "photo_countdown")]
    assert repeats == [], f"a timer fired twice in one state: {repeats}"
    db = sqlite3.connect(rig.workdir / "journal.sqlite")
    try:
        row = db.execute("SELECT id, final, created FROM journal_row").fetchall()
        marks = db.execute("SELECT seq, at FROM journal_mark WHERE row_id = ? ORDER BY seq", (row[0][0],)).fetchall()
    finally:
        db.close()
    assert [(r[1], r[2][:13]) for r in row] == [("issued", "2026-11-22T10")], row
    assert [m[0] for m in marks] == list(range(len(marks))) and all(m[1].startswith("2026-11-22T10") for m in marks)
