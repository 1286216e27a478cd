"""devices/serial_port.SerialPort.interrupt: a read waiting for its first byte in another thread
returns at once (a driver's stop does not wait out the read's timeout), the port stays open, and
release() frees the port and the pipe. On a real pty pair, as the drivers open them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.serial_port import SerialPort
from sim.pty_link import PtyLink


@pytest.fixture
def line(tmp_path: Path) -> Iterator[tuple[PtyLink, SerialPort]]:
    link = PtyLink(str(tmp_path / "ttyQR"))
    link.open()
    port = SerialPort(str(tmp_path / "ttyQR"))
    assert port.open()
    try:
        yield link, port
    finally:
        port.release()
        link.close()
    assert not port.is_open


def test_an_interrupt_wakes_a_waiting_read_and_the_port_stays_usable(line: tuple[PtyLink, SerialPort]) -> None:
    link, port = line
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(port.read(1, timeout=30.0)))
    reader.start()
    port.interrupt()
    reader.join(5.0)
    assert not reader.is_alive(), "the read waited out its 30 s timeout"
    assert got == [b""] and port.is_open
    # An interrupt before the read is kept for it: a stop that comes first is not lost.
    port.interrupt()
    assert port.read(1, timeout=30.0) == b""
    link.write(b"Q")
    assert port.read(1, timeout=5.0) == b"Q"


def test_without_an_interrupt_a_read_waits_its_timeout(line: tuple[PtyLink, SerialPort]) -> None:
    _, port = line
    t = time.monotonic()
    assert port.read(1, timeout=0.3) == b""
    assert time.monotonic() - t >= 0.25
