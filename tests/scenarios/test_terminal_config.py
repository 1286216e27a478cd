"""What an operator configures is what the terminal offers (issue 14), through `run_kiosk.py`:

- `terminal.services` without registration: no registration tile on the menu at all, the other
  three offered; a resident who came to register walks away and nothing is done;
- no chip keys (`devices.encoder.keys_file = ""`, the scenario's `chip_keys = false`): the kiosk
  starts, the encoder is unavailable, the services that need the chip are greyed out and the
  others offered, and a registration (no chip) is served to its end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.scenarios.play import run

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "scenarios" / "cases"
AT_REST = '\n[expect]\nfinal_screen = "ready.attract"\ncards_issued = 0\ncards_retained = 0\n'


def _run(tmp_path: Path, scenario_text: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    """`run_kiosk.py --sim --headless --scenario ...` (tests/scenarios/play.py: the fork server's)."""
    scenario = tmp_path / "case.toml"
    scenario.write_text(scenario_text, encoding="utf-8")
    return run(scenario, tmp_path, *extra)


def _without_expect(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[:text.index("[expect]")]


def test_a_terminal_configured_without_registration_does_not_offer_it(tmp_path: Path) -> None:
    config = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    line = 'services = ["new_permit", "card_rewrite", "registration", "status_query"]'
    assert line in config
    (tmp_path / "kiosk.toml").write_text(
        config.replace(line, 'services = ["new_permit", "card_rewrite", "status_query"]'), encoding="utf-8")
    scenario = _without_expect(CASES / "registration_dormitory_sh_reg_5.toml") + AT_REST
    code, report, stderr = _run(tmp_path, scenario, "--config", str(tmp_path / "kiosk.toml"))
    assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
    assert report["menu"] == [{"id": "service.new_permit", "enabled": True},
                              {"id": "service.card_rewrite", "enabled": True},
                              {"id": "service.status_query", "enabled": True}]
    assert report["sessions"] == [] and report["final_screen"] == "ready.attract"


def test_no_chip_keys_greys_out_the_chip_services_and_offers_the_others(tmp_path: Path) -> None:
    demo = (ROOT / "sim" / "scenarios" / "demo.toml").read_text(encoding="utf-8")
    scenario = "chip_keys = false\n" + demo[:demo.index("[expect]")] + AT_REST
    code, report, stderr = _run(tmp_path, scenario)
    assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
    assert report["menu"] == [{"id": "service.new_permit", "enabled": False},
                              {"id": "service.card_rewrite", "enabled": False},
                              {"id": "service.registration", "enabled": True},
                              {"id": "service.status_query", "enabled": True}]
    assert report["sessions"] == [] and report["cards_issued"] == 0


def test_no_chip_keys_still_serves_a_registration_to_its_end(tmp_path: Path) -> None:
    scenario = "chip_keys = false\n" + (CASES / "registration_dormitory_sh_reg_5.toml").read_text(encoding="utf-8")
    code, report, stderr = _run(tmp_path, scenario)
    assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
    assert report["outcome"] == "registered"
    assert {"id": "service.new_permit", "enabled": False} in report["menu"]


def test_no_chip_keys_gives_the_technician_card_back(tmp_path: Path) -> None:
    # Without keys the technician card cannot be read (nor its PIN checked): it is refused and
    # given back, never kept; diagnostics cannot be entered by card (docs/operations.md).
    scenario = """chip_keys = false
service = "diagnostics"
today = "2026-11-22"
technician = "t1"

[technicians.t1]
card_id = "T0007"
pin = "482913"
status = "active"
valid_until = "2027-12-31"

[[steps]]
do = "insert_technician_card"

[expect]
diagnostics_entered = false
final_screen = "ready.attract"
cards_retained = 0
audit_includes = ["card_refused", "card_returned"]
"""
    code, report, stderr = _run(tmp_path, scenario)
    assert code == 0, f"{report.get('failures')}\n{stderr[-3000:]}"
    assert report["audit"] == ["card_refused:no_chip", "card_returned:ok"]
