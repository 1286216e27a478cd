"""Runs one command as its child and ends it when the parent of this guard goes, however it goes.

  python sim/child_guard.py COMMAND [ARGS...]

A test process that crashed (SIGKILL, a segfault, an OOM kill) used to leave its Mosquitto
running for hours. The guard closes that gap twice over:

- the guard's parent holds the write end of the guard's stdin and never writes: when the
  parent's process ends, by any death, the kernel closes it and the guard reads EOF; it then
  sends the child SIGTERM (Mosquitto saves its persistence), SIGKILL after `GRACE_S`;
- the child runs with PR_SET_PDEATHSIG = SIGKILL: if the guard itself is killed, the kernel kills
  the child. The guard is single-threaded, so the parent-death signal (which follows the thread
  that forked) cannot fire early, and preexec_fn is safe here (it is not in a threaded test).

The guard prints the child's PID on its first stdout line, then waits on the child's pidfd and
its stdin; SIGTERM to the guard is passed on to the child. It exits with the child's status
(a signal N as 128 + N). The child inherits stderr, so a start error still reaches the parent.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1
GRACE_S = 10.0


def _die_with_guard(guard: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(126)
    if os.getppid() != guard:  # the guard went between fork and prctl: nobody would signal us
        os._exit(125)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: child_guard.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    guard = os.getpid()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             preexec_fn=lambda: _die_with_guard(guard))
    signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    print(child.pid, flush=True)
    pidfd = os.pidfd_open(child.pid)
    try:
        while True:
            ready, _, _ = select.select([pidfd, sys.stdin.fileno()], [], [])
            if pidfd in ready:
                break  # the child ended by itself (or by the SIGTERM passed on)
            if not os.read(sys.stdin.fileno(), 4096):  # EOF: the parent is gone or let go of us
                child.terminate()
                try:
                    child.wait(GRACE_S)
                except subprocess.TimeoutExpired:
                    child.kill()
                break
    finally:
        os.close(pidfd)
    rc = child.wait()
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
