"""Opening a serial device by path, as a kiosk opens /dev/ttyUSB0, and noticing when it vanishes.

The same code opens a pty slave in simulation: drivers cannot tell the difference.

pyserial's port is opened non-blocking (timeout 0) and a read waits for its first byte in
select() itself: setting pyserial's timeout per read reconfigures the line (tcgetattr,
tcsetattr, flock) each time, which was half of a status poll's CPU (issue 16).
"""

from __future__ import annotations

import contextlib
import os
import select
import termios

import serial


class PortGone(Exception):
    """The port vanished (USB unplugged, emulator closed it)."""


class SerialPort:
    def __init__(self, path: str, baudrate: int = 115200, read_timeout: float = 0.05) -> None:
        self.path = path
        self.baudrate = baudrate
        self.read_timeout = read_timeout
        self._ser: serial.Serial | None = None
        # interrupt()'s pipe: a read waiting in select() wakes on it (release() closes it).
        self._wake: tuple[int, int] | None = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def is_open(self) -> bool:
        return self._ser is not None

    def open(self) -> bool:
        """Try to open the port; False when it is not there (yet)."""
        if self._ser is not None:
            return True
        if not os.path.exists(self.path):
            return False
        try:
            self._ser = serial.Serial(
                self.path, self.baudrate, bytesize=8, parity="N", stopbits=1,
                timeout=0, write_timeout=1.0, exclusive=True,
            )
        except (serial.SerialException, OSError, termios.error):
            self._ser = None
            return False
        return True

    def close(self) -> None:
        if self._ser is not None:
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                self._ser.close()
            self._ser = None

    def interrupt(self) -> None:
        """Wake a read() that waits in another thread, or the next one: it returns b"" at once, so a
        driver's stop need not wait out the read's timeout (the QR scanner's 0.2 s was most of the
        kiosk's stop). Safe from any thread; release() frees it."""
        if self._wake is not None:
            with contextlib.suppress(BlockingIOError):
                os.write(self._wake[1], b"x")

    def release(self) -> None:
        """Close the port and interrupt()'s pipe (the driver's worker has stopped)."""
        self.close()
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    def reset_input(self) -> None:
        if self._ser is None:
            raise PortGone(self.path)
        try:
            self._ser.reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise PortGone(self.path) from exc

    def write(self, data: bytes) -> None:
        if self._ser is None:
            raise PortGone(self.path)
        try:
            self._ser.write(data)
            self._ser.flush()
        except (serial.SerialException, OSError, termios.error) as exc:
            self.close()
            raise PortGone(self.path) from exc

    def read(self, size: int, timeout: float | None = None) -> bytes:
        """Up to `size` bytes: those that have arrived, or else the first to arrive within `timeout`
        (default: the port's read timeout); b"" when none did."""
        if self._ser is None:
            raise PortGone(self.path)
        wait = self.read_timeout if timeout is None else timeout
        try:
            data = self._ser.read(size)
            if not data and wait > 0:
                wake = self._wake
                fds = [self._ser.fileno()] if wake is None else [self._ser.fileno(), wake[0]]
                ready, _, _ = select.select(fds, [], [], wait)
                if wake is not None and wake[0] in ready:
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake[0], 64)
                    return b""  # interrupted: no data, and the port is still there
                if ready:
                    data = self._ser.read(size)
        except (serial.SerialException, OSError, ValueError, termios.error) as exc:
            self.close()
            raise PortGone(self.path) from exc
        if not data and not os.path.exists(self.path):
            self.close()
            raise PortGone(self.path)
        return data
