"""The status query end to end, beyond its scenario files: the QR code on the screen and what is
left of the shown data after goodbye.

- SH-PTS-2: the QR code drawn on the show screen, read back from the screenshot with zxing-cpp,
  carries the number of the points notice the backend holds for that permit (read from the
  backend's own database); where the points do not stand, no code is drawn.
- SH-PRIV-1: after the session ends, nothing of what the status screen showed is left in the
  kiosk's session or in the display's caches (frames, spare surfaces, rendered text).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pygame
import zxingcpp
from PIL import Image

import run_kiosk
from kiosk.config import load_kiosk_config, load_sim_config
from screens.theme import BACKGROUND
from sim.runner import SimRig
from sim.scenario import load
from tests.scenarios.play import run

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "scenarios" / "cases"


def show_screenshot(shots: Path) -> list[Path]:
    """The status screen's screenshot and, when its body scrolls, its further pages."""
    (found,) = sorted(shots.glob("*_status_query.show.png"))
    return [found, *sorted(shots.glob("*_status_query.show.page*.png"))]


def qr_codes(pngs: list[Path]) -> list[str]:
    """The QR codes a resident sees on the screen, scrolling through it: each once."""
    found = [r.text for png in pngs for r in zxingcpp.read_barcodes(Image.open(png))
             if r.format == zxingcpp.BarcodeFormat.QRCode]
    return list(dict.fromkeys(found))


def test_sh_pts_2_the_qr_code_on_the_screen_is_the_points_notice_number(tmp_path: Path):
    scenario = CASES / "status_shanghai_passed_old_card_face.toml"
    shots = tmp_path / "shots"
    code, report, stderr = run(scenario, tmp_path, "--screenshots", str(shots), "--keep-workdir")
    workdir = Path(report["workdir"]) if "workdir" in report else None
    try:
        assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
        assert workdir is not None
        who = load(scenario).who
        assert who.permit is not None
        db = sqlite3.connect(workdir / "backend.sqlite")
        try:
            (notice,) = db.execute("SELECT notice FROM points WHERE permit_number = ?", (who.permit.number,)).fetchone()
        finally:
            db.close()
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    assert qr_codes(show_screenshot(shots)) == [notice]
    assert report["shown"]["points"] == who.permit.points


def test_sh_pts_2_no_code_where_the_points_do_not_stand(tmp_path: Path):
    # In the grace the points are suspended (SH-END-2): no notice to take away.
    shots = tmp_path / "shots"
    code, report, stderr = run(CASES / "status_shanghai_grace_v_plus_1.toml", tmp_path, "--screenshots", str(shots))
    assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
    assert report["shown"]["points_valid"] is False
    assert qr_codes(show_screenshot(shots)) == []


def test_sh_priv_1_nothing_shown_survives_goodbye_in_the_session_or_the_display(tmp_path: Path):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    scenario = load(CASES / "status_shanghai_passed_old_card_face.toml")
    who = scenario.who
    assert who.registration is not None and who.permit is not None
    secrets = {"address": who.registration.address, "permit number": who.permit.number, "name": who.name,
               "points notice": f"JF{who.permit.number}"}
    rig = SimRig(scenario, config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display)
    try:
        rig.start()
        player = rig.play()
        kiosk, display = rig.kiosk, rig.display
        assert kiosk is not None
        assert player.shown is not None and player.shown["endorsement"] == "passed"  # it was on the screen
        summary = kiosk.finished[-1]
        assert (summary.outcome, summary.screens[-3:]) == ("info_shown", ("status_query.show", "status_query.done",
                                                                          "goodbye"))
        assert kiosk.state == "ready.attract" and kiosk.session.service_data is None
        assert kiosk.session.identity is None
        cached = repr([list(display._layers._items), list(display.text._lines._items),
                       list(display.text._widths._items), list(display.text._wraps._items),
                       list(display._panels._items)])
        left = [what for what, value in secrets.items() if value in cached]
        assert not left, f"the display still caches the resident's {', '.join(left)} after goodbye"
        screens = [key[0] if key[0] != "dim" else key[1][0] for key in display._layers._items]
        assert not [s for s in screens if s.startswith("status_query.")], screens
        # The spare layer surface and page surface are kept for speed (issue 16),
        # so they must have been wiped: nothing on them but the background.
        kept = display.surfaces.kept()
        for surface in kept:
            pixels = pygame.surfarray.pixels3d(surface)
            try:
                assert (pixels == BACKGROUND[:3]).all(), "a kept surface still holds pixels of a screen"
            finally:
                del pixels  # the surface stays locked while the array lives
    finally:
        rig.close()
