"""Faults the emulated backend injects on request (POST /sim/faults, or --faults FILE at start).

A fault applies to one operation (`*`: every one of OPS) for `count` requests, or every request
until cleared. The kinds are documented in docs/backend-api.yaml.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sim.backend_ops import OPS, malformed

FAULT_KINDS = ("error_500", "slow", "drop", "malformed")
# Valid HTTP, broken JSON: what a confused proxy or a half-written reply looks like to the kiosk.
MALFORMED_BODY = b'{"approved": tru\x00<html>502'


@dataclass  # not frozen: FaultBoard counts `remaining` down, under its lock
class Fault:
    op: str
    kind: str
    delay_s: float = 0.0
    remaining: int | None = None  # None: every matching request until cleared

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise malformed("fault")
        unknown = set(spec) - {"op", "kind", "delay_s", "count"}
        if unknown:
            raise malformed(sorted(unknown)[0])
        op, kind = spec.get("op"), spec.get("kind")
        if op != "*" and op not in OPS:
            raise malformed("op")
        if kind not in FAULT_KINDS:
            raise malformed("kind")
        delay = spec.get("delay_s", 0.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
            raise malformed("delay_s")
        count = spec.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise malformed("count")
        return cls(op, kind, float(delay), count)

    def as_json(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "delay_s": self.delay_s, "count": self.remaining}


class FaultBoard:
    """Faults waiting for their operation; the first matching one is used up per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, op: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.op in (op, "*"):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]


def parse_faults(spec: Any) -> list[Fault]:
    return [Fault.parse(s) for s in spec] if isinstance(spec, list) else [Fault.parse(spec)]
