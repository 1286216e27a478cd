"""The photo screen's live guidance end to end (issue 12), in-process on the real emulated stack: the
camera emulator shows a scene, the camera adapter streams it to the preview and samples it to the
core, the new-permit flow runs the photo checks on the samples, and the photo screen's view carries
the advice. The resident stands at the photo screen, touching nothing, until the advice shows (a condition with a
deadline)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

import run_kiosk
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.intents import Quit
from sim.runner import SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]


class AdviceWatchedDisplay:
    """The real display; on the photo screen it holds the resident's touches back (at most 15 s) and
    records every piece of advice shown; once the awaited advice and a live frame were shown it ends
    the main loop. (The camera shows nobody until the resident steps up, so "no_face" may come first.)"""

    def __init__(self, inner, awaited: str) -> None:
        self.inner = inner
        self.awaited = awaited
        self.advice: list[str] = []
        self.preview_frames = 0
        self._on_photo_since: float | None = None

    def render(self, view) -> None:
        self.inner.render(view)
        if view.screen == "new_permit.photo":
            if self._on_photo_since is None:
                self._on_photo_since = time.monotonic()
            guide = view.data.get("guidance")
            if guide and (not self.advice or self.advice[-1] != guide):
                self.advice.append(guide)
            if self.inner._preview_seq is not None:
                self.preview_frames += 1

    def poll(self):
        if self.awaited in self.advice and self.preview_frames:
            return [Quit()]  # seen: the session need not be played to its end
        if self._on_photo_since is not None and time.monotonic() - self._on_photo_since < 15.0:
            return []  # standing before the camera, not yet touching anything
        return self.inner.poll()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


@pytest.mark.parametrize(("face", "advice"), [("zhang", "ok"), ("too_far", "closer"), ("too_dark", "too_dark"),
                                              ("two_people", "two_faces")])
def test_the_photo_screen_advises_from_the_live_picture(face: str, advice: str, tmp_path: Path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    text = (ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml").read_text(encoding="utf-8")
    path = tmp_path / "advice.toml"
    path.write_text(text.replace("[residents.zhang.registration]",
                                 f'face = "{face}"\n\n[residents.zhang.registration]', 1)
                    .split("[expect]")[0], encoding="utf-8")
    scenario = load(path)
    assert scenario.residents["zhang"].face == face
    made: list[AdviceWatchedDisplay] = []

    def make_display(cfg):
        made.append(AdviceWatchedDisplay(run_kiosk.make_display(cfg), advice))
        return made[-1]

    # The kiosk's own clock, not the scenarios' virtual one: a virtual clock would jump to the idle
    # timeout while the resident stands there before touching anything.
    sim = load_sim_config()
    sim = replace(sim, run=replace(sim.run, virtual_clock=False))
    rig = SimRig(scenario, config=load_kiosk_config(), sim=sim, build=run_kiosk.build_kiosk,
                 make_display=make_display)
    try:
        rig.start()
        player = rig.play()
        assert not player.failures, player.failures
        display = made[0]
        assert display.advice, "no advice reached the photo screen"
        assert advice in display.advice, display.advice
        assert set(display.advice) <= {advice, "no_face"}, display.advice
        assert display.preview_frames > 0, "the live picture was never drawn"
        assert rig.kiosk is not None and rig.kiosk.state == "new_permit.photo"
    finally:
        rig.close()
