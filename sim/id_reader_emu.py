"""An ID card reader (GA 467 SAM) on the master side of a pty, for the real IdReader to talk to.

It behaves like the SAM as far as the kiosk can tell:
- find (20 01) answers 9F while a card lies on it that has not been read since it was placed,
  80 otherwise (no card, or the card was read and not lifted since);
- select (20 02) answers 90 after a successful find of the card lying there, else 81;
- read (30 01 / 30 10) answers the text and photo after a select, else 41; a successful read
  marks the card as read, so find refuses it until it is lifted and placed again;
- appended address (30 03) answers 91 (no content); status, reset, SAM ID and set baud 90;
- a damaged command frame is answered 10 (checksum) or 11 (length), an unknown command 21.

Faults (inject_fault) bend the next matching replies; see docs/protocols/id-reader.md.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from dataclasses import dataclass

from devices.ga467 import (
    BAUD_PARA,
    SET_BAUD_CMD,
    Command,
    CommandDecoder,
    FrameError,
    FrameErrorKind,
    Request,
    Sw3,
    build_reply,
    read_reply_data,
)
from sim.id_card_data import EmulatedIdCard
from sim.pty_link import PtyLink

_log = logging.getLogger(__name__)

# 05.01-20230101-0000123456-0000654321 as vendors print it (little-endian fields).
DEFAULT_SAM_ID = (
    (5).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (20230101).to_bytes(4, "little")
    + (123456).to_bytes(4, "little")
    + (654321).to_bytes(4, "little")
)

# Names a fault's `at` may use, and the command counters of wait_for_commands.
COMMAND_NAMES: dict[Command, str] = {
    Command.RESET_SAM: "reset",
    Command.SAM_STATUS: "status",
    Command.SAM_ID: "sam_id",
    Command.FIND: "find",
    Command.SELECT: "select",
    Command.READ: "read",
    Command.READ_FINGERPRINT: "read_fingerprint",
    Command.READ_APPENDED_ADDRESS: "appended_address",
}
FAULT_KINDS = ("garbage", "corrupt", "truncate", "silent", "lift_mid_read", "vanish")
# Faults that stand for a command the SAM never carried out: the card's state does not change.
_NOT_EXECUTED = ("sw3", "silent", "vanish")
# Noise with a broken preamble in it, the worst kind of garbage for a resyncing decoder.
# command_count's longest wait for a reply on the wire (a read reply at 9600 baud: 1.35 s).
REPLY_WAIT_S = 3.0
GARBAGE = b"\x00\xff\x13\xaa\xaa\x96\xaa\xaa\xaa\x96\x00\x55"


@dataclass
class _Fault:
    kind: str
    at: str | None
    count: int
    sw3: int = 0


class IdReaderEmulator:
    def __init__(self, link: PtyLink, *, sam_id: bytes = DEFAULT_SAM_ID) -> None:
        self._link = link
        self._sam_id = sam_id
        self._decoder = CommandDecoder()
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._faults: list[_Fault] = []
        self._card: EmulatedIdCard | None = None
        self._found = self._selected = self._read = False
        self._counts: dict[str, int] = {}
        self._wake_r = self._wake_w = -1
        self._replying = False  # a reply is being written (no lock held meanwhile)
        # perf_counter() when the find that found the current placement arrived (benchmarks).
        self.found_at: float | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="id-reader-emu", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(2.0)
        self._thread = None
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        self._wake_r = self._wake_w = -1

    # --- the resident and the developer panel -----------------------------------------------

    def place_card(self, card: EmulatedIdCard) -> None:
        with self._lock:
            self._card = card
            self._found = self._selected = self._read = False
            self.found_at = None

    def lift_card(self) -> None:
        with self._lock:
            self._card = None
            self._found = self._selected = self._read = False

    @property
    def card_present(self) -> bool:
        return self._card is not None

    def inject_fault(self, kind: str, at: str | None = None, count: int = 1) -> None:
        """kind: "sw3:XX" (hex status), garbage, corrupt, truncate, silent, lift_mid_read, vanish.

        `at` names the command whose replies are affected ("find", "select", "read", ...; see
        COMMAND_NAMES); None means the next replies whatever they answer. "vanish" with at=None
        unplugs the port at once; with `at`, when that command arrives. lift_mid_read applies to
        read whatever `at` says.
        """
        if at is not None and at not in COMMAND_NAMES.values():
            raise ValueError(f"unknown command name {at!r}")
        if kind.startswith("sw3:"):
            fault = _Fault("sw3", at, count, int(kind[4:], 16))
        elif kind in FAULT_KINDS:
            fault = _Fault(kind, "read" if kind == "lift_mid_read" else at, count)
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        if kind == "vanish" and at is None:
            self.vanish()
            return
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def vanish(self) -> None:
        with self._lock:
            self._link.vanish()
            self._decoder.reset()

    def reappear(self) -> None:
        with self._lock:
            self._link.reappear()
            self._decoder.reset()

    # --- for tests: wait on the emulator instead of sleeping ---------------------------------

    def command_count(self, name: str) -> int:
        """Commands named `name` answered so far; a reply still on the wire is waited for (a
        bounded wait, for tests: the driver may have the reply before the emulator counts it)."""
        with self._lock:
            self._lock.wait_for(lambda: not self._replying, REPLY_WAIT_S)
            return self._counts.get(name, 0)

    def wait_for_commands(self, name: str, count: int, timeout: float = 2.0) -> bool:
        """Wait until `count` commands named `name` have been answered (or dropped) in all."""
        with self._lock:
            return self._lock.wait_for(lambda: self._counts.get(name, 0) >= count, timeout)

    # --- the SAM ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            master = self._link.master
            if master < 0:
                self._stop.wait(0.02)  # unplugged: nothing to read until reappear()
                continue
            try:
                # The wake pipe lets stop() end the wait at once instead of after the timeout.
                ready, _, _ = select.select([master, self._wake_r], [], [], 0.2)
                data = self._link.read(4096, timeout=0) if master in ready else b""
            except (OSError, ValueError):
                data = b""  # the pty was closed under select() by vanish()
            if not data:
                continue
            for item in self._decoder.feed(data):
                if isinstance(item, FrameError):
                    self._on_bad_frame(item)
                else:
                    self._on_request(item)

    def _on_bad_frame(self, error: FrameError) -> None:
        if error.kind is FrameErrorKind.BAD_CHECKSUM:
            self._link.write(build_reply(Sw3.CHECKSUM_ERROR))
        elif error.kind is FrameErrorKind.BAD_LENGTH:
            self._link.write(build_reply(Sw3.LENGTH_ERROR))
        # Garbage between frames is ignored, as a SAM does.

    def _on_request(self, request: Request) -> None:
        command = request.command
        name = COMMAND_NAMES.get(command) if command else ("set_baud" if request.cmd == SET_BAUD_CMD else "")
        with self._lock:
            fault = self._take_fault(name)
            if fault is not None and fault.kind in _NOT_EXECUTED:
                reply = self._apply(fault, b"")
            else:
                # The SAM carries the command out; only its reply is damaged on the way back.
                reply = self._answer(request, command)
                if fault is not None:
                    reply = self._apply(fault, reply)
            generation = self._link.generation
            self._replying = True
        # The reply goes out with no lock held: a paced reply takes wire time, and a driver that
        # stopped reading must not hold up the hub's control calls (place_card, reappear, ...).
        # Lost with the port if it vanished since (generation), as a real reader's would be.
        if reply:
            self._link.write(reply, generation=generation)
        with self._lock:
            if name:
                self._counts[name] = self._counts.get(name, 0) + 1
            self._replying = False
            self._lock.notify_all()

    def _take_fault(self, name: str) -> _Fault | None:
        for fault in self._faults:
            if fault.at is None or fault.at == name:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _apply(self, fault: _Fault, reply: bytes) -> bytes:
        if fault.kind == "sw3":
            return build_reply(fault.sw3)
        if fault.kind == "garbage":
            return GARBAGE + reply
        if fault.kind == "corrupt":
            return reply[:-1] + bytes([reply[-1] ^ 0xFF])
        if fault.kind == "truncate":
            return reply[: max(1, len(reply) // 2)]
        if fault.kind == "silent":
            return b""
        if fault.kind == "lift_mid_read":
            self._card = None
            self._found = self._selected = self._read = False
            return reply[: len(reply) // 2]
        if fault.kind == "vanish":
            self._link.vanish()
            self._decoder.reset()
            return b""
        return reply

    def _answer(self, request: Request, command: Command | None) -> bytes:
        card = self._card
        if command in (Command.RESET_SAM, Command.SAM_STATUS):
            return build_reply(Sw3.OK)
        if command is Command.SAM_ID:
            return build_reply(Sw3.OK, self._sam_id)
        if command is Command.FIND:
            if card is not None and not self._read:
                if self.found_at is None:
                    self.found_at = time.perf_counter()
                self._found = True
                return build_reply(Sw3.FOUND, bytes(4))
            return build_reply(Sw3.FIND_FAILED)
        if command is Command.SELECT:
            if card is not None and self._found:
                self._selected = True
                return build_reply(Sw3.OK, bytes(8))
            return build_reply(Sw3.SELECT_FAILED)
        if command in (Command.READ, Command.READ_FINGERPRINT):
            if card is None or not self._selected:
                return build_reply(Sw3.READ_FAILED)
            self._read = True
            fingerprint = b"" if command is Command.READ_FINGERPRINT else None
            return build_reply(Sw3.OK, read_reply_data(card.text, card.photo, fingerprint))
        if command is Command.READ_APPENDED_ADDRESS:
            return build_reply(Sw3.NO_CONTENT)
        if request.cmd == SET_BAUD_CMD and request.para in BAUD_PARA.values():
            return build_reply(Sw3.OK)
        return build_reply(Sw3.COMMAND_ERROR)
