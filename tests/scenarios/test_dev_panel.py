"""The developer panel of windowed --sim, driven as a person would: a real X server (Xvfb), real
pointer events (xdotool through XTest) on the window's panel and on the scaled kiosk picture.

The person picks a resident from the scenario file, places their ID card, runs a new-permit
session to the end by tapping (their face shown and the card taken with the panel), then
injects a printer jam with the panel and meets the fault screen in the next session. The
desktop is smaller than the kiosk's 1080×1920, so the window picks a scale that fits; the
kiosk's own frames keep their coordinates (what the scenario runner taps at). Screenshots of
the window go to $PANEL_SHOTS (default: the test's tmp dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import run_kiosk
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.fonts import find_cjk_font
from kiosk.view import View
from sim.dev_panel import KIOSK_SIZE, PANEL_W, PanelSession, default_scale
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sim" / "scenarios" / "demo.toml"
DESKTOP = (1280, 1024)
WALL_LIMIT_S = 120.0  # a hang guard, not a timing assertion

# A second resident ahead of the demo's in the panel's list, so picking is a real choice.
OTHER = '''
[residents.an]
name = "安娜"
sex = "F"
nation = "01"
birth = "1992-05-01"
id_number = "330102199205010022"
id_address = "浙江省杭州市上城区解放路1号"
id_authority = "杭州市公安局上城分局"
id_valid_from = "2020-01-01"
id_valid_to = "2040-01-01"
card_type = "citizen"
phone = "13900139000"

[residents.an.registration]
address = "上海市徐汇区漕溪北路88号"
declared = "2026-03-15"
proof = "rental"
lives_there = true
'''

# What the person taps on each screen of a new-permit session (the panel does the rest).
TAPS = {
    "ready.attract": ["start"],
    "ready.menu": ["service.new_permit"],
    "new_permit.residence": ["answer.yes"],
    "new_permit.photo": ["capture"],
    "new_permit.phone": [*(f"key.{d}" for d in "13800138000"), "confirm"],
}


def free_xvfb(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Xvfb on a display number it picks itself (-displayfd), so parallel runs never collide."""
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("Xvfb and xdotool are needed (scripts/setup.sh installs them)")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{DESKTOP[0]}x{DESKTOP[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "xvfb.log").open("wb"))
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        proc.wait()
        pytest.fail(f"Xvfb did not start: {(tmp_path / 'xvfb.log').read_text()}")
    return proc, f":{number}"


@pytest.fixture
def xserver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import pygame

    pygame.display.quit()  # a dummy-driver display from an earlier test in this process
    proc, display = free_xvfb(tmp_path)
    monkeypatch.setenv("DISPLAY", display)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.setenv("SDL_VIDEO_WINDOW_POS", "0,0")
    try:
        yield display
    finally:
        pygame.display.quit()
        proc.terminate()
        proc.wait(10)


class Person:
    """One decision a frame: a click on the panel or the kiosk, then wait for its effect."""

    def __init__(self, session: PanelSession, shots: Path) -> None:
        self.session = session
        self.shots = shots
        self.script: list[Callable[[View], bool]] = []
        self.i = 0
        self.pending: Callable[[View], bool] | None = None
        self.started = time.monotonic()
        self.failure = ""
        self.tapped_on: dict[str, int] = {}
        self.seen: list[str] = []

    @property
    def window(self) -> Any:
        assert self.session.window is not None
        return self.session.window

    def click(self, pos: tuple[int, int]) -> None:
        import pygame

        wid = pygame.display.get_wm_info()["window"]
        subprocess.run(["xdotool", "mousemove", "--window", str(wid), str(pos[0]), str(pos[1]), "click", "1"],
                       check=True)

    def __call__(self, view: View) -> float | None:
        if not self.seen or self.seen[-1].split("@")[0] != view.screen_id:
            self.seen.append(f"{view.screen_id}@{time.monotonic() - self.started:.0f}s")
        if time.monotonic() - self.started > WALL_LIMIT_S:
            self.failure = f"stuck at step {self.i} on {view.screen_id}; seen {self.seen}"
            return None
        if self.pending is not None:
            if not self.pending(view):
                return 0.02
            self.pending = None
        if self.i >= len(self.script):
            return None
        if self.script[self.i](view):
            self.i += 1
        return 0.02

    # --- script steps ---------------------------------------------------------------------

    def panel(self, control: str) -> None:
        def step(view: View) -> bool:
            pos = self.window.control_center(control)
            assert pos is not None, control
            before = self.window.panel.last
            self.click(pos)
            self.pending = lambda v: self.window.panel.last is not before
            return True
        self.script.append(step)

    def tap(self, button: str) -> None:
        """The kiosk's button, tapped on the scaled picture once it is shown and enabled."""
        def step(view: View) -> bool:
            pos = self.window.kiosk_button_center(button)
            if pos is None or not any(b.id == button and b.enabled for b in view.all_buttons()):
                return False
            self.click(pos)
            self.pending = lambda v, seen=view: v != seen
            return True
        self.script.append(step)

    def shot(self, name: str) -> None:
        def step(view: View) -> bool:
            self.window.screenshot(str(self.shots / name))
            return True
        self.script.append(step)

    def until(self, predicate: Callable[[View], bool]) -> None:
        self.script.append(predicate)

    def run_session_by_tapping(self, until_screen: str) -> None:
        """Taps what TAPS says on each screen until `until_screen` is shown; the face is shown
        with the panel when the photo screen asks for it."""
        state = {"face": False}

        def step(view: View) -> bool:
            if view.screen == until_screen:
                return True
            if view.screen == "new_permit.photo" and not state["face"]:
                pos = self.window.control_center("face.own")
                before = self.window.panel.last
                self.click(pos)
                state["face"] = True
                self.pending = lambda v: self.window.panel.last is not before
                return False
            taps = TAPS.get(view.screen, ["confirm"])
            done = self.tapped_on.get(view.screen_id, 0)
            if view.overlay is not None:
                taps, done = ["still_here"], 0
            if done >= len(taps):
                return False
            button = taps[done]
            pos = self.window.kiosk_button_center(button)
            live = any(b.id == button and b.enabled for b in view.all_buttons())
            if pos is None or not live:
                return False
            self.click(pos)
            self.tapped_on[view.screen_id] = done + 1
            self.pending = lambda v, seen=view: v != seen
            return False

        def reset(view: View) -> bool:
            self.tapped_on.clear()
            return True

        self.script.append(reset)
        self.script.append(step)


def two_resident_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "panel.toml"
    path.write_text(DEMO.read_text(encoding="utf-8").split("[expect]", 1)[0] + OTHER, encoding="utf-8")
    return path


def test_default_scale_fits_the_desktop() -> None:
    assert default_scale((1920, 1080)) == 0.5
    assert default_scale((1280, 1024)) == 0.45
    assert default_scale((3840, 2400)) == 1.0
    for desktop in ((1920, 1080), (1280, 1024), (1366, 768)):
        scale = default_scale(desktop)
        assert KIOSK_SIZE[1] * scale <= desktop[1] and KIOSK_SIZE[0] * scale + PANEL_W <= desktop[0]
    assert default_scale((640, 480)) == 0.2  # the smallest it goes; the window is then larger than the screen


def test_panel_runs_a_session_and_injects_a_jam(xserver: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("PANEL_SHOTS", str(tmp_path / "shots")))
    shots.mkdir(parents=True, exist_ok=True)
    scenario = load(two_resident_scenario(tmp_path))
    session = PanelSession(scenario, config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                           font=find_cjk_font(None))
    person = Person(session, shots)
    try:
        session.start()
        window = session.window
        assert window is not None
        # The desktop is 1024 px high: the whole kiosk fits only scaled.
        assert window.scale == default_scale(DESKTOP) < 1.0
        assert window.window.get_height() <= DESKTOP[1]
        panel = window.panel
        person.until(lambda v: v.screen == "ready.attract")
        assert panel.resident == "zhang"  # the scenario's resident comes first
        person.panel("resident.next")
        person.until(lambda v: panel.resident == "an")
        person.panel("resident.prev")
        person.until(lambda v: panel.resident == "zhang")
        person.panel("id.place")
        person.shot("01_attract_resident_picked.png")
        person.run_session_by_tapping("new_permit.take_card")
        person.shot("02_take_card.png")
        person.panel("card.take")
        # 完成 at once rather than the done screen's 15 s (real time here): most of this test's wall time.
        person.until(lambda v: v.screen == "new_permit.done")
        person.tap("confirm")
        person.until(lambda v: v.screen == "ready.attract")
        person.panel("id.lift")
        person.panel("fault.printer.jam")
        person.shot("03_jam_injected.png")
        # The next resident: the other one of the file (the first holds a permit now).
        person.panel("resident.next")
        person.panel("id.place")
        person.run_session_by_tapping("fault")
        person.shot("04_fault_screen.png")
        session.run(person)
        assert not person.failure, person.failure
        assert person.i == len(person.script), f"stopped at step {person.i}; seen {person.seen}"
        summaries = session.rig.kiosk.finished if session.rig.kiosk is not None else []
        hub = session.rig.hub_state()["printer"]
    finally:
        session.close()
    assert summaries[0].outcome == "issued", summaries
    assert "new_permit.read_id" in summaries[0].screens
    assert hub["cards_issued"] == 1
    assert any(s.startswith("fault@") for s in person.seen)
    assert all((shots / n).is_file() for n in ("01_attract_resident_picked.png", "04_fault_screen.png"))


def test_panel_inserts_the_technician_card_and_injects_every_fault(xserver: str, tmp_path: Path) -> None:
    """The technician card from the panel opens diagnostics (the PIN tapped on the kiosk), and
    every fault, clear and supplies control of the panel is accepted by its emulator."""
    shots = Path(os.environ.get("PANEL_SHOTS", str(tmp_path / "shots")))
    shots.mkdir(parents=True, exist_ok=True)
    session = PanelSession(load(DEMO), config=load_kiosk_config(), sim=load_sim_config(),
                           build=run_kiosk.build_kiosk, font=find_cjk_font(None))
    person = Person(session, shots)
    replies: dict[str, dict[str, Any]] = {}
    try:
        session.start()
        window = session.window
        assert window is not None
        panel = window.panel
        pin = panel.technician.pin
        person.until(lambda v: v.screen == "ready.attract")
        person.panel("card.technician")
        person.until(lambda v: v.screen == "diagnostics.pin")
        for digit in pin:
            person.tap(f"key.{digit}")
        person.tap("confirm")
        person.until(lambda v: v.screen == "diagnostics.board")
        person.shot("05_board_from_panel.png")
        person.tap("diag.leave")
        person.until(lambda v: v.screen == "diagnostics.card_out")
        person.panel("card.take")
        person.until(lambda v: v.screen in ("ready.attract", "out_of_service"))
        controls = [c.id for c in panel.controls if c.run is not None
                    and c.id.split(".", 1)[0] in ("fault", "clear", "supplies")]
        for cid in controls:
            person.panel(cid)

            def keep(view: View, cid: str = cid) -> bool:
                assert panel.last is not None
                replies[cid] = panel.last[1]
                return True
            person.until(keep)
        person.shot("06_every_fault_injected.png")
        session.run(person)
        assert not person.failure, person.failure
        assert person.i == len(person.script), f"stopped at step {person.i}; seen {person.seen}"
    finally:
        session.close()
    devices = {cid.split(".")[1] for cid in controls if cid.startswith("fault.")}
    assert devices == {"id_reader", "printer", "permit_card", "qr_scanner", "camera", "backend"}
    refused = {cid: r for cid, r in replies.items() if not r.get("ok")}
    assert not refused, refused
    assert set(replies) == set(controls)
