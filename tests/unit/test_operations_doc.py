"""docs/operations.md stays true: its alerts table names every warning and error event of the
catalog (kiosk/logevents.py) with its code and level, and nothing the catalog does not have."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from kiosk.logevents import LogEvent

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_every_warning_and_error_event_is_explained() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Alerts"):text.index("\n## ", text.index("## Alerts") + 1)]
    rows = {m.group(2): (m.group(1), m.group(3)) for m in
            re.finditer(r"^\| (\w+) \| `(\w+)` \| (warning|error) \|", section, re.MULTILINE)}
    alerts = {e.name: (e.value.code, logging.getLevelName(e.value.level).lower())
              for e in LogEvent if e.value.level >= logging.WARNING}
    assert rows == alerts
    assert "(fleet.md)" in text
