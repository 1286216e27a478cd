"""The device board and the technician's actions in diagnostics (kiosk/flows/diagnostics.py).

The board is built from the one status model (devices/status.py) as the availability keeps it:
each device's state, media, supplies and model/serial/firmware, and its one cause in fixed codes
(kiosk/selftest.py) that the screen puts into words with what to do. Actions: record a refill
or an emptied reject bin (the printer's sensors give the counts), reset the counters, take the
terminal out of service and back (kept across a restart), export a readiness report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from devices.status import DeviceKind, SupplyLevel
from kiosk import diagnostics_counters as dc
from kiosk import selftest as stt
from kiosk.diagnostics_store import AuditAction
from kiosk.flows.diagnostics_tests import Tests
from kiosk.logevents import LogEvent

EXPORT_DAYS = 7  # the period an export covers, up to now
ALERT_LEVELS: dict[str, tuple[SupplyLevel, ...]] = {
    "hopper": (SupplyLevel.LOW, SupplyLevel.EMPTY), "reject_bin": (SupplyLevel.HIGH, SupplyLevel.FULL),
}


@dataclass
class DiagState:
    """The technician's side of the mode, in `session.service_data` (dropped when the mode ends)."""

    card_id: str = ""
    role: str = ""
    valid_until: str = ""
    digits: str = field(default="", repr=False)  # the PIN being typed: memory only, cleared once checked
    problem: str = ""  # why the card goes back: revoked, expired, locked, not_a_technician_card, left, idle
    lockout_s: int = 0
    last_lockout_s: int = 0
    tries_left: int = 3
    wrong: bool = False
    entered: bool = False
    notice: str = ""  # what the last action did, a fixed code
    rows: list[dict[str, Any]] = field(default_factory=list)
    supplies: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, Any] = field(default_factory=dict)
    tests: list[dict[str, Any]] = field(default_factory=list)
    testing: str = ""  # the self-test running now, "device.test"
    held_out: bool = False


class Board:
    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.core = flow.core
        self.tests = Tests(flow)
        self._alerted: set[str] = set()
        self._supply_records: list[str] = []

    # --- the board ----------------------------------------------------------------------------

    def refresh(self, records: bool = True) -> None:
        """The board from the statuses; with `records`, also what is read from the log, the
        journal and the store (counters, last errors, self-tests): not on every status change."""
        s, a = self.flow.st, self.core.availability
        rows = []
        for kind in stt.BOARD_ORDER:
            st = a.status.get(kind)
            cause = stt.cause_of(kind, st)
            last = next((r["last_error"] for r in s.rows if r["device"] == kind.value), "")
            rows.append({
                "device": kind.value, "state": st.state.value if st else "not_installed",
                "media": st.media.value if st else "none", "model": st.info.model if st else "",
                "serial": st.info.serial if st else "", "firmware": st.info.firmware if st else "",
                "cause": cause, "last_error": last,
            })
        s.rows = rows
        s.held_out = a.held_out
        printer = a.status.get(DeviceKind.PRINTER)
        s.supplies = [{"name": x.name, "level": x.level.value, "count": x.count, "threshold": x.threshold}
                      for x in (printer.supplies if printer else ())]
        store = self.flow.store
        if store is not None and records:
            reset = store.last_audit(AuditAction.COUNTERS_RESET)
            since = reset.at if reset else None
            rows_ = self.core.journal.rows() if self.core.journal is not None else []
            log = list(dc.log_records(self.core.config.logging.file))
            s.counters = dc.counters(log, rows_, since)
            last = dc.last_errors(log)
            for row in s.rows:
                row["last_error"] = last.get(row["device"], "")
            latest = store.latest_selftests()
            s.tests = [{"device": r.device, "test": r.test, "outcome": r.outcome.value, "message": r.message}
                       for r in sorted(latest.values(), key=lambda r: r.id)]

    def supply_alerts(self) -> None:
        """Whenever the printer reports: a supply that reached a level a technician must act on is
        logged once per level reached (the attract screen's service line shows a service made
        impossible by it); back to normal, it may alert again."""
        printer = self.core.availability.status.get(DeviceKind.PRINTER)
        for sup in printer.supplies if printer is not None else ():
            key = f"{sup.name}:{sup.level.value}"
            if sup.level in ALERT_LEVELS.get(sup.name, ()):
                if key not in self._alerted:
                    self._alerted.add(key)
                    self.core.log.emit(LogEvent.SUPPLY_ALERT, supply=sup.name, level=sup.level.value)
            else:
                self._alerted = {k for k in self._alerted if not k.startswith(sup.name + ":")}

    # --- actions ------------------------------------------------------------------------------

    def action(self, target: str) -> bool:
        s, a = self.flow.st, self.core.availability
        if self.core.state != "diagnostics.board":
            return False
        if target in ("diag.refilled", "diag.bin_emptied"):
            # Recorded with the counts the printer's sensors give now, not the last poll's.
            self._supply_records.append(target)
            self.core.runtime.pending.add("diag.supply")
            self.core.ports.printer.refresh_status()
            return True
        elif target == "diag.counters_reset":
            self.flow.audit(AuditAction.COUNTERS_RESET)
            s.notice = "counters_reset"
        elif target == "diag.out_of_service":
            a.held_out = True
            self.flow.audit(AuditAction.OUT_OF_SERVICE)
            s.notice = "out_of_service"
        elif target == "diag.in_service":
            a.held_out = False
            self.flow.audit(AuditAction.BACK_IN_SERVICE)
            s.notice = "in_service"
        elif target == "diag.export":
            self.export()
        else:
            return False
        self.core.services_changed()
        self.refresh()
        return True

    def printer_status(self) -> None:
        """A fresh printer status: the refills and emptied bins waiting for it are recorded."""
        if not self._supply_records:
            return
        s = self.flow.st
        printer = self.core.availability.status.get(DeviceKind.PRINTER)
        for target in self._supply_records:
            name, action = ("hopper", AuditAction.REFILL) if target == "diag.refilled" else \
                ("reject_bin", AuditAction.BIN_EMPTIED)
            supply = printer.supply(name) if printer is not None else None
            count = supply.count if supply is not None and supply.count is not None else -1
            self.flow.audit(action, f"{'hopper' if name == 'hopper' else 'bin'}={count}")
            s.notice = "refilled" if action is AuditAction.REFILL else "bin_emptied"
        self._supply_records.clear()
        self.core.runtime.pending.discard("diag.supply")
        self.core.services_changed()
        self.refresh()

    def restore_hold(self) -> None:
        """Out of service by a technician stays so across a restart, until one puts it back."""
        store = self.flow.store
        if store is None:
            return
        out, back = store.last_audit(AuditAction.OUT_OF_SERVICE), store.last_audit(AuditAction.BACK_IN_SERVICE)
        self.core.availability.held_out = out is not None and (back is None or back.id < out.id)

    def export(self) -> None:
        from kiosk.diagnostics_export import write_export

        s, store = self.flow.st, self.flow.store
        now = self.core.clock.now()
        # The last EXPORT_DAYS days through the end of today.
        since = (now - timedelta(days=EXPORT_DAYS)).isoformat(timespec="seconds")
        until = f"{now.date().isoformat()}T23:59:59"
        if store is None:
            s.notice = "export_failed"
            return
        try:
            folder = write_export(self.core.config.diagnostics.export_dir, self.core.config.terminal.id,
                                  now.isoformat(timespec="seconds"), since, until,
                                  s.rows, s.supplies, s.counters, store, self.core.journal,
                                  self.core.config.logging.file)
        except OSError:
            self.flow.audit(AuditAction.EXPORT, "failed")
            s.notice = "export_failed"
            return
        self.flow.audit(AuditAction.EXPORT, folder)
        s.notice = "exported"

    def on_timer(self, name: str) -> None:
        self.tests.on_timer(name)
