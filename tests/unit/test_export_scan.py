"""The export scan's shape check (sim/diagnostics_report.scan_for_residents, SH-PRIV-1): a mobile
number on its own is found; eleven digits inside a longer token (a session id) are not. A run's
session id "d17021074064" failed the export test as "a phone number"."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.diagnostics_report import scan_for_residents
from sim.scenario import load

CASE = Path(__file__).resolve().parents[1] / "scenarios" / "cases" / "issued_happy_path.toml"


@pytest.mark.parametrize(("text", "phone"), [
    ('{"session": "d17021074064"}', False),
    ('{"request_id": "a13812345678b"}', False),
    ('{"t": 1764777307123}', False),  # 13 digits: a time in milliseconds
    ('{"phone": "13812345678"}', True),
    ("tel 13812345678.", True),
    ("电话13812345678。", True),
])
def test_a_phone_number_is_found_on_its_own_and_not_inside_an_id(tmp_path: Path, text: str, phone: bool) -> None:
    (tmp_path / "log.jsonl").write_text(text, encoding="utf-8")
    found = scan_for_residents(tmp_path, load(CASE))
    assert (found == ["log.jsonl: a phone number"]) is phone, found
