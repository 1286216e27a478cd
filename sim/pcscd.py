"""Debian's pcscd in the foreground, as a child process, for the simulator and the tests.

pcscd 1.9.9 has one socket (/run/pcscd/pcscd.comm; the daemon ignores PCSCLITE_CSOCK_NAME)
and one PID file, so one pcscd serves the whole machine, and vpcd's ports are the machine's
too. So a user of the virtual readers first takes a machine-wide lock (a second test run on
the same machine waits for the first instead of pulling its cards), then looks for a running
pcscd: if it already offers the vpcd readers we use it and leave it alone; if it does not,
we fail and say so, and never stop a pcscd we did not start. Ours is stopped by its PID
(sim.launcher.ManagedProcess). No `--auto-exit`: the daemon must outlive idle minutes of a
test run. Never `--apdu` either: it would log APDUs, and with them residents' data.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from smartcard import scard

from sim.launcher import ManagedProcess

PID_FILE = Path("/run/pcscd/pcscd.pid")
LOCK_FILE = Path(tempfile.gettempdir()) / "rpkiosk-vpcd.lock"
VIRTUAL_READER = "Virtual PCD"  # vpcd's reader names: "Virtual PCD 00 00", "Virtual PCD 00 01"


class PcscdError(RuntimeError):
    pass


@dataclass
class Pcscd:
    process: ManagedProcess | None  # None: a pcscd this code did not start, left running
    readers: tuple[str, ...]
    lock: int | None = None  # fd holding LOCK_FILE while the virtual readers are ours

    @property
    def owned(self) -> bool:
        return self.process is not None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else running_pid()

    def stop(self) -> int | None:
        """Stop our pcscd by its PID (SIGTERM, then SIGKILL; a foreign one is left alone), then
        let the next user of the virtual readers in."""
        try:
            return self.process.stop() if self.process is not None else None
        finally:
            if self.lock is not None:
                os.close(self.lock)  # closing the descriptor drops the flock
                self.lock = None


def _take_lock(timeout: float) -> int:
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise PcscdError(f"the virtual readers stayed in use by another process ({LOCK_FILE})") from None
        # Another run holds the readers: wait for it (bounded), checking a few times a second.
        time.sleep(0.1)


def running_pid() -> int | None:
    """The PID in pcscd's PID file when that process is alive."""
    try:
        pid = int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, someone else's
    return pid


def pcsc_readers() -> list[str] | None:
    """The readers pcscd offers, or None when no pcscd answers."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            return None
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


def _virtual(readers: list[str] | None, prefix: str) -> tuple[str, ...]:
    return tuple(r for r in readers or [] if r.startswith(prefix))


def start_pcscd(log_path: Path, *, ready_timeout: float = 10.0, config_dir: Path | None = None,
                reader_prefix: str = VIRTUAL_READER, lock_timeout: float = 120.0) -> Pcscd:
    """A pcscd offering readers named `reader_prefix`...: a running one, or one started here.
    Holds the machine-wide lock on the virtual readers until `stop()`.

    `config_dir` replaces /etc/reader.conf.d (pcscd -c), e.g. to move vpcd to other ports.
    """
    lock = _take_lock(lock_timeout)
    try:
        daemon = _start(log_path, ready_timeout, config_dir, reader_prefix)
    except BaseException:
        os.close(lock)
        raise
    daemon.lock = lock
    return daemon


def _start(log_path: Path, ready_timeout: float, config_dir: Path | None, reader_prefix: str) -> Pcscd:
    foreign = running_pid()
    readers = pcsc_readers()
    if foreign is not None or readers is not None:
        found = _virtual(readers, reader_prefix)
        if found:
            return Pcscd(None, found)
        raise PcscdError(
            f"a pcscd is already running (pid {foreign if foreign is not None else 'unknown'}) without "
            f"a reader named {reader_prefix!r} (readers: {readers}); not touching it"
        )
    exe = shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/usr/local/sbin:/sbin")
    if exe is None:
        raise PcscdError("pcscd is not installed (Debian package pcscd)")
    args = [exe, "--foreground"]
    if config_dir is not None:
        args += ["--config", str(config_dir)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    managed = ManagedProcess("pcscd", proc)
    deadline = time.monotonic() + ready_timeout
    while True:
        found = _virtual(pcsc_readers(), reader_prefix)
        if found:
            return Pcscd(managed, found)
        if proc.poll() is not None or time.monotonic() >= deadline:
            managed.stop()
            tail = ""
            with contextlib.suppress(OSError):
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            why = f"exited with {proc.returncode}" if proc.returncode is not None else "offered no reader in time"
            raise PcscdError(f"pcscd {why}: no reader named {reader_prefix!r} (see {log_path}):\n{tail}")
        # Waiting on the process, not sleeping: an early exit ends the wait at once.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)
