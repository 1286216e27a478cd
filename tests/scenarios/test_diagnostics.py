"""Technician diagnostics across kiosk processes: a restart in the middle of a PIN lockout
(RULES.md "Technician PIN": the count and the lockout survive a restart), and an export after a
resident was served, scanned for residents' data.

Each visit is a kiosk process of its own (`python -m sim.killpoints --child play`, as the
power-cut harness restarts a kiosk) against the same emulators and the same database.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kiosk.diagnostics_store import DiagnosticsStore
from sim import zygote
from sim.diagnostics_report import scan_for_residents
from sim.scenario import load, residents_json

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "diagnostics_restart"
DEMO = ROOT / "sim" / "scenarios" / "demo.toml"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[dict[str, Any]]:
    from sim.launcher import start_backend, start_hub
    from sim.pcscd import start_pcscd

    demo = load(DEMO)
    residents = tmp_path / "residents.json"
    residents.write_text(json.dumps(residents_json(demo), ensure_ascii=False), encoding="utf-8")
    pcscd = start_pcscd(tmp_path / "pcscd.log")
    hub = backend = None
    try:
        hub = start_hub(tmp_path, residents, [], pace=False, printer={})
        backend = start_backend(tmp_path, residents, demo.today.isoformat(), demo.policy, [])
        attach = tmp_path / "attach.json"
        attach.write_text(json.dumps({"hub": hub.ready, "backend_url": f"http://127.0.0.1:{backend.ready['port']}",
                                      "workdir": str(tmp_path)}), encoding="utf-8")
        yield {"attach": attach, "workdir": tmp_path}
    finally:
        for proc in (hub, backend, pcscd):
            if proc is not None:
                proc.stop()


def visit(rig: dict[str, Any], scenario: Path) -> dict[str, Any]:
    """One kiosk process plays the scenario against the running emulators; its expectations must hold."""
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONPATH=str(ROOT))
    report = rig["workdir"] / f"report-{scenario.stem}.json"
    proc = zygote.run([sys.executable, "-m", "sim.visit", "--attach", str(rig["attach"]), "--scenario",
                       str(scenario), "--report", str(report)], cwd=ROOT, env=env, timeout=120,
                      out_dir=rig["workdir"] / f"output-{scenario.stem}")
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    assert proc.returncode == 0, f"{data.get('failures')}\n{proc.stderr[-3000:]}"
    return data


def audit(rig: dict[str, Any]) -> list[str]:
    store = DiagnosticsStore(rig["workdir"] / "journal.sqlite")
    return [f"{r.action.value}:{r.result}" for r in store.audit_rows()]


def test_technician_pin_lockout_survives_a_restart(rig: dict[str, Any]) -> None:
    """RULES.md "Technician PIN": three wrong PINs lock the card for 60 s; a new kiosk process
    started inside the lockout still refuses the card (no PIN is even asked), and lets the
    technician in with the right PIN once the lockout ran out."""
    visit(rig, HERE / "1_locked.toml")
    first = audit(rig)
    assert [a for a in first if a.startswith(("pin_wrong", "locked"))] == [
        "pin_wrong:wrong=1:lockout=0", "pin_wrong:wrong=2:lockout=0", "pin_wrong:wrong=3:lockout=60", "locked:s=60"]
    store = DiagnosticsStore(rig["workdir"] / "journal.sqlite")
    assert store.pin_record("T0001").wrong_in_row == 3

    visit(rig, HERE / "2_after_restart.toml")
    second = audit(rig)[len(first):]
    refused = [a for a in second if a.startswith("card_refused")]
    assert len(refused) == 1 and refused[0].startswith("card_refused:locked:s=")
    left = int(refused[0].rsplit("=", 1)[1])
    assert 0 < left <= 60
    assert "pin_wrong" not in " ".join(second)  # a locked card's PIN is never asked for
    assert second.index("pin_right:ok") > second.index(refused[0])
    assert "entered:ok" in second
    assert store.pin_record("T0001").wrong_in_row == 0  # the right PIN reset the count
    # No PIN typed, right or wrong, reached the log or the database.
    for name in ("kiosk.jsonl", "journal.sqlite", "journal.sqlite-wal"):
        path = rig["workdir"] / name
        raw = path.read_bytes() if path.exists() else b""
        for pin in (b"111111", b"222222", b"333333", b"482913"):
            assert pin not in raw, f"a PIN in {name}"


def test_export_after_a_resident_was_served_holds_no_resident_data(rig: dict[str, Any]) -> None:
    demo = load(DEMO)
    visit(rig, DEMO)  # 张伟 gets a new permit
    visit(rig, HERE / "export.toml")
    exports = sorted((rig["workdir"] / "export").iterdir())
    assert len(exports) == 1
    folder = exports[0]
    names = {p.name for p in folder.iterdir()}
    assert names == {"readiness.png", "log.jsonl", "journal.json", "audit.json", "selftests.json", "manifest.json"}
    with Image.open(folder / "readiness.png") as png:
        assert png.size[0] > 0
    # The export is not trivially empty: the resident's session and issuance are in it.
    journal = json.loads((folder / "journal.json").read_text(encoding="utf-8"))
    assert [r["kind"] for r in journal] == ["new_permit"] and journal[0]["final"] == "issued"
    log = (folder / "log.jsonl").read_text(encoding="utf-8")
    assert '"SESSION_ENDED"' in log and '"TECHNICIAN_ENTERED"' in log
    assert scan_for_residents(folder, demo) == []
    # The scan finds what it looks for: a copy with the resident's name and ID number in it fails.
    tainted = rig["workdir"] / "tainted"
    shutil.copytree(folder, tainted)
    with (tainted / "log.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"name": demo.who.name}, ensure_ascii=False) + "\n")
        fh.write(json.dumps({"id": demo.who.id_number}) + "\n")
    found = scan_for_residents(tainted, demo)
    assert any("resident's value" in f for f in found) and any("ID number" in f for f in found)


def test_out_of_service_by_a_technician_survives_a_restart(rig: dict[str, Any]) -> None:
    """Taken out of service by a technician: a new kiosk process boots to 暂停服务 with nothing down
    (4_back_in_service.toml's first step), and only a technician puts it back."""
    first = visit(rig, HERE / "3_hold.toml")
    assert first["final_screen"] == "out_of_service"
    second = visit(rig, HERE / "4_back_in_service.toml")
    assert second["final_screen"] == "ready.attract"
    log = [json.loads(line) for line in (rig["workdir"] / "kiosk.jsonl").read_text(encoding="utf-8").splitlines()]
    changed = [r for r in log if r.get("event") == "SERVICES_CHANGED"]
    assert any("technician_hold" in r["unavailable"] for r in changed)
    assert changed[-1]["unavailable"] == "" and "new_permit" in changed[-1]["available"]
    assert [a.split(":")[0] for a in audit(rig)][-5:] == ["pin_right", "entered", "back_in_service", "left",
                                                          "card_returned"]
