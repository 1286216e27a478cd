"""A pty pair standing in for a serial cable: the driver opens the slave path by name.

A pty ignores baud rate, so an emulator that wants realistic timing paces its own
writes (10 bits a byte at the configured rate).
"""

from __future__ import annotations

import contextlib
import os
import select
import time
import tty


class PtyLink:
    def __init__(self, link_path: str | None = None, baudrate: int | None = None) -> None:
        """`link_path`: a stable symlink to the slave (like /dev/serial/by-id/...); `baudrate`: pace writes."""
        self.baudrate = baudrate
        self.link_path = link_path
        self.master = -1
        self._slave = -1
        self.slave_path = ""
        self.open()

    @property
    def path(self) -> str:
        return self.link_path or self.slave_path

    def open(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self.slave_path = os.ttyname(self._slave)
        if self.link_path:
            tmp = self.link_path + ".tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)

    def vanish(self) -> None:
        """The device is unplugged: the port disappears."""
        if self.link_path and os.path.lexists(self.link_path):
            os.unlink(self.link_path)
        for fd in (self.master, self._slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self._slave = -1

    def reappear(self) -> None:
        self.vanish()
        self.open()

    close = vanish

    def read(self, size: int = 4096, timeout: float | None = None) -> bytes:
        """Bytes from the driver; b"" on timeout."""
        if self.master < 0:
            return b""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.master, size)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        if self.master < 0:
            return
        if self.baudrate:
            started = time.monotonic()
            per_byte = 10.0 / self.baudrate
            chunk = max(1, int(0.002 / per_byte))  # write in ~2 ms slices of wire time
            for i in range(0, len(data), chunk):
                due = started + i * per_byte
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing is the emulated wire itself, not a race workaround
                self._write_all(data[i : i + chunk])
            end = started + len(data) * per_byte
            delay = end - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        else:
            self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 1.0)
                continue
            except OSError:
                return
            view = view[n:]
