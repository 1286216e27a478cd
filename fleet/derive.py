"""What the fleet is told, derived from the kiosk's one log channel (kiosk/logevents.py records).

Pure: records in, messages out (kind, payload). No resident's data passes: only fields named
here are copied (device states, supply levels, services, a session's service, outcome and
reason code); a session id, a masked ID, a permit number are never read.

Alerts are raised once when their condition starts and cleared once when it ends
(de-duplicated by key). Their sources, all log events:
- supplies in DEVICE_STATUS (and SUPPLY_ALERT): hopper low or empty, reject bin full;
- DEVICE_STATUS of a device not online, DEVICE_FAULT, DEVICE_CRASH, CARD_STUCK: device fault;
- STAFF_CALLED (the help screen's "call staff"): staff called, cleared by the next session's end;
- REPEAT_FAILURES sessions in a row ended by a fault (reason DEVICE_FAULT or BACKEND_UNAVAILABLE).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fleet import topics

REPEAT_FAILURES = 3
FAILURE_REASONS = frozenset({"DEVICE_FAULT", "BACKEND_UNAVAILABLE"})
# A device state that needs nobody: online, or busy with a card.
FINE_STATES = frozenset({"online", "busy"})
SUPPLY_ALERTS: dict[tuple[str, str], str] = {
    ("hopper", "low"): "hopper_low", ("hopper", "empty"): "hopper_empty", ("reject_bin", "full"): "bin_full",
}
# Events that raise an alert that only a later event clears (the key's second part is the device).
FAULT_EVENTS = frozenset({"DEVICE_FAULT", "DEVICE_CRASH", "CARD_STUCK"})
STAFF_EVENT = "STAFF_CALLED"

Message = tuple[str, dict[str, Any]]


@dataclass
class FleetState:
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)
    unavailable: str = ""
    counters: Counter[str] = field(default_factory=Counter)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # active, by key
    failures_in_a_row: int = 0

    def status(self) -> dict[str, Any]:
        return {"devices": self.devices, "services": self.services, "unavailable": self.unavailable,
                "in_service": bool(self.services)}

    def counter_payload(self) -> dict[str, Any]:
        return {"counters": dict(sorted(self.counters.items()))}

    def restore(self, saved: dict[str, Any] | None) -> None:
        if saved:
            self.counters = Counter({str(k): int(v) for k, v in saved.get("counters", {}).items()})
            self.alerts = {str(k): dict(v) for k, v in saved.get("alerts", {}).items()}
            self.failures_in_a_row = int(saved.get("failures_in_a_row", 0))

    def saved(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "alerts": self.alerts, "failures_in_a_row": self.failures_in_a_row}


def _supplies(text: str) -> dict[str, dict[str, Any]]:
    """DEVICE_STATUS's `supplies` field: "hopper=low:12,reject_bin=high:3" (count None if unknown)."""
    out: dict[str, dict[str, Any]] = {}
    for part in filter(None, str(text or "").split(",")):
        name, _, rest = part.partition("=")
        level, _, count = rest.partition(":")
        out[name] = {"level": level, "count": int(count) if count.isdigit() else None}
    return out


class Deriver:
    def __init__(self, state: FleetState | None = None) -> None:
        self.state = state if state is not None else FleetState()

    def feed(self, record: dict[str, Any]) -> list[Message]:
        event = str(record.get("event", ""))
        handler = getattr(self, f"_on_{event.lower()}", None)
        out: list[Message] = handler(record) if handler is not None else []
        if event in FAULT_EVENTS:
            device = str(record.get("device", "printer" if event == "CARD_STUCK" else ""))
            out += self._raise(f"device_fault:{device}", "device_fault", device=device,
                               detail=str(record.get("error") or record.get("note") or event.lower()))
        if event == STAFF_EVENT:
            out += self._raise("staff_called", "staff_called")
        return out

    # --- alerts -------------------------------------------------------------------------------

    def _raise(self, key: str, kind: str, **info: Any) -> list[Message]:
        if key in self.state.alerts:
            return []  # already raised: de-duplicated
        alert = {"key": key, "kind": kind, "active": True, **info}
        self.state.alerts[key] = alert
        return [(topics.ALERT, alert)]

    def _clear(self, key: str) -> list[Message]:
        alert = self.state.alerts.pop(key, None)
        return [] if alert is None else [(topics.ALERT, {**alert, "active": False})]

    # --- events -------------------------------------------------------------------------------

    def _on_device_status(self, r: dict[str, Any]) -> list[Message]:
        device = str(r.get("device", ""))
        supplies = _supplies(str(r.get("supplies") or ""))
        entry: dict[str, Any] = {"state": str(r.get("state", "")), "media": str(r.get("media", "")),
                                 "detail": str(r.get("detail") or "")}
        if supplies:
            entry["supplies"] = supplies
        out: list[Message] = []
        if self.state.devices.get(device) != entry:
            self.state.devices[device] = entry
            out.append((topics.STATUS, self.state.status()))
        key = f"device_fault:{device}"
        if entry["state"] in FINE_STATES:
            out += self._clear(key)
        else:
            out += self._raise(key, "device_fault", device=device, detail=entry["state"])
        for (name, level), kind in SUPPLY_ALERTS.items():
            if name in supplies:
                out += (self._raise(kind, kind, supply=name, level=level) if supplies[name]["level"] == level
                        else self._clear(kind))
        return out

    def _on_supply_alert(self, r: dict[str, Any]) -> list[Message]:
        kind = SUPPLY_ALERTS.get((str(r.get("supply")), str(r.get("level"))))
        return self._raise(kind, kind, supply=str(r.get("supply")), level=str(r.get("level"))) if kind else []

    def _on_services_changed(self, r: dict[str, Any]) -> list[Message]:
        self.state.services = [s for s in str(r.get("available") or "").split(",") if s]
        self.state.unavailable = str(r.get("unavailable") or "")
        return [(topics.STATUS, self.state.status())]

    def _on_session_ended(self, r: dict[str, Any]) -> list[Message]:
        service, outcome, reason = (str(r.get(k) or "") for k in ("service", "outcome", "reason"))
        c = self.state.counters
        c["sessions"] += 1
        c[f"outcome.{outcome}"] += 1
        if reason and reason != "OK":
            c[f"reason.{reason}"] += 1
        out: list[Message] = [(topics.OUTCOME, {"service": service, "outcome": outcome, "reason": reason}),
                              (topics.COUNTERS, self.state.counter_payload())]
        out += self._clear("staff_called")  # somebody was served since
        if reason in FAILURE_REASONS:
            self.state.failures_in_a_row += 1
            if self.state.failures_in_a_row >= REPEAT_FAILURES:
                out += self._raise("repeated_failures", "repeated_failures", sessions=self.state.failures_in_a_row,
                                   reason=reason)
        else:
            self.state.failures_in_a_row = 0
            out += self._clear("repeated_failures")
        return out

    def _on_issuance_ended(self, r: dict[str, Any]) -> list[Message]:
        self.state.counters[f"issuance.{r.get('disposition') or 'unknown'}"] += 1
        return [(topics.COUNTERS, self.state.counter_payload())]
