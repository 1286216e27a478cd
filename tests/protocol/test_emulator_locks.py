"""The hub's control calls answer whatever the serial peer does (no emulator lock held across I/O).

A driver that stops reading (the kiosk killed mid-transaction, its port closed and reopened at a
power cycle) fills the pty's buffer; a paced reply takes wire time. Neither may hold up
place_card, reappear, power_cycle or present_id: those calls take the emulators' state locks,
which the emulators' threads must never hold while they write to the line or wait on it.

No sleeps: the peer's progress is read from the pty itself (the first byte of a reply) or from
the emulators' counts of answered commands; every call under test runs in a thread joined with
a bound.
"""

from __future__ import annotations

import json
import os
import select
import threading
import tty
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from devices.ga467 import Command, build_command
from devices.printer_protocol import Cmd, encode_command
from sim.hub import Hub
from sim.id_card_data import encode_card
from sim.id_reader_emu import IdReaderEmulator
from sim.printer_emu import PrinterEmulator
from sim.pty_link import WRITE_LIMIT_S, PtyLink
from sim.qr_scanner_emu import QrScannerEmulator

PROMPT = 1.0  # a control call that takes longer than this waited behind the line (it took µs)
FLOOD = 5000  # commands whose replies (27 or 28 bytes each) are twice what a pty buffers

CARD = encode_card(
    card_type="citizen", name="陈静", sex="F", nation="01", birth=date(1992, 8, 15),
    id_number="310105199208150046", address="安徽省黄山市屯溪区新安路8号", authority="黄山市公安局屯溪分局",
    valid_from=date(2018, 2, 1), valid_to=None, photo=bytes(1024),
)


def promptly(call: Callable[[], Any], what: str, bound: float = PROMPT) -> Any:
    """`call()`'s result, failing when it has not returned within `bound` seconds."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(bound)
    assert not worker.is_alive(), f"{what} did not return within {bound}s: it waited behind the serial line"
    return out[0] if out else None


class DeafPeer:
    """The driver's end of a pty that sends commands and never reads the replies."""

    def __init__(self, link: PtyLink) -> None:
        self.fd = os.open(link.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self.fd], [], 2.0)
            assert ready, "the emulator stopped reading its commands"
            view = view[os.write(self.fd, view):]

    def first_reply_byte(self, timeout: float = 2.0) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        assert ready, "the emulator did not answer"
        return os.read(self.fd, 1)

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def id_rig(tmp_path: Path) -> Iterator[tuple[PtyLink, IdReaderEmulator]]:
    link = PtyLink(str(tmp_path / "ttyIDR"))
    emu = IdReaderEmulator(link)
    emu.start()
    try:
        yield link, emu
    finally:
        emu.stop()
        link.close()


def test_id_reader_answers_every_command_of_a_peer_that_never_reads(id_rig: tuple[PtyLink, IdReaderEmulator]) -> None:
    link, emu = id_rig
    peer = DeafPeer(link)
    try:
        peer.send(build_command(Command.SAM_ID) * FLOOD)
        # The replies that do not fit are dropped after WRITE_LIMIT_S, as on a line nobody reads;
        # with the lock held across a blocking write the emulator stopped for good at ~2500.
        assert promptly(lambda: emu.wait_for_commands("sam_id", FLOOD, WRITE_LIMIT_S + 4),
                        "wait_for_commands", WRITE_LIMIT_S + 5), "the emulator stopped answering"
        assert link.dropped > 0
        # The buffer is still full and nobody reads it: the control calls do not care.
        promptly(lambda: emu.place_card(CARD), "place_card")
        promptly(lambda: emu.inject_fault("silent", "find"), "inject_fault")
        promptly(emu.clear_faults, "clear_faults")
        peer.send(build_command(Command.FIND))  # answered into the full buffer: dropped at once
        assert promptly(lambda: emu.wait_for_commands("find", 1), "wait_for_commands")
        promptly(emu.lift_card, "lift_card")
        promptly(emu.reappear, "reappear")
    finally:
        peer.close()


def test_id_reader_control_calls_do_not_wait_for_a_paced_reply(tmp_path: Path) -> None:
    # At 1200 baud the 1295-byte read reply takes 10.8 s on the wire: long enough that the test's
    # own thread, starved on a loaded machine (2400 baud's 5.4 s once ran out under a soak and eight
    # workers on two cores), still makes its calls while the reply is going out.
    link = PtyLink(str(tmp_path / "ttySLOW"), baudrate=1200)
    emu = IdReaderEmulator(link)
    emu.start()
    peer = DeafPeer(link)
    try:
        emu.place_card(CARD)
        peer.send(build_command(Command.FIND) + build_command(Command.SELECT))
        assert emu.wait_for_commands("select", 1)
        os.read(peer.fd, 4096)  # find's and select's replies (short; some may still be on the wire)
        peer.send(build_command(Command.READ))
        peer.first_reply_byte()  # the read reply is on the wire now, for 10.8 s
        promptly(lambda: emu.place_card(CARD), "place_card during a paced reply")
        promptly(emu.lift_card, "lift_card during a paced reply")
        # Still on the wire: the calls above did not wait for its end. (The count itself, not
        # command_count(), which waits for a reply on the wire to be out.)
        assert emu._counts.get("read", 0) == 0, "the read reply was not on the wire for long"
    finally:
        peer.close()
        link.close()  # first: the rest of the reply is lost with the port, and stop() need not wait
        emu.stop()


def test_printer_reappears_while_its_peer_never_reads(tmp_path: Path) -> None:
    link = PtyLink(str(tmp_path / "ttyPRN"))
    emu = PrinterEmulator(link, tmp_path / "cards")
    emu.start()
    peer = DeafPeer(link)
    try:
        peer.send(encode_command(Cmd.STATUS, 0x30) * FLOOD)
        peer.first_reply_byte()  # the printer is answering: 140 KB of replies for a 68 KB buffer
        promptly(lambda: emu.hopper_count, "hopper_count")
        promptly(lambda: emu.inject_fault("silent"), "inject_fault")
        promptly(lambda: emu.clear_fault("silent"), "clear_fault")
        promptly(emu.reappear, "reappear (a power cycle)")
        promptly(lambda: emu.inject_fault("vanish"), "inject_fault vanish")
    finally:
        peer.close()
        emu.stop()
        link.close()


def test_qr_scan_returns_while_its_peer_never_reads(tmp_path: Path) -> None:
    link = PtyLink(str(tmp_path / "ttyQRS"))
    emu = QrScannerEmulator(link, max_line=100_000)
    peer = DeafPeer(link)
    try:
        # 100 KB in one line: more than the pty holds; the rest is dropped after WRITE_LIMIT_S.
        scanning = threading.Thread(target=emu.scan, args=(b"x" * 100_000,), daemon=True)
        scanning.start()
        peer.first_reply_byte()
        promptly(emu.clear_faults, "clear_faults during a scan")
        promptly(lambda: emu.inject_fault("garbage"), "inject_fault during a scan")
        scanning.join(WRITE_LIMIT_S + 2)
        assert not scanning.is_alive(), "the scan's write did not give up on a peer that never reads"
    finally:
        peer.close()
        link.close()


def test_hub_power_cycle_and_present_id_while_the_kiosk_does_not_read(tmp_path: Path) -> None:
    resident = {"name": "陈静", "sex": "F", "nation": "01", "birth": "1992-08-15", "id_number": "310105199208150046",
                "id_address": "安徽省黄山市屯溪区新安路8号", "id_authority": "黄山市公安局屯溪分局",
                "id_valid_from": "2018-02-01", "id_valid_to": "长期", "card_type": "citizen"}
    (tmp_path / "hub").mkdir()
    # Unpaced, so the flood fills the ptys' buffers at once (pacing: the test above).
    hub = Hub(tmp_path / "hub", {"chen": resident}, pace=False, baudrate=115200, printer_opts={}, with_chip=False)
    hub.start()
    id_peer, printer_peer = DeafPeer(hub.id_link), DeafPeer(hub.printer_link)
    try:
        id_peer.send(build_command(Command.SAM_ID) * FLOOD)
        printer_peer.send(encode_command(Cmd.STATUS, 0x30) * FLOOD)
        id_peer.first_reply_byte()
        printer_peer.first_reply_byte()
        for cmd in ({"cmd": "present_id", "resident": "chen"}, {"cmd": "power_cycle"}, {"cmd": "lift_id"},
                    {"cmd": "state"}):
            reply = promptly(lambda cmd=cmd: hub.handle(json.loads(json.dumps(cmd))), cmd["cmd"], 1.0)
            assert reply["ok"], reply
    finally:
        id_peer.close()
        printer_peer.close()
        hub.stop()
