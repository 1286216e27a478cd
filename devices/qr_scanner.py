"""The QR scanner adapter for a scanner in USB-COM serial mode: decoded text, one line per code,
each ending in CR (docs/protocols/qr-scanner.md).

The worker owns the port: it opens it, notices when it vanishes (status `no_device`) and reopens
it by itself. It reads all the time, scanning or not, so nothing stale waits in the port's
buffer; a finished line becomes `QrScanned` only while scanning is on. Scanning is a flag set
from the caller's thread, not a job for the worker: a code shown right after the screen asked
for one must not be read before the worker got round to the job that turned scanning on.

What the scanner sends is untrusted: any bytes go up as they came (the core's parser judges
them), except what cannot be a line. A line over `max_line` is dropped whole with a note (the
buffer never grows past it); bytes with no CR after them are discarded once the line has been
silent for `line_timeout` (a scanner sends a code in one burst), with a note. An LF after the
CR (a scanner set to CR LF) is not part of the next line; empty lines are nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devices.events import DeviceLogged, DeviceNote, QrScanned
from devices.publish import post_safely, publish
from devices.serial_port import PortGone, SerialPort
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus
from devices.worker import Worker, crash_reporter

CR = 0x0D
LF = 0x0A
SOURCE = "scanner"


class LineAssembler:
    """Bytes in, finished lines and notes out; bounded memory whatever arrives. Not thread-safe:
    the worker's alone."""

    def __init__(self, max_line: int, line_timeout: float) -> None:
        self.max_line = max(1, max_line)
        self.line_timeout = line_timeout
        self._buf = bytearray()
        self._overlong = 0  # > 0: the length so far of a line being dropped (its bytes are not kept)
        self._last = 0.0  # when the last byte of the unfinished line arrived
        self._after_cr = False  # the previous byte was a CR: an LF now ends that line, it starts none

    @property
    def pending(self) -> int:
        return self._overlong or len(self._buf)

    def expire(self, now: float) -> list[tuple[DeviceNote, str]]:
        """A line silent for line_timeout with no CR is discarded."""
        if self.pending and now - self._last >= self.line_timeout:
            note = (DeviceNote.LINE_INCOMPLETE, str(self.pending))
            self.reset()
            return [note]
        return []

    def reset(self) -> None:
        self._buf.clear()
        self._overlong = 0
        self._after_cr = False

    def feed(self, chunk: bytes, now: float) -> tuple[list[bytes], list[tuple[DeviceNote, str]]]:
        notes = self.expire(now)
        lines: list[bytes] = []
        start = 0
        while start < len(chunk):
            if self._after_cr and chunk[start] == LF:
                start += 1
            self._after_cr = False
            if start >= len(chunk):
                break
            end = chunk.find(b"\r", start)
            part = chunk[start:] if end < 0 else chunk[start:end]
            self._take(part)
            if end < 0:
                break
            self._after_cr = True
            if self._overlong:
                notes.append((DeviceNote.LINE_TOO_LONG, str(self._overlong)))
            elif self._buf:
                lines.append(bytes(self._buf))
            self._buf.clear()
            self._overlong = 0
            start = end + 1
        if self.pending:
            self._last = now
        return lines, notes

    def _take(self, part: bytes) -> None:
        if self._overlong:
            self._overlong += len(part)
        elif len(self._buf) + len(part) > self.max_line:
            self._overlong = len(self._buf) + len(part)
            self._buf.clear()
        else:
            self._buf += part


class SerialQrScanner:
    def __init__(
        self,
        port_path: str,
        sink: Callable[[object], None],
        *,
        baudrate: int = 115200,
        max_line: int = 512,
        line_timeout: float = 0.3,
        poll_interval: float = 0.2,
        model: str = "serial QR scanner",
    ) -> None:
        self._port = SerialPort(port_path, baudrate)
        self._sink = sink
        self._poll_interval = poll_interval
        self._lines = LineAssembler(max_line, line_timeout)
        self._scanning = threading.Event()
        self._info = DeviceInfo(model=model)
        self._status = DeviceStatus(DeviceKind.QR_SCANNER, DeviceState.OFFLINE, info=self._info, detail="not_started")
        self._worker = Worker("qr-scanner", idle=self._tick, on_crash=crash_reporter(sink, DeviceKind.QR_SCANNER))

    # --- public, any thread -----------------------------------------------------------------

    @property
    def status(self) -> DeviceStatus:
        return self._status

    @property
    def scanning(self) -> bool:
        return self._scanning.is_set()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._scanning.clear()
        self._worker.request_stop()
        self._port.interrupt()  # the worker waits for a byte in select(): it hears the stop at once
        self._worker.stop()
        self._port.release()
        self._set(DeviceState.OFFLINE, "stopped")

    def set_scanning(self, on: bool) -> None:
        if on:
            self._scanning.set()
        else:
            self._scanning.clear()

    # --- worker -----------------------------------------------------------------------------

    def _tick(self) -> float:
        try:
            if not self._port.is_open and not self._connect():
                return self._poll_interval
            self._read_lines()
            return 0.0
        except PortGone:
            self._note(DeviceNote.PORT_GONE)
            self._port.close()
            self._lines.reset()
            self._set(DeviceState.NO_DEVICE, "port_gone")
            return self._poll_interval

    def _connect(self) -> bool:
        if not self._port.open():
            self._set(DeviceState.NO_DEVICE, "port_gone")
            return False
        # Whatever the scanner sent before we listened was meant for nobody.
        self._port.reset_input()
        self._lines.reset()
        self._note(DeviceNote.PORT_OPENED)
        self._set(DeviceState.ONLINE, "")
        return True

    def _read_lines(self) -> None:
        # Block for the first byte at most one poll interval (so stop() is heard), then take the rest.
        chunk = self._port.read(1, timeout=min(self._poll_interval, self._lines.line_timeout))
        now = time.monotonic()
        if chunk:
            chunk += self._port.read(4096, timeout=0)
            lines, notes = self._lines.feed(chunk, now)
        else:
            lines, notes = [], self._lines.expire(now)
        for note, detail in notes:
            self._note(note, detail)
        for line in lines:
            if self._scanning.is_set():
                post_safely(self._sink, QrScanned(line, SOURCE), DeviceKind.QR_SCANNER)
            else:
                self._note(DeviceNote.SCAN_IGNORED, str(len(line)))

    # --- status and events ------------------------------------------------------------------

    def _set(self, state: DeviceState, detail: str) -> None:
        updated = self._status.changed(state=state, detail=detail)
        self._status = publish(self._status, updated, self._sink, DeviceKind.QR_SCANNER)

    def _note(self, note: DeviceNote, detail: str = "") -> None:
        post_safely(self._sink, DeviceLogged(DeviceKind.QR_SCANNER, note, detail), DeviceKind.QR_SCANNER)
