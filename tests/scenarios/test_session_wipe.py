"""The idle timeout and goodbye wipe the session (SH-PRIV-1): in-process, on the real emulated stack."""

from __future__ import annotations

import os
import time
from dataclasses import fields, replace
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


class WatchedDisplay:
    """The real display; remembers what its caches held just before and just after each
    `forget_session` (the main loop calls it once goodbye has replaced the session)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.before: list[set[str]] = []
        self.after: list[set[str]] = []
        self.layers_after: list[int] = []

    def forget_session(self) -> None:
        self.before.append(self.inner.cached_texts())
        self.inner.forget_session()
        self.after.append(self.inner.cached_texts())
        self.layers_after.append(len(self.inner._layers))

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def personal_strings(scenario) -> dict[str, str]:
    who = scenario.residents[scenario.resident]
    out = {"name": who.name, "id_number": who.id_number, "household_address": who.id_address,
           "phone": who.phone, "id_number (last 8)": who.id_number[-8:], "phone (last 8)": who.phone[-8:]}
    if who.registration is not None:
        out["residence_address"] = who.registration.address
    return out


def test_no_rendered_line_of_a_session_survives_goodbye():
    """SH-PRIV-1: the display's text cache, its width and wrap caches and its cached screen layers
    hold the resident's name, ID number, addresses and phone while the session runs (checked, so
    this test can fail), and none of it once goodbye ended the session; the translations stay."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    scenario = load(ROOT / "sim" / "scenarios" / "demo.toml")
    made: list[WatchedDisplay] = []

    def make_display(cfg):
        made.append(WatchedDisplay(run_kiosk.make_display(cfg)))
        return made[-1]

    # The kiosk as a terminal boots it: its text warmed (screens/warm.py), which the wipe must not undo.
    sim = load_sim_config()
    sim = replace(sim, run=replace(sim.run, warm_text=True))
    rig = SimRig(scenario, config=load_kiosk_config(), sim=sim, build=run_kiosk.build_kiosk,
                 make_display=make_display)
    try:
        rig.start()
        player = rig.play()
        assert not player.failures, player.failures
        assert rig.kiosk is not None and rig.kiosk.finished[-1].outcome == "issued"
        display = made[0]
        assert len(display.inner.text.laid_out()[0]) > 1000, "the boot warm-up ran"
        assert len(display.before) == 1, "forget_session is called once per ended session"
        secrets = personal_strings(scenario)
        held = display.before[0]
        for label in ("name", "household_address", "residence_address"):
            assert any(secrets[label] in t for t in held), f"the {label} was never cached: the check is blind"
        kept = display.after[0]
        for label, secret in secrets.items():
            leaked = [t for t in kept if secret in t]
            assert not leaked, f"the resident's {label} outlived the session in the display's caches"
        assert display.layers_after[0] <= 1  # only the screen shown now (the attract screen)
        assert kept & display.inner.text.static, "the translations are kept for the next session"
    finally:
        rig.close()


class PreviewWatchedDisplay(WatchedDisplay):
    """The real display; on the photo screen it lets the resident stand before the camera until
    the live preview has shown them (a condition with a deadline, so the check below is not
    blind), and remembers what the preview held when goodbye ended the session."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.preview_shown = 0
        self.preview_after: list[tuple[object, object]] = []

    def render(self, view) -> None:
        self.inner.render(view)
        if view.screen == "new_permit.photo" and not self.preview_shown and self.inner._preview is not None:
            deadline = time.monotonic() + 10.0
            while self.inner._preview.latest() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            self.inner.render(view)
            self.preview_shown = self.inner._preview_seq or 0

    def forget_session(self) -> None:
        super().forget_session()
        self.preview_after.append((self.inner._preview.latest(), self.inner._preview_surface))


def test_the_live_preview_shows_the_resident_and_goes_with_the_session():
    """SH-PRIV-1: the photo screen's live frames are the resident's picture. They reach the screen
    while the photo is taken (checked, so this can fail), the camera stops sending them when the
    photo screen is left, and at goodbye neither the preview channel nor the display holds one."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    scenario = load(ROOT / "sim" / "scenarios" / "demo.toml")
    made: list[PreviewWatchedDisplay] = []

    def make_display(cfg):
        made.append(PreviewWatchedDisplay(run_kiosk.make_display(cfg)))
        return made[-1]

    rig = SimRig(scenario, config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=make_display)
    try:
        rig.start()
        player = rig.play()
        assert not player.failures, player.failures
        assert rig.kiosk is not None and rig.kiosk.finished[-1].outcome == "issued"
        display = made[0]
        assert display.preview_shown > 0, "no live frame reached the photo screen: the check is blind"
        camera = rig.kiosk.ports.camera
        assert camera._preview_on is False, "the camera still streams after the photo screen"
        assert display.preview_after == [(None, None)]
        assert camera.preview.latest() is None
    finally:
        rig.close()
