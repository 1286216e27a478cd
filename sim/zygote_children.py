"""The fork server's children (sim/zygote.py), from their fork to their reaping: each announced
to its client when it ends, reaped once the client is done, and stopped by PID when the server
stops with some still running."""

from __future__ import annotations

import contextlib
import json
import os
import select
import selectors
import signal
import socket
import sys
import time

from sim.zygote_child import run_child


class Children:
    """The forked children, each until its client is done with it. A child that ends is announced
    at once but stays a zombie until its client closes the connection, so its PID cannot go to
    another process: a later stop by that PID never reaches a stranger (pid_max 32768 wraps fast;
    reaping at once once let a SIGTERM stop another test's hub)."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        self._conn: dict[int, socket.socket] = {}  # a client still connected
        self._module: dict[int, str] = {}
        self._ended: set[int] = set()  # announced, not yet reaped

    def start(self, conn: socket.socket) -> None:
        try:
            message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
            request = json.loads(message)
        except (OSError, ValueError):
            conn.close()
            return
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(request, fds)
        for fd in fds:
            os.close(fd)
        self._conn[pid], self._module[pid] = conn, request["module"]
        try:
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            self.client_gone(pid)
            return
        self._selector.register(conn, selectors.EVENT_READ, pid)  # its end: the client is done

    def announce_exits(self) -> None:
        """Tell each client whose child ended its exit code (the child stays a zombie)."""
        for pid in [p for p in self._module if p not in self._ended]:
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
            if info is None:
                continue
            self._ended.add(pid)
            code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            conn = self._conn.get(pid)
            if conn is None:
                self._reap(pid)
                continue
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"exit": code}).encode() + b"\n")

    def client_gone(self, pid: int) -> None:
        """The client closed its connection: its child is reaped now if it ended, else when it does."""
        conn = self._conn.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn)
            conn.close()
        if pid in self._ended:
            self._reap(pid)

    def stop_all(self, timeout: float) -> None:
        """The server is stopping: every child still running is stopped by its PID (SIGTERM, then
        SIGKILL after `timeout`) and every child reaped. Tests stop their own processes, so this
        acts only when a starter died unstopped (a pytest that crashed left its hub and backend
        running, children of init) or a test leaked one; either is said in the log."""
        running = [pid for pid in self._module if pid not in self._ended]
        if running:
            print(f"sim.zygote: stopping {len(running)} children still running: "
                  f"{sorted(self._module[p] for p in running)}", file=sys.stderr, flush=True)
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for pid in running:
            if not _ended_by(pid, deadline):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.announce_exits()  # a client still connected hears how its child ended
        for pid in list(self._module):
            self._reap(pid)

    def _reap(self, pid: int) -> None:
        _, status, usage = os.wait4(pid, 0)
        module = self._module.pop(pid, "?")
        self._ended.discard(pid)
        # what each child cost, for whoever measures the suite (the log is the server's stderr; its
        # children's include what they waited for: a kiosk's pcscd): `python -m tests.cpu_report --children`
        print(json.dumps({"pid": pid, "module": module, "exit": os.waitstatus_to_exitcode(status),
                          "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "sys_s": round(usage.ru_stime, 3),
                          "minflt": usage.ru_minflt}), file=sys.stderr, flush=True)


def _ended_by(pid: int, deadline: float) -> bool:
    """Whether the child `pid` has ended by `deadline` (it is left a zombie, to be reaped)."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return True  # gone already
    try:
        # a pidfd is readable once the process has ended: no polling
        return bool(select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0])
    finally:
        os.close(pidfd)
