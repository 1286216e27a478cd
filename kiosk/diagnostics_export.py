"""Diagnostics' export to a removable drive (`diagnostics.export_dir`, a folder in the simulator).

One folder per export, named by the terminal and the time: a readiness report (PNG: the device
board, the latest self-tests, supplies and counters) and the rows of a period: the log's
records, the journal's rows (request ids, permit numbers, card serials, steps: nothing
personal by construction, kiosk/journal_schema.py), the technicians' audit trail and the
self-test results. Only data the kiosk already keeps free of residents' data is exported, and
tests/scenarios/test_diagnostics.py scans what is written for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from kiosk import diagnostics_counters as dc
from kiosk.diagnostics_store import DiagnosticsStore
from kiosk.journal import Journal

WIDTH = 1240
LINE = 22


def write_export(export_dir: str, terminal: str, at: str, since: str, until: str, board: list[dict[str, Any]],
                 supplies: list[dict[str, Any]], counters: dict[str, Any], store: DiagnosticsStore,
                 journal: Journal | None, log_file: str) -> str:
    """Writes the export; returns the folder's name (a fixed-charset code, for the audit trail)."""
    stamp = at.replace("-", "").replace(":", "")
    name = f"{terminal}-{stamp}"
    folder = Path(export_dir) / name
    folder.mkdir(parents=True, exist_ok=True)
    tests = [r.__dict__ | {"outcome": r.outcome.value} for r in store.latest_selftests().values()]
    _report_png(folder / "readiness.png", terminal, at, board, tests, supplies, counters)
    with (folder / "log.jsonl").open("w", encoding="utf-8") as fh:
        for record in dc.log_records(log_file):
            if dc.in_period(str(record.get("t", "")), since, until):
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    rows = []
    for row in journal.rows() if journal is not None else []:
        created = row.created.isoformat(timespec="seconds")
        if dc.in_period(created, since, until):
            rows.append({"id": row.id, "kind": row.kind.value, "request_id": row.request_id,
                         "permit_number": row.permit_number, "card_serial": row.card_serial,
                         "step": row.step.value, "step_status": row.step_status.value,
                         "final": row.final.value if row.final else None, "created": created,
                         "updated": row.updated.isoformat(timespec="seconds")})
    _json(folder / "journal.json", rows)
    _json(folder / "audit.json", [r.__dict__ | {"action": r.action.value} for r in store.audit_rows(since, until)])
    _json(folder / "selftests.json",
          [r.__dict__ | {"outcome": r.outcome.value} for r in store.selftest_rows(since, until)])
    _json(folder / "manifest.json", {"terminal": terminal, "since": since, "until": until,
                                     "files": ["readiness.png", "log.jsonl", "journal.json", "audit.json",
                                               "selftests.json"]})
    return name


def _json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")


def _report_png(path: Path, terminal: str, at: str, board: list[dict[str, Any]], tests: list[dict[str, Any]],
                supplies: list[dict[str, Any]], counters: dict[str, Any]) -> None:
    lines = [f"Readiness report  {terminal}  {at}", ""]
    lines.append("DEVICES")
    for r in board:
        ident = " ".join(x for x in (r.get("model"), r.get("serial"), r.get("firmware")) if x)
        lines.append(f"  {r['device']:<12} {r['state']:<15} media={r['media']:<9} cause={r['cause']:<20} {ident}")
    lines += ["", "SELF-TESTS (latest)"]
    lines += [f"  {t['device']:<12} {t['test']:<8} {t['outcome']:<5} {t['message']}  {t['at']}" for t in tests]
    lines += ["", "SUPPLIES"]
    lines += [f"  {s['name']:<12} {s['level']:<8} count={s['count']} threshold={s['threshold']}" for s in supplies]
    lines += ["", "COUNTERS SINCE LAST RESET"]
    lines += [f"  {k:<16} {v}" for k, v in counters.items()]
    image = Image.new("L", (WIDTH, LINE * (len(lines) + 2)), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, text in enumerate(lines):
        draw.text((20, 10 + i * LINE), text, fill=0, font=font)
    image.save(path, "PNG")
