"""Faults injected on request (POST /sim/faults, or --faults FILE at start; docs/backend-api.yaml).

A fault names one operation (`*`: every one) and applies to `count` requests, or to every one
until cleared. `policy_drift` only strikes `apply` and `endorsement` (with `*`, both): the answer
is a decision RULES.md does not support (sim/backend/ops.py says which).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Every operation a fault can name (docs/backend-api.yaml, Fault.op).
OPS = ("health", "precheck", "face_check", "apply", "void_application", "confirm", "void", "register",
       "verify_proof", "lookup", "endorsement", "rewrite_confirm", "status")
DRIFTING_OPS = frozenset({"apply", "endorsement"})
# Valid HTTP, broken JSON: what a confused proxy or a half-written reply looks like.
MALFORMED_BODY = b'{"approved": tru\x00<html>502'


class FaultKind(StrEnum):
    ERROR_500 = "error_500"  # 500 before doing anything
    SLOW = "slow"  # the work, then `delay_s` before the answer
    DROP = "drop"  # the work, then the connection closes without an answer
    MALFORMED = "malformed"  # the work, then 200 with a body that is not JSON
    POLICY_DRIFT = "policy_drift"  # a decision RULES.md does not support (apply, endorsement)


class FaultError(ValueError):
    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


@dataclass  # not frozen: the board counts `remaining` down under its lock
class Fault:
    op: str
    kind: FaultKind
    delay_s: float = 0.0
    remaining: int | None = None  # None: every matching request until cleared

    def strikes(self, op: str) -> bool:
        if self.op not in (op, "*"):
            return False
        return self.kind is not FaultKind.POLICY_DRIFT or op in DRIFTING_OPS

    def as_json(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind.value, "delay_s": self.delay_s, "count": self.remaining}


def parse_fault(spec: Any) -> Fault:
    """One fault object; the document's schema has been checked already, this checks the rest."""
    if not isinstance(spec, dict):
        raise FaultError("fault")
    op, kind = spec.get("op"), spec.get("kind")
    if op != "*" and op not in OPS:
        raise FaultError("op")
    try:
        parsed = FaultKind(str(kind))
    except ValueError:
        raise FaultError("kind") from None
    if parsed is FaultKind.POLICY_DRIFT and op != "*" and op not in DRIFTING_OPS:
        raise FaultError("op")
    delay = spec.get("delay_s", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
        raise FaultError("delay_s")
    count = spec.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultError("count")
    return Fault(op, parsed, float(delay), count)


def parse_faults(spec: Any) -> list[Fault]:
    return [parse_fault(s) for s in spec] if isinstance(spec, list) else [parse_fault(spec)]


class FaultBoard:
    """Faults waiting for their operation; the first that strikes is used up, one per request."""

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
                if fault.strikes(op):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]
