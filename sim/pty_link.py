"""A pty pair standing in for a serial cable: the driver opens the slave path by name.

A pty ignores baud rate, so an emulator that wants realistic timing paces its own
writes (10 bits a byte at the configured rate).

A write never blocks for long, whatever the driver does: the master is non-blocking, and when
the driver takes nothing for WRITE_LIMIT_S (it stopped reading, or closed the port and the
pty's buffer is full) the rest of the reply is dropped, as a device's bytes are lost on a line
nobody listens to; until the driver reads again, later writes that do not fit are dropped at
once. No lock is held across a wait: the fds' lock is taken for one non-blocking system call
at a time, so vanish() and reappear() never wait behind a write or a read.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
import tty

WRITE_LIMIT_S = 1.0  # how long a write waits for a driver that takes no byte before dropping the rest


class PtyLink:
    def __init__(self, link_path: str | None = None, baudrate: int | None = None) -> None:
        """`link_path`: a stable symlink to the slave (like /dev/serial/by-id/...); `baudrate`: pace writes."""
        self.baudrate = baudrate
        self.link_path = link_path
        self.master = -1
        self._slave = -1
        self.slave_path = ""
        # Counts opens and vanishes: a write or read started on one pty never lands on the next.
        self.generation = 0
        self._fds = threading.Lock()  # the fds' lifetime; held for one non-blocking call, never a wait
        self._stalled = False  # the driver took nothing for WRITE_LIMIT_S: drop what does not fit
        self.dropped = 0  # bytes dropped because the driver was not reading
        self.open()

    @property
    def path(self) -> str:
        return self.link_path or self.slave_path

    def open(self) -> None:
        with self._fds:
            master, slave = os.openpty()
            tty.setraw(master)
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.master, self._slave = master, slave
            self.slave_path = os.ttyname(slave)
            self.generation += 1
            self._stalled = False
            if self.link_path:
                tmp = self.link_path + ".tmp"
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(self.slave_path, tmp)
                os.replace(tmp, self.link_path)

    def vanish(self) -> None:
        """The device is unplugged: the port disappears."""
        with self._fds:
            if self.link_path and os.path.lexists(self.link_path):
                os.unlink(self.link_path)
            for fd in (self.master, self._slave):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self.master = self._slave = -1
            self.generation += 1

    def reappear(self) -> None:
        self.vanish()
        self.open()

    close = vanish

    def read(self, size: int = 4096, timeout: float | None = None) -> bytes:
        """Bytes from the driver; b"" on timeout, or when the port vanished meanwhile."""
        fd, generation = self.master, self.generation
        if fd < 0:
            return b""
        try:
            ready, _, _ = select.select([fd], [], [], timeout)
        except (OSError, ValueError):
            return b""  # closed under select() by vanish()
        if not ready:
            return b""
        with self._fds:
            if self.generation != generation:
                return b""
            try:
                return os.read(fd, size)
            except OSError:
                return b""

    def write(self, data: bytes, *, generation: int | None = None) -> bool:
        """Send `data` at the line's pace; False when some of it was dropped (driver not reading,
        port gone, or gone since `generation`, the pty a reply was computed for)."""
        generation = self.generation if generation is None else generation
        if not self.baudrate:
            return self._send(data, generation)
        started = time.monotonic()
        per_byte = 10.0 / self.baudrate
        chunk = max(1, int(0.002 / per_byte))  # write in ~2 ms slices of wire time
        for i in range(0, len(data), chunk):
            delay = started + i * per_byte - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing is the emulated wire itself, not a race workaround
            if not self._send(data[i : i + chunk], generation):
                self.dropped += max(0, len(data) - i - chunk)
                return False
        delay = started + len(data) * per_byte - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return True

    def _send(self, data: bytes, generation: int) -> bool:
        view = memoryview(data)
        deadline: float | None = None
        while view:
            with self._fds:
                fd = self.master
                if fd < 0 or self.generation != generation:
                    return False
                try:
                    n = os.write(fd, view)
                except BlockingIOError:
                    n = 0
                except OSError:
                    return False
            if n:
                view, deadline, self._stalled = view[n:], None, False
                continue
            now = time.monotonic()
            if deadline is None:
                deadline = now + WRITE_LIMIT_S
            if self._stalled or now >= deadline:
                self._stalled = True
                self.dropped += len(view)
                return False
            try:
                select.select([], [fd], [], min(deadline - now, 0.05))
            except (OSError, ValueError):
                return False  # closed under select() by vanish()
        return True
