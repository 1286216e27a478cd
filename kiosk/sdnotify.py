"""systemd's service notification protocol, a few lines of our own, and the main loop's use of it.

The protocol (sd_notify(3)): datagrams of `KEY=VALUE` lines sent to the AF_UNIX socket named
by `$NOTIFY_SOCKET`; a name starting with `@` is in the abstract namespace (a leading NUL).
systemd sets `$WATCHDOG_USEC` (and `$WATCHDOG_PID`) when the unit has `WatchdogSec=`.
Without `$NOTIFY_SOCKET` every call is a no-op, so a kiosk started by hand behaves as before.

`ServiceNotifier` is what the main loop calls once a frame (`kiosk/mainloop.py`):

- `READY=1` when the kiosk first comes to rest (the attract screen, or out of service when the
  devices say so: a terminal that cannot serve is still started, and says why in `STATUS=`);
- `WATCHDOG=1` from the loop itself, at most every half watchdog interval: a loop that blocks
  stops feeding the watchdog and systemd restarts the kiosk (`docs/operations.md`);
- `STATUS=` the state the kiosk is in (a state name, never a resident's data) when it changes;
- `STOPPING=1` on the way out.

A failed send never stops the kiosk: the datagram is dropped and counted (`send_failures`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping, MutableMapping

from kiosk.view import View

# The screens at which the kiosk is up and at rest: boot (self-test, recovery) is over.
AT_REST = ("ready.attract", "out_of_service")
BOOTING = ("boot", "self_test", "recovery")


class SdNotify:
    """One datagram socket to `$NOTIFY_SOCKET`, or nothing (every send a no-op)."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self.send_failures = 0
        self.sent = 0
        self._sock: socket.socket | None = None
        self._target: str | bytes | None = None
        if self.address:
            # Abstract namespace: '@name' is '\0name' on the wire; a path is used as it is.
            self._target = b"\0" + self.address[1:].encode() if self.address.startswith("@") else self.address
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *lines: str) -> bool:
        """Send one datagram of these `KEY=VALUE` lines; False when it could not be sent."""
        if self._sock is None or self._target is None:
            return False
        try:
            self._sock.sendto("\n".join(lines).encode("utf-8"), self._target)
        except OSError:  # systemd gone, the socket full or refused: the kiosk serves on regardless
            self.send_failures += 1
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(env: Mapping[str, str]) -> float | None:
    """The watchdog interval in seconds from `$WATCHDOG_USEC`, if it is meant for this process."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # set for another process (inherited): not ours to feed
    return int(usec) / 1_000_000


class ServiceNotifier:
    """READY, heartbeats, status and stopping for the main loop; a no-op without `$NOTIFY_SOCKET`."""

    def __init__(self, channel: SdNotify, watchdog_s: float | None, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.channel = channel
        self.watchdog_s = watchdog_s
        # systemd's advice (sd_watchdog_enabled(3)): notify at half the interval.
        self.heartbeat_every = watchdog_s / 2 if watchdog_s else None
        self._monotonic = monotonic
        self._last_beat: float | None = None
        self._status = ""
        self.ready = False
        self.stopped = False

    @classmethod
    def from_environment(cls, env: MutableMapping[str, str] | None = None) -> ServiceNotifier:
        """Read and then remove the variables, so emulators and other children do not inherit them."""
        env = os.environ if env is None else env
        notifier = cls(SdNotify(env.get("NOTIFY_SOCKET")), watchdog_interval(env))
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self.channel.enabled

    def frame(self, view: View) -> None:
        """Called by the main loop once a frame, on its own thread."""
        if not self.channel.enabled or self.stopped:
            return
        lines: list[str] = []
        status = _status_text(view)
        if status != self._status:
            self._status = status
            lines.append(f"STATUS={status}")
        if not self.ready and view.screen in AT_REST:
            self.ready = True
            lines.append("READY=1")
        now = self._monotonic()
        if self.heartbeat_every is not None and (
                self._last_beat is None or now - self._last_beat >= self.heartbeat_every):
            self._last_beat = now
            lines.append("WATCHDOG=1")
        if lines:
            self.channel.notify(*lines)

    def status(self, text: str) -> None:
        """A `STATUS=` line of its own (a state or a reason code, never a resident's data)."""
        self._status = text
        self.channel.notify(f"STATUS={text}")

    def stopping(self) -> None:
        if self.channel.enabled and not self.stopped:
            self.stopped = True
            self.channel.notify("STOPPING=1", "STATUS=stopping")

    def close(self) -> None:
        self.channel.close()


def _status_text(view: View) -> str:
    if view.screen == "ready.attract":
        return "ready: attract screen"
    if view.screen == "out_of_service":
        return "out of service"
    if view.screen.startswith("diagnostics"):
        return "technician diagnostics"
    if view.screen in BOOTING:
        return f"starting: {view.screen}"
    return f"serving: {view.screen}"  # a state name: what systemctl status shows, nothing of the resident
