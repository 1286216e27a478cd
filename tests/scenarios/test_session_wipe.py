"""The idle timeout and goodbye wipe the session (SH-PRIV-1): in-process, on the real emulated stack."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import run_kiosk
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.session import SessionSummary
from sim.runner import SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]


def test_idle_timeout_after_the_id_was_read_wipes_the_session(tmp_path: Path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    text = (ROOT / "sim" / "scenarios" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace("[expect]", '[[steps]]\ndo = "expect_screen"\nscreen = "new_permit.details"\n\n'
                                     '[[steps]]\ndo = "wait"\nseconds = 300\n\n[expect]')
    path = tmp_path / "walk_away.toml"
    path.write_text(text, encoding="utf-8")
    rig = SimRig(load(path), config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display)
    try:
        rig.start()
        rig.play()
        kiosk = rig.kiosk
        assert kiosk is not None
        summary = kiosk.finished[-1]
        assert (summary.outcome, summary.reason) == ("aborted", "TIMEOUT")
        assert summary.screens[-3:] == ("new_permit.details", "timeout_warning", "goodbye")
        assert kiosk.state == "ready.attract"
        s = kiosk.session
        assert s.identity is None and s.portrait is None and s.portrait_png == b"" and s.phone == ""
        assert s.registered_address is None and s.grant is None and s.service is None
        assert s.id != summary.session
    finally:
        rig.close()


def test_what_outlives_a_session_has_no_personal_field():
    assert {f.name for f in fields(SessionSummary)} == {
        "session", "service", "outcome", "reason", "available_on", "screens", "large_text"}
