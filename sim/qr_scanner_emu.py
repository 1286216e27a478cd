"""A QR scanner in USB-COM serial mode on the master side of a pty, for the real SerialQrScanner.

In presentation mode, as kiosk scanners are set up: every code held under it is decoded and
sent at once as one line of its bytes ending in CR; the host sends nothing. `scan(data)` is a
code held under the window. Faults (docs/protocols/qr-scanner.md, docs/scenarios.md) bend the
next `count` scans; `vanish` and `replug` act on the port:

- `garbage`: line noise (NUL, 0xFF, escape bytes) instead of the code, ended by a CR;
- `no_cr`: the code's bytes with no CR after them (a scanner set to the wrong suffix);
- `overlong`: a line longer than the scanner's limit (max_line) instead of the code;
- `not_utf8`: the code's bytes with invalid UTF-8 bytes inside (a scanner in a legacy code page);
- `vanish`: the port disappears (at once, or with at = "scan" instead of the next scan) and stays
  gone until `reappear`;
- `replug`: the next scan is lost because the port disappears and comes back straight away (a
  USB reset): the driver must find it again by itself.

Writes never block for long and hold no lock: with nobody reading the slave, bytes that do not
fit the pty's buffer within a second are dropped (sim/pty_link.py), as a scanner's would be with
no host listening.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sim.pty_link import PtyLink

FAULT_KINDS = ("garbage", "no_cr", "overlong", "not_utf8", "vanish", "replug")
GARBAGE = b"\x00\xff\x1b[\x9c\x00\xfe\x07\x7f\x00\x81"


@dataclass
class _Fault:
    kind: str
    count: int


class QrScannerEmulator:
    def __init__(self, link: PtyLink, *, max_line: int = 512) -> None:
        self._link = link
        self.max_line = max_line
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self.scans = 0  # codes held under the scanner
        self.lines = 0  # lines it sent
        self.gone = False

    # --- the resident, the runner and the developer panel -----------------------------------

    def scan(self, data: bytes) -> str:
        """A code under the window; returns what the scanner did: sent, or the fault that struck."""
        with self._lock:
            self.scans += 1
            fault = self._take_fault()
            if self.gone:
                return "gone"
            line = self._line(data, fault)
            if fault == "vanish":
                self._vanish()
            elif fault == "replug":
                self._vanish()
                self._reappear()
            generation = self._link.generation
            if line is not None and self._link.master >= 0:
                self.lines += 1
        # Sent with no lock held: a host that does not read must not hold up the hub's calls.
        if line is not None:
            self._link.write(line, generation=generation)
        return fault or "sent"

    def _line(self, data: bytes, fault: str | None) -> bytes | None:
        """The bytes the scanner sends for this code under `fault` (None: nothing)."""
        if fault is None:
            return data + b"\r"
        if fault == "garbage":
            return GARBAGE + b"\r"
        if fault == "no_cr":
            return data
        if fault == "overlong":
            return (data * (self.max_line // max(1, len(data)) + 2))[: self.max_line + 64] + b"\r"
        if fault == "not_utf8":
            half = len(data) // 2
            return data[:half] + b"\xc3\x28\xff" + data[half:] + b"\r"
        return None

    def inject_fault(self, kind: str, at: str | None = None, count: int = 1) -> None:
        """kind: one of FAULT_KINDS. `vanish` without at = "scan" unplugs the port at once."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown qr_scanner fault {kind!r} (one of {', '.join(FAULT_KINDS)})")
        if at not in (None, "scan"):
            raise ValueError(f"qr_scanner faults strike at 'scan' (got {at!r})")
        with self._lock:
            if kind == "vanish" and at is None:
                self._vanish()
                return
            self._faults.append(_Fault(kind, max(1, count)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def vanish(self) -> None:
        with self._lock:
            self._vanish()

    def reappear(self) -> None:
        with self._lock:
            self._reappear()

    # --- inside -----------------------------------------------------------------------------

    def _take_fault(self) -> str | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self._faults.pop(0)
        return fault.kind

    def _vanish(self) -> None:
        self._link.vanish()
        self.gone = True

    def _reappear(self) -> None:
        self._link.reappear()
        self.gone = False


# --- the device hub's commands for the scanner (sim/hub.py) ----------------------------------

HUB_COMMANDS = ("scan_payload", "show_proof", "qr_reappear")


def hub_command(emu: QrScannerEmulator, cmd: dict[str, object]) -> dict[str, object]:
    """`scan_payload` (`text`: a string sent as UTF-8, or `hex`: raw bytes), `show_proof` (`number`:
    that proof's QR code, sim/proofs.py), `qr_reappear` (the vanished port comes back)."""
    from sim.proofs import proof_payload

    op = cmd.get("cmd")
    if op == "qr_reappear":
        emu.reappear()
        return {"ok": True}
    if op == "show_proof":
        number = cmd.get("number")
        if not isinstance(number, str):
            return {"ok": False, "error": "show_proof needs a number (a string)"}
        data = proof_payload(number).encode("utf-8")
    else:
        text, raw = cmd.get("text"), cmd.get("hex")
        if isinstance(text, str) and raw is None:
            data = text.encode("utf-8", errors="surrogateescape")
        elif isinstance(raw, str) and text is None:
            try:
                data = bytes.fromhex(raw)
            except ValueError:
                return {"ok": False, "error": "scan_payload: hex is not hexadecimal"}
        else:
            return {"ok": False, "error": "scan_payload needs exactly one of text and hex"}
    did = emu.scan(data)
    return {"ok": did != "gone", "did": did, **({"error": "the scanner's port is gone"} if did == "gone" else {})}
