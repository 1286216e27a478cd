"""Diagnostics scenarios' part of the runner (sim/runner.py): the technician's hands on the
hub, the report's diagnostics fields read back from the kiosk's database, and the scan of an
export for residents' data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiosk import idnumber
from kiosk.diagnostics_counters import log_records
from kiosk.diagnostics_store import DiagnosticsStore
from sim import waits
from sim.scenario import Scenario, Step

# A mobile number on its own, not eleven digits inside a longer token: a session id is 12 random
# hex characters, and "d17021074064" (a real run's) looked like 17021074064 to the scan before.
_PHONE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_ID_LIKE = re.compile(r"(?<![0-9])(\d{17}[\dXx])(?![0-9])")


def expand_digits(scenario: Scenario, steps: list[Step]) -> list[Step]:
    """In a diagnostics scenario a `digits` step is a PIN attempt: its keys, then confirm (unless
    the scenario taps confirm itself next)."""
    if not scenario.diagnostics:
        return steps
    out: list[Step] = []
    for i, step in enumerate(steps):
        out.append(step)
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if step.do == "digits" and not (nxt is not None and nxt.do == "tap" and nxt.target == "confirm"):
            out.append(Step("tap", target="confirm"))
    return out


def insert_technician(player: Any, key: str | None) -> None:
    scenario: Scenario = player.scenario
    who = scenario.technicians[key or scenario.technician or ""]
    seen = waits.printer_changed(player.kiosk)
    reply = player.hub.call("insert_technician", card_id=who.card_id, pin=who.pin, status=who.status,
                            valid_until=who.valid_until.isoformat() if who.valid_until else None, role=who.role)
    if not reply.get("ok"):
        player.failures.append(f"the technician card of {who.key!r} could not be inserted: {reply.get('error')}")
    player.technician_inserted = True
    if reply.get("ok"):
        player.effect.expect(seen=seen)


def hand_step(player: Any, step: Step) -> bool:
    """The technician's (or the scenario's) hands: a fault, a refill, an emptied bin. True when done."""
    if step.do == "insert_technician_card":
        insert_technician(player, step.technician)
    elif step.do == "fault":
        if step.device == "camera":
            player.camera.fail(True)
        else:
            reply = player.hub.call("fault", device=step.device, kind=step.kind, at=step.at, count=step.count or 1)
            if not reply.get("ok"):
                player.failures.append(f"fault {step.device}/{step.kind}: {reply.get('error')}")
    elif step.do == "clear_fault":
        if step.device == "camera":
            player.camera.fail(False)
        else:
            reply = player.hub.call("clear_fault", device=step.device, kind=step.kind)
            if not reply.get("ok"):
                player.failures.append(f"clear_fault {step.device}/{step.kind}: {reply.get('error')}")
    elif step.do == "refill":
        player.hub.call("refill", count=step.count)
    elif step.do == "empty_bin":
        player.hub.call("empty_bin")
    else:
        return False
    player._expect_effect()
    return True


def store_of(player: Any) -> DiagnosticsStore | None:
    journal = player.kiosk.journal
    if journal is None:
        return None
    return DiagnosticsStore(player.kiosk.config.journal.file)


def audit_mark(player: Any) -> int:
    store = store_of(player)
    rows = store.audit_rows() if store is not None else []
    return rows[-1].id if rows else 0


def report_fields(player: Any) -> dict[str, Any]:
    store = store_of(player)
    if store is None:
        return {}
    audit = [r for r in store.audit_rows() if r.id > player.audit_start]
    lockout = 0
    for r in audit:
        if r.action.value == "pin_wrong":
            lockout = int(r.result.rsplit("lockout=", 1)[-1]) if "lockout=" in r.result else 0
    tests = {f"{d}.{t}": row.outcome.value for (d, t), row in store.latest_selftests().items()}
    messages = {f"{d}.{t}": row.message for (d, t), row in store.latest_selftests().items()}
    exports = [r.result for r in audit if r.action.value == "export" and r.result != "failed"]
    return {
        "diagnostics_entered": any(r.action.value == "entered" for r in audit),
        "pin_lockout_s": lockout,
        "audit": [f"{r.action.value}:{r.result}" for r in audit],
        "selftests": tests,
        "selftest_messages": messages,
        "exports": exports,
        "export_dir": player.kiosk.config.diagnostics.export_dir,
        # ID cards the kiosk read during the run (none while a technician is in: the reader is off).
        "id_cards_read": sum(1 for r in log_records(player.kiosk.config.logging.file)
                             if r.get("event") == "ID_CARD_READ"),
    }


def personal_values(scenario: Scenario) -> list[str]:
    out: list[str] = []
    for r in scenario.residents.values():
        out += [r.name, r.id_number, r.id_address, r.phone]
        if r.registration is not None:
            out.append(r.registration.address)
    return [v for v in out if v]


def scan_for_residents(folder: Path, scenario: Scenario) -> list[str]:
    """What of a resident's data an export holds: the scenario's residents' values, and anything
    shaped like a valid ID number or a mobile number. Empty: clean."""
    found: list[str] = []
    values = personal_values(scenario)
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        for v in values:
            if v in text or v.encode("utf-16-le") in raw:
                found.append(f"{path.name}: a resident's value")
        if any(idnumber.is_valid(m.group(1).upper()) for m in _ID_LIKE.finditer(text)):
            found.append(f"{path.name}: an ID number")
        if _PHONE.search(text):
            found.append(f"{path.name}: a phone number")
    return found


def check(scenario: Scenario, report: dict[str, Any]) -> list[str]:
    e, out = scenario.expect, []
    if e.diagnostics_entered is not None and e.diagnostics_entered != report.get("diagnostics_entered"):
        out.append(f"expected diagnostics_entered {e.diagnostics_entered}, got {report.get('diagnostics_entered')}")
    if e.pin_lockout_s is not None and e.pin_lockout_s != report.get("pin_lockout_s"):
        out.append(f"expected pin_lockout_s {e.pin_lockout_s}, got {report.get('pin_lockout_s')}")
    actions = {a.split(":", 1)[0] for a in report.get("audit", [])}
    for want in e.audit_includes:
        if want not in actions:
            out.append(f"expected audit action {want!r}; recorded: {', '.join(sorted(actions))}")
    tests = report.get("selftests", {})
    messages = report.get("selftest_messages", {})
    for key, want in e.selftests.items():
        got = [v for k, v in tests.items() if k == key or k.split(".", 1)[0] == key]
        verdict, _, cause = want.partition(":")
        causes = [messages.get(k, "").split(":", 1)[0] for k, v in tests.items()
                  if (k == key or k.split(".", 1)[0] == key) and v == "fail"]
        if not got:
            out.append(f"expected a self-test of {key}; none recorded")
        elif (verdict == "pass" and "fail" in got) or (verdict == "fail" and "fail" not in got):
            out.append(f"expected self-test {key} {verdict}, got {', '.join(got)}")
        elif cause and cause not in causes:
            out.append(f"expected self-test {key} to fail with cause {cause!r}, got {', '.join(causes)}")
    if e.export_clean is not None:
        exports = report.get("exports", [])
        if not exports:
            out.append("expected an export; none was written")
        else:
            folder = Path(report["export_dir"]) / exports[-1]
            found = scan_for_residents(folder, scenario)
            report["export_scan"] = found
            if e.export_clean and found:
                out.append(f"the export holds residents' data: {'; '.join(found)}")
    if e.resident_served is not None and e.resident_served != report.get("resident_served"):
        out.append(f"expected resident_served {e.resident_served}, got {report.get('resident_served')}")
    return out
