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


def test_a_fresh_clones_readme_says_how_to_start_a_terminal_as_a_service() -> None:
    """Issue 14's "done when": the README of a fresh clone starts a terminal as a service, with
    commands that name files the clone has."""
    root = DOC.parents[1]
    text = (root / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Start a terminal as a service"):]
    section = section[:section.index("\n## ")]
    for command in ("sudo deploy/install.sh", "/etc/kiosk/kiosk.toml", "systemctl restart kiosk",
                    "systemctl status kiosk", "journalctl -u kiosk", "docs/operations.md"):
        assert command in section, command
    assert (root / "deploy" / "install.sh").stat().st_mode & 0o111, "install.sh is executable"
    assert (root / "deploy" / "kiosk.service").is_file() and (root / "config" / "kiosk.toml").is_file()


def test_operations_says_how_a_city_wide_fleet_maps_onto_a_clustered_broker() -> None:
    section = DOC.read_text(encoding="utf-8").split("\n## Fleet\n", 1)[1]
    assert "EMQX" in section and "bridge" in section and "broker_host" in section
