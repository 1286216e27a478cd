"""The hopper runs empty after the backend approved: the approval is voided and no card moves.

A whole session in-process on the real emulated stack (device hub over ptys, pcscd, the
backend over HTTP). The blank-card hopper empties while the resident waits for the
approval, so the kiosk holds an approval it cannot print. The records of all three parties
must agree: the backend holds the approval voided, the printer handed out and retained
nothing, and the journal's row is finished `voided` (no card ever left the hopper).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import run_kiosk
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.journal import Journal
from kiosk.view import View
from sim import runner
from sim.runner import ScenarioPlayer, SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
HAPPY = ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml"
# The hopper empties once the resident has asked for the permit: the service was offered with
# cards in the hopper, and the approval is on its way or in hand when the feed finds none.
EMPTY_AT = "new_permit.submit"


def hopper_empty_scenario(tmp_path: Path) -> Path:
    text = HAPPY.read_text(encoding="utf-8")
    head = text.split("[expect]", 1)[0]
    path = tmp_path / "hopper_empty_after_approval.toml"
    path.write_text(head + '[expect]\noutcome = "counter_referral"\nreason = "DEVICE_FAULT"\n'
                           "cards_issued = 0\ncards_retained = 0\n", encoding="utf-8")
    return path


def test_hopper_empty_is_voided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emptied: list[str] = []
    frame_hook = ScenarioPlayer.__call__

    def empty_the_hopper_on_submit(self: ScenarioPlayer, view: View) -> Any:
        if view.screen == EMPTY_AT and not emptied:
            reply = self.hub.call("fault", device="printer", kind="hopper_empty")
            emptied.append(view.screen if reply.get("ok") else f"refused: {reply}")
        return frame_hook(self, view)

    monkeypatch.setattr(runner.ScenarioPlayer, "__call__", empty_the_hopper_on_submit)
    (tmp_path / "rig").mkdir()
    rig = SimRig(load(hopper_empty_scenario(tmp_path)), config=load_kiosk_config(), sim=load_sim_config(),
                 build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        hub = rig.hub_state()
        report = player.report(hub, 0.0)
        kiosk = rig.kiosk
        assert kiosk is not None
        final_state = kiosk.state
    finally:
        rig.close(keep_workdir=True)

    assert emptied == [EMPTY_AT], "the session never reached the submit screen, or the hub refused the fault"
    # The scenario's expectations: a counter referral for a device fault, no card to anyone.
    assert report["failures"] == [], report["failures"]
    assert (report["outcome"], report["reason"]) == ("counter_referral", "DEVICE_FAULT")
    # The printer: nothing handed out, nothing retained, no card ever moved, the hopper empty.
    printer = hub["printer"]
    assert (printer["cards_issued"], printer["cards_retained"], printer["hopper"]) == (0, 0, 0)
    assert printer["records"] == [], "a card left the hopper"
    # The backend: the one approval of this session is voided, none is left approved or issued.
    backend = sqlite3.connect(rig.workdir / "backend.sqlite")
    try:
        approved = backend.execute("SELECT permit_number FROM applications WHERE approved = 1").fetchall()
        states = backend.execute("SELECT permit_number, state FROM issuances").fetchall()
    finally:
        backend.close()
    assert len(approved) == 1, f"expected one approval before the feed, got {len(approved)}"
    assert states == [(approved[0][0], "voided")]
    # The journal: the row is finished `voided` (not retained: no card left the hopper), none open.
    with Journal(rig.workdir / "journal.sqlite") as journal:
        assert journal.unfinished() == []
        counters = journal.counters()
    assert {k: counters[k] for k in ("handed_out", "retained", "voided", "unfinished")} == {
        "handed_out": 0, "retained": 0, "voided": 1, "unfinished": 0}
    db = sqlite3.connect(rig.workdir / "journal.sqlite")
    try:
        rows = db.execute("SELECT kind, permit_number, final, card_serial FROM journal_row").fetchall()
    finally:
        db.close()
    assert rows == [("new_permit", approved[0][0], "voided", None)]
    # The resident was told: the session went through a fault or refusal screen and said goodbye.
    assert report["screens"][-3:] == ["new_permit.issuing", "fault", "goodbye"], report["screens"]
    assert final_state in ("ready.attract", "out_of_service")
