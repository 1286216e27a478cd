"""The real SerialQrScanner against the QrScannerEmulator over a pty, fault by fault; and the device
hub's scanner commands through a real hub process.

No sleeps: every wait is on the event queue (get with a timeout). A fault that produces no scan
is seen through the adapter's note for it, so the next scan is never sent before the driver has
dealt with the previous line.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devices.events import DeviceLogged, DeviceNote, QrScanned, StatusChanged
from devices.qr_scanner import LineAssembler, SerialQrScanner
from devices.status import DeviceKind, DeviceState
from kiosk.qr_payload import PayloadProblem, PayloadRejected, ProofReference, parse_proof_payload
from sim.hub import HubClient
from sim.launcher import start
from sim.proofs import proof_payload, verification_code
from sim.pty_link import PtyLink
from sim.qr_scanner_emu import GARBAGE, QrScannerEmulator

WAIT = 3.0  # generous upper bound for one expected event; tests pass in milliseconds
HOSTS = ("ywtb.sh.gov.cn", "fw.sh.gov.cn")
NUMBER = "2026310105000123"
MAX_LINE = 128


@dataclass
class Rig:
    link: PtyLink
    emu: QrScannerEmulator
    scanner: SerialQrScanner
    events: queue.Queue[object]
    notes: list[DeviceLogged] = field(default_factory=list)

    def expect(self, kind: type, timeout: float = WAIT, **fields: object) -> object:
        """The next event of `kind` matching `fields`; fails on timeout or on an unwanted QrScanned."""
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no {kind.__name__} {fields or ''} within {timeout}s")
            if isinstance(event, kind) and all(_field(event, k) == v for k, v in fields.items()):
                return event
            if isinstance(event, DeviceLogged):
                self.notes.append(event)
            elif not isinstance(event, StatusChanged):
                pytest.fail(f"unexpected {event!r} while waiting for {kind.__name__} {fields}")

    def expect_scan(self, payload: bytes) -> None:
        event = self.expect(QrScanned)
        assert isinstance(event, QrScanned)
        assert (event.payload, event.source) == (payload, "scanner")

    def expect_note(self, note: DeviceNote) -> DeviceLogged:
        event = self.expect(DeviceLogged, note=note)
        assert isinstance(event, DeviceLogged) and event.device is DeviceKind.QR_SCANNER
        return event

    def no_scan_queued(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            assert not isinstance(event, QrScanned), event


def _field(event: object, name: str) -> object:
    if name in ("state", "detail"):
        return getattr(event.status, name)  # type: ignore[attr-defined]
    return getattr(event, name)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    link = PtyLink(str(tmp_path / "ttyQRS"))
    emu = QrScannerEmulator(link, max_line=MAX_LINE)
    events: queue.Queue[object] = queue.Queue()
    scanner = SerialQrScanner(link.path, events.put, max_line=MAX_LINE, line_timeout=0.1, poll_interval=0.02)
    scanner.start()
    r = Rig(link, emu, scanner, events)
    r.expect(StatusChanged, state=DeviceState.ONLINE)
    scanner.set_scanning(True)
    try:
        yield r
    finally:
        scanner.stop()
        link.close()


def test_a_proofs_code_reaches_the_kiosk_as_its_bytes_and_parses(rig: Rig) -> None:
    payload = proof_payload(NUMBER).encode()
    assert rig.emu.scan(payload) == "sent"
    rig.expect_scan(payload)
    assert parse_proof_payload(payload, HOSTS) == ProofReference(NUMBER, verification_code(NUMBER))


def test_codes_come_one_event_each_in_order(rig: Rig) -> None:
    for text in (b"12345678", b"https://fw.sh.gov.cn/proof?no=87654321&code=ABCDEF", "沪房".encode()):
        rig.emu.scan(text)
    rig.expect_scan(b"12345678")
    rig.expect_scan(b"https://fw.sh.gov.cn/proof?no=87654321&code=ABCDEF")
    rig.expect_scan("沪房".encode())


def test_a_code_read_while_no_screen_waits_is_dropped(rig: Rig) -> None:
    rig.scanner.set_scanning(False)
    rig.emu.scan(b"11111111")
    rig.expect_note(DeviceNote.SCAN_IGNORED)
    rig.scanner.set_scanning(True)
    rig.emu.scan(b"22222222")
    rig.expect_scan(b"22222222")


def test_garbage_goes_up_raw_and_the_parser_refuses_it(rig: Rig) -> None:
    rig.emu.inject_fault("garbage")
    assert rig.emu.scan(b"12345678") == "garbage"
    event = rig.expect(QrScanned)
    assert isinstance(event, QrScanned) and event.payload == GARBAGE
    result = parse_proof_payload(event.payload, HOSTS)
    assert isinstance(result, PayloadRejected) and result.problem is PayloadProblem.NOT_UTF8
    rig.emu.scan(b"12345678")
    rig.expect_scan(b"12345678")


def test_bytes_that_are_not_utf8_go_up_raw_and_are_refused(rig: Rig) -> None:
    payload = proof_payload(NUMBER).encode()
    rig.emu.inject_fault("not_utf8")
    rig.emu.scan(payload)
    event = rig.expect(QrScanned)
    assert isinstance(event, QrScanned) and b"\xc3\x28\xff" in event.payload
    assert parse_proof_payload(event.payload, HOSTS) == PayloadRejected(PayloadProblem.NOT_UTF8)


def test_a_line_over_the_scanners_limit_is_dropped_whole_with_a_note(rig: Rig) -> None:
    rig.emu.inject_fault("overlong")
    rig.emu.scan(b"1234567890")
    note = rig.expect_note(DeviceNote.LINE_TOO_LONG)
    assert int(note.detail) > MAX_LINE
    rig.emu.scan(b"12345678")
    rig.expect_scan(b"12345678")  # nothing of the long line is left in front of it


def test_a_line_with_no_cr_is_discarded_after_the_timeout_and_never_joins_the_next(rig: Rig) -> None:
    rig.emu.inject_fault("no_cr")
    rig.emu.scan(b"99999999")
    note = rig.expect_note(DeviceNote.LINE_INCOMPLETE)
    assert note.detail == "8"
    rig.emu.scan(b"12345678")
    rig.expect_scan(b"12345678")


def test_a_vanished_port_is_no_device_and_the_scanner_comes_back_when_replugged(rig: Rig) -> None:
    rig.emu.inject_fault("vanish")
    rig.expect(StatusChanged, state=DeviceState.NO_DEVICE, detail="port_gone")
    assert rig.scanner.status.state is DeviceState.NO_DEVICE
    assert rig.emu.scan(b"12345678") == "gone"
    rig.emu.reappear()
    rig.expect(StatusChanged, state=DeviceState.ONLINE)
    rig.emu.scan(b"12345678")
    rig.expect_scan(b"12345678")


def test_a_usb_reset_at_a_scan_loses_that_scan_and_the_driver_reconnects_by_itself(rig: Rig) -> None:
    rig.emu.inject_fault("vanish", at="scan")
    rig.emu.scan(b"11111111")
    rig.expect(StatusChanged, state=DeviceState.NO_DEVICE)
    rig.emu.reappear()
    rig.expect(StatusChanged, state=DeviceState.ONLINE)
    rig.emu.inject_fault("replug")
    assert rig.emu.scan(b"22222222") == "replug"
    rig.expect(StatusChanged, state=DeviceState.NO_DEVICE)
    rig.expect(StatusChanged, state=DeviceState.ONLINE)
    rig.emu.scan(b"33333333")
    rig.expect_scan(b"33333333")
    notes = [n.note for n in rig.notes if n.note in (DeviceNote.PORT_OPENED, DeviceNote.PORT_GONE)]
    assert notes == [DeviceNote.PORT_OPENED, DeviceNote.PORT_GONE, DeviceNote.PORT_OPENED,
                     DeviceNote.PORT_GONE, DeviceNote.PORT_OPENED]


def test_what_the_scanner_sent_before_the_driver_listened_is_not_a_scan(tmp_path: Path) -> None:
    link = PtyLink(str(tmp_path / "ttyQRS"))
    emu = QrScannerEmulator(link)
    emu.scan(b"11111111")  # into the pty's buffer, nobody reading
    events: queue.Queue[object] = queue.Queue()
    scanner = SerialQrScanner(link.path, events.put, poll_interval=0.02)
    scanner.set_scanning(True)
    scanner.start()
    try:
        rig = Rig(link, emu, scanner, events)
        rig.expect(StatusChanged, state=DeviceState.ONLINE)
        emu.scan(b"22222222")
        rig.expect_scan(b"22222222")
    finally:
        scanner.stop()
        link.close()


def test_a_missing_port_is_no_device_until_it_appears(tmp_path: Path) -> None:
    events: queue.Queue[object] = queue.Queue()
    path = tmp_path / "ttyQRS"
    scanner = SerialQrScanner(str(path), events.put, poll_interval=0.02)
    scanner.start()
    link: PtyLink | None = None
    try:
        rig = Rig(None, None, scanner, events)  # type: ignore[arg-type]
        rig.expect(StatusChanged, state=DeviceState.NO_DEVICE, detail="port_gone")
        link = PtyLink(str(path))
        rig.expect(StatusChanged, state=DeviceState.ONLINE)
    finally:
        scanner.stop()
        if link is not None:
            link.close()
    assert scanner.status.state is DeviceState.OFFLINE


# --- the line assembler on its own: every split of the input gives the same lines ---------------


def test_lines_are_the_same_however_the_bytes_are_chunked() -> None:
    stream = b"12345678\r\nabc\r\r" + b"x" * 40 + b"\rhttps://a.b/\r"
    for size in range(1, len(stream) + 1):
        lines = LineAssembler(max_line=32, line_timeout=10.0)
        got: list[bytes] = []
        notes: list[DeviceNote] = []
        for i in range(0, len(stream), size):
            out, n = lines.feed(stream[i:i + size], now=0.0)
            got += out
            notes += [note for note, _ in n]
        assert got == [b"12345678", b"abc", b"https://a.b/"], size
        assert notes == [DeviceNote.LINE_TOO_LONG], size


# --- through the device hub, as scenarios drive it ----------------------------------------------


def test_the_hub_serves_the_scanner_on_ttyQRS_with_scan_payload_and_show_proof(tmp_path: Path) -> None:
    residents = tmp_path / "residents.json"
    residents.write_text(json.dumps({"residents": {}}), encoding="utf-8")
    hub = start("device hub", ["-m", "sim.hub", "--dir", str(tmp_path / "hub"), "--residents", str(residents),
                               "--no-chip", "--qr-max-line", str(MAX_LINE)], tmp_path / "hub.log")
    events: queue.Queue[object] = queue.Queue()
    scanner = SerialQrScanner(hub.ready["qr_scanner"], events.put, max_line=MAX_LINE, poll_interval=0.02)
    client = HubClient(hub.ready["control"])
    try:
        assert hub.ready["qr_scanner"].endswith("ttyQRS")
        scanner.start()
        rig = Rig(None, None, scanner, events)  # type: ignore[arg-type]
        rig.expect(StatusChanged, state=DeviceState.ONLINE)
        scanner.set_scanning(True)
        assert client.call("show_proof", number=NUMBER) == {"ok": True, "did": "sent"}
        rig.expect_scan(proof_payload(NUMBER).encode())
        assert client.call("scan_payload", text="https://evil.example/x")["ok"]
        rig.expect_scan(b"https://evil.example/x")
        assert client.call("scan_payload", hex="ff00")["ok"]
        rig.expect_scan(b"\xff\x00")
        assert not client.call("scan_payload", text="a", hex="61")["ok"]
        assert client.call("fault", device="qr_scanner", kind="overlong")["ok"]
        assert client.call("fault", device="qr_scanner", kind="smoke")["ok"] is False
        client.call("show_proof", number=NUMBER)
        rig.expect_note(DeviceNote.LINE_TOO_LONG)
        assert client.call("fault", device="qr_scanner", kind="vanish")["ok"]
        rig.expect(StatusChanged, state=DeviceState.NO_DEVICE)
        assert client.call("show_proof", number=NUMBER)["ok"] is False
        assert client.call("qr_reappear")["ok"]
        rig.expect(StatusChanged, state=DeviceState.ONLINE)
        client.call("show_proof", number=NUMBER)
        rig.expect_scan(proof_payload(NUMBER).encode())
    finally:
        client.close()
        scanner.stop()
        hub.stop()
