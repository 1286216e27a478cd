"""Counters since the last reset, pure: the kiosk's own log records and journal rows in, counts out.

Derived, never kept: sessions, refusals and faults from the log's records (the one catalog,
kiosk/logevents.py), cards from the journal's rows, so a counter cannot drift from what
happened. A reset is a point in time (the audit trail's `counters_reset`), not a deletion.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kiosk.journal_model import Final, JournalRow, Kind, Step


def log_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The log file's records; a line cut by a power cut is skipped."""
    p = Path(path)
    if not p.is_file():
        return
    with p.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def in_period(at: str, since: str | None, until: str | None = None) -> bool:
    return (since is None or at >= since) and (until is None or at <= until)


def counters(records: Iterable[dict[str, Any]], rows: Iterable[JournalRow], since: str | None) -> dict[str, Any]:
    sessions = 0
    refusals: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    jams = test_cards = 0
    for r in records:
        if not in_period(str(r.get("t", "")), since):
            continue
        event = r.get("event")
        if event == "SESSION_ENDED":
            sessions += 1
            if r.get("outcome") == "counter_referral" and r.get("reason"):
                refusals[str(r["reason"])] += 1
        elif event == "DEVICE_FAULT":
            faults[str(r.get("device", ""))] += 1
            if r.get("error") == "jam":
                jams += 1
        elif event == "CARD_STUCK":
            jams += 1
        elif event == "SELFTEST_RESULT" and r.get("test") in ("feed", "print") and r.get("outcome") == "pass":
            test_cards += 1  # a blank card fed and retracted to the reject bin
    issued = retained = rewritten = 0
    for row in rows:
        if since is not None and row.created.isoformat(timespec="seconds") < since:
            continue
        if row.kind is Kind.NEW_PERMIT and row.completed(Step.TAKEN):
            issued += 1
        if row.final is Final.RETAINED:
            retained += 1
        if row.kind is Kind.REWRITE and row.completed(Step.RETURNED):
            rewritten += 1
    return {
        "sessions": sessions, "cards_issued": issued, "cards_retained": retained, "cards_rewritten": rewritten,
        "test_cards": test_cards, "jams": jams, "device_faults": sum(faults.values()),
        "refusals": dict(sorted(refusals.items())),
    }


def last_errors(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each device's last reported problem, "code@time" (from its status records and faults),
    so the board can say what went wrong even after the device recovered."""
    out: dict[str, str] = {}
    for r in records:
        event, device = r.get("event"), str(r.get("device", ""))
        if event == "DEVICE_STATUS" and r.get("state") not in ("online", "busy", None):
            detail = str(r.get("detail") or r.get("state"))
            if detail not in ("not_started", "stopped"):
                out[device] = f"{detail}@{r.get('t', '')}"
        elif event == "DEVICE_STATUS" and r.get("media") == "jammed":
            out[device] = f"jam@{r.get('t', '')}"
        elif event in ("DEVICE_FAULT", "CARD_STUCK") and device:
            out[device] = f"{r.get('error') or 'fault'}@{r.get('t', '')}"
    return out
