"""kiosk/sdnotify.py: the NOTIFY_SOCKET datagram protocol against real AF_UNIX sockets (a path and
an abstract name), the watchdog variables, the heartbeat's rate limit on an injected clock, and the
no-op without NOTIFY_SOCKET. The whole kiosk under it: tests/scenarios/test_watchdog.py."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.sdnotify import SdNotify, ServiceNotifier, watchdog_interval
from kiosk.view import View, Waiting


def _view(screen: str) -> View:
    return View(screen=screen, waiting_for=Waiting.NOTHING)


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, str]]:
    name = f"kiosk-unit-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    yield sock, "@" + name
    sock.close()


def _recv(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_abstract_socket_and_a_path_socket_both_receive(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    channel = SdNotify(address)
    assert channel.notify("READY=1", "STATUS=x")
    assert _recv(sock) == ["READY=1", "STATUS=x"]
    channel.close()
    with tempfile.TemporaryDirectory(prefix="sdn") as folder:  # short: AF_UNIX paths are 108 bytes at most
        path = str(Path(folder) / "notify")
        on_disk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        on_disk.bind(path)
        on_disk.settimeout(2.0)
        try:
            SdNotify(path).notify("WATCHDOG=1")
            assert _recv(on_disk) == ["WATCHDOG=1"]
        finally:
            on_disk.close()


def test_no_notify_socket_is_a_no_op() -> None:
    env = {"WATCHDOG_USEC": "1000000"}
    notifier = ServiceNotifier.from_environment(env)
    assert not notifier.enabled
    notifier.frame(_view("ready.attract"))
    notifier.stopping()
    assert notifier.channel.sent == 0 and not notifier.ready


def test_a_refused_datagram_is_counted_never_raised() -> None:
    channel = SdNotify(f"@kiosk-nobody-listens-{uuid.uuid4().hex}")
    assert not channel.notify("READY=1")
    assert channel.send_failures == 1


def test_watchdog_variables_and_their_removal_from_the_environment(listener: tuple[socket.socket, str]) -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None  # another process's
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({}) is None
    env = {"NOTIFY_SOCKET": listener[1], "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid()), "HOME": "/"}
    notifier = ServiceNotifier.from_environment(env)
    assert notifier.enabled and notifier.heartbeat_every == 1.0
    assert env == {"HOME": "/"}  # children (the emulators) do not inherit them


def test_ready_once_at_rest_heartbeats_rate_limited_status_on_change(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    now = [100.0]
    notifier = ServiceNotifier(SdNotify(address), 2.0, monotonic=lambda: now[0])
    notifier.frame(_view("self_test"))
    assert _recv(sock) == ["STATUS=starting: self_test", "WATCHDOG=1"]
    now[0] += 0.5
    notifier.frame(_view("self_test"))  # nothing new, the heartbeat not due: no datagram
    now[0] += 0.49
    notifier.frame(_view("ready.attract"))
    assert _recv(sock) == ["STATUS=ready: attract screen", "READY=1"]
    now[0] += 0.01  # 1.0 s after the last heartbeat: half the 2 s interval
    notifier.frame(_view("ready.attract"))
    assert _recv(sock) == ["WATCHDOG=1"]
    now[0] += 1.0
    notifier.frame(_view("new_permit.photo"))
    assert _recv(sock) == ["STATUS=serving: new_permit.photo", "WATCHDOG=1"]
    now[0] += 1.0
    notifier.frame(_view("out_of_service"))  # READY is sent once only
    assert _recv(sock) == ["STATUS=out of service", "WATCHDOG=1"]
    notifier.stopping()
    notifier.stopping()
    assert _recv(sock) == ["STOPPING=1", "STATUS=stopping"]
    now[0] += 5.0
    notifier.frame(_view("ready.attract"))  # after STOPPING nothing more
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recv(4096)


def test_out_of_service_at_start_is_ready_too(listener: tuple[socket.socket, str]) -> None:
    sock, address = listener
    notifier = ServiceNotifier(SdNotify(address), None)
    notifier.frame(_view("out_of_service"))
    assert _recv(sock) == ["STATUS=out of service", "READY=1"]  # no WATCHDOG_USEC: no heartbeats
