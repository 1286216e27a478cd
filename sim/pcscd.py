"""Debian's pcscd in the foreground, as a child process, for the simulator and the tests.

pcscd 1.9.9 has one socket (/run/pcscd/pcscd.comm; the daemon ignores PCSCLITE_CSOCK_NAME)
and one PID file, so one pcscd serves the whole machine. vpcd listens on TCP ports of its own
(two slots: "Virtual PCD 00 00" on the configured port, "Virtual PCD 00 01" on the next one),
and those ports must lie below Linux's ephemeral range: a client socket of the suite's
thousands of HTTP connections may hold a port from that range at any moment, and vpcd then
cannot bind (issue 8, bug 6). So the port comes from config/sim.toml (`[pcsc] vpcd_port`),
and pcscd is started with a reader.conf of ours (`pcscd -c DIR`) written into a temporary
directory, never with Debian's /etc/reader.conf.d/vpcd (port 35963, inside that range).

A user of the virtual readers first takes a machine-wide lock (a second test run on the same
machine waits for the first instead of pulling its cards), then looks for a running pcscd:
it is used, and left alone, only when it was started with a reader.conf that puts vpcd on our
port and it offers the vpcd readers; any other pcscd is an error that says which ports it
serves, and is never stopped by us. Ours is stopped by its PID (sim.launcher.ManagedProcess).
A port vpcd cannot bind is a typed error naming the port (VpcdPortError), found before pcscd
starts when the port is visibly taken, and from pcscd's log when vpcd fails inside it.
No `--auto-exit`: the daemon must outlive idle minutes of a test run. Never `--apdu` either: it
would log APDUs, and with them residents' data.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import socket
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
VPCD_SLOTS = 2  # vpcd makes two readers per reader.conf entry, on port and port + 1
SYSTEM_CONFIG = Path("/etc/reader.conf.d")  # pcscd's default when started without -c
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")  # Debian's vsmartcard-vpcd
PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# What pcscd logs when vpcd's IFDHCreateChannel could not listen (see _bind_failure).
_BIND_FAILED = ("Address already in use", "Could not initialize connection to virtual ICC", "init failed")


class PcscdError(RuntimeError):
    pass


class VpcdPortError(PcscdError):
    """vpcd cannot listen on `port` (in use, or a port a client socket may take at any time)."""

    def __init__(self, port: int, why: str) -> None:
        super().__init__(f"vpcd cannot listen on TCP port {port}: {why}")
        self.port = port


class ForeignPcscd(PcscdError):
    """A running pcscd that does not serve vpcd on our ports: not ours to use or to stop."""

    def __init__(self, pid: int | None, ports: tuple[int, ...], wanted: int, detail: str) -> None:
        served = ", ".join(str(p) for p in ports) or "none"
        super().__init__(
            f"a pcscd is already running (pid {pid if pid is not None else 'unknown'}) with vpcd on TCP "
            f"port(s) {served}, not on {wanted} as config/sim.toml asks ({detail}); it is not ours, so it is "
            f"neither used nor stopped: stop it, or run under tools/iso"
        )
        self.pid, self.ports, self.wanted = pid, ports, wanted


def configured_port() -> int:
    """vpcd's first port from config/sim.toml (`[pcsc] vpcd_port`)."""
    from kiosk.config import load_sim_config

    return load_sim_config().pcsc.vpcd_port


def vpcd_ports(port: int) -> tuple[int, ...]:
    """The TCP ports of vpcd's readers for a reader.conf entry on `port`, slot by slot."""
    return tuple(port + slot for slot in range(VPCD_SLOTS))


@dataclass
class Pcscd:
    process: ManagedProcess | None  # None: a pcscd this code did not start, left running
    readers: tuple[str, ...]
    port: int = 0  # vpcd's first port: "Virtual PCD 00 00"; the second slot is port + 1
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
        pid = int(PID_FILE.read_text().replace("\0", "").strip())  # pcscd 1.9.9 ends it with a NUL
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


# --- reader.conf: ours, and reading a running pcscd's -------------------------------------------


def reader_conf_dir(port: int) -> Path:
    """Where our reader.conf for `port` lives: one file in a directory of its own (pcscd -c reads
    every file of a directory). A fixed name per port, so a pcscd left running by an earlier run
    of ours is recognised by its command line."""
    return Path(tempfile.gettempdir()) / f"rpkiosk-vpcd-{port}"


def write_reader_conf(port: int) -> Path:
    """Our reader.conf: vpcd's readers named VIRTUAL_READER on `port` and `port + 1`."""
    driver = _vpcd_driver()
    directory = reader_conf_dir(port)
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "vpcd"
    text = (f'FRIENDLYNAME "{VIRTUAL_READER}"\nDEVICENAME   /dev/null:{port}\n'
            f"LIBPATH      {driver}\nCHANNELID    {port}\n")
    if not conf.exists() or conf.read_text(encoding="ascii") != text:
        tmp = directory / ".vpcd.tmp"  # never in the directory pcscd reads under its own name
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, conf)
    return directory


def _vpcd_driver() -> Path:
    """vpcd's driver, as Debian's own reader.conf names it (or where the package puts it)."""
    for entry in _conf_entries(SYSTEM_CONFIG):
        lib = Path(entry.get("LIBPATH", ""))
        if "vpcd" in lib.name and lib.exists():
            return lib
    if VPCD_DRIVER.exists():
        return VPCD_DRIVER
    raise PcscdError(f"vpcd's driver is not installed ({VPCD_DRIVER}; Debian package vsmartcard-vpcd)")


def _conf_entries(path: Path) -> list[dict[str, str]]:
    """The reader entries of a reader.conf file, or of every file in a reader.conf.d directory."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    entries: list[dict[str, str]] = []
    for f in files:
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        current: dict[str, str] = {}
        for line in lines:
            words = line.split(None, 1)
            if not words or words[0].startswith("#"):
                continue
            key, value = words[0].upper(), (words[1].strip().strip('"') if len(words) > 1 else "")
            if key == "FRIENDLYNAME" and current:
                entries.append(current)
                current = {}
            current[key] = value
        if current:
            entries.append(current)
    return entries


def vpcd_ports_in(path: Path) -> tuple[int, ...]:
    """vpcd's first ports in a reader.conf (file or directory): DEVICENAME /dev/null:PORT."""
    ports: list[int] = []
    for entry in _conf_entries(path):
        device = entry.get("DEVICENAME", "")
        if "vpcd" not in entry.get("LIBPATH", "") or ":" not in device:
            continue
        with contextlib.suppress(ValueError):
            ports.append(int(device.rsplit(":", 1)[1], 0))
    return tuple(ports)


def config_of(pid: int) -> Path | None:
    """The reader.conf a running pcscd was started with (-c / --config), else the default;
    None when its command line cannot be read."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in args if a]
    for i, word in enumerate(words):
        if word in ("-c", "--config") and i + 1 < len(words):
            return Path(words[i + 1])
        if word.startswith("--config="):
            return Path(word.split("=", 1)[1])
        if word.startswith("-c") and len(word) > 2 and not word.startswith("--"):
            return Path(word[2:])
    return SYSTEM_CONFIG


# --- ports ------------------------------------------------------------------------------------------


def ephemeral_range() -> tuple[int, int]:
    """Linux's range of ports handed out to client sockets."""
    try:
        low, high = (int(v) for v in PORT_RANGE.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def check_range(port: int) -> None:
    """Raise VpcdPortError when one of vpcd's ports is not a fixed listener's port: privileged,
    or inside the ephemeral range."""
    low, high = ephemeral_range()
    for p in vpcd_ports(port):
        if not 1024 <= p <= 65535:
            raise VpcdPortError(p, "not a port for an unprivileged listener (1024-65535)")
        if low <= p <= high:
            raise VpcdPortError(p, f"inside the ephemeral range {low}-{high}, where client sockets take ports "
                                   f"at any time; set [pcsc] vpcd_port in config/sim.toml below {low - VPCD_SLOTS}")


def check_port(port: int) -> None:
    """Raise VpcdPortError unless vpcd could listen on every one of its ports now."""
    check_range(port)
    for p in vpcd_ports(port):
        # What vpcd does: SO_REUSEADDR, every interface.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", p))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise VpcdPortError(p, f"already in use ({_tcp_states(p) or 'by another socket'})") from None
                raise VpcdPortError(p, os.strerror(exc.errno or 0)) from None


_TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
               "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
               "0B": "CLOSING"}


def _tcp_states(port: int) -> str:
    """Who holds a local TCP port, from /proc/net/tcp{,6}: e.g. '1 LISTEN, 2 ESTABLISHED'."""
    counts: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    state = _TCP_STATES.get(fields[3], fields[3])
                    counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{n} socket(s) {s}" for s, n in counts.items())


def _bind_failure(log_text: str) -> bool:
    return any(marker in log_text for marker in _BIND_FAILED)


# --- starting ---------------------------------------------------------------------------------------


def start_pcscd(log_path: Path, *, ready_timeout: float = 10.0, vpcd_port: int | None = None,
                reader_prefix: str = VIRTUAL_READER, lock_timeout: float = 120.0) -> Pcscd:
    """A pcscd offering vpcd's readers on `vpcd_port` (default: config/sim.toml) and the next
    port: a running one started with that reader.conf, or one started here with our own.
    Holds the machine-wide lock on the virtual readers until `stop()`.

    Raises VpcdPortError (the port named) when vpcd cannot listen there, ForeignPcscd when a
    pcscd serving other ports runs already, PcscdError for anything else.
    """
    port = configured_port() if vpcd_port is None else vpcd_port
    check_range(port)
    lock = _take_lock(lock_timeout)
    try:
        daemon = _start(log_path, ready_timeout, port, reader_prefix)
    except BaseException:
        os.close(lock)
        raise
    daemon.lock = lock
    return daemon


def _start(log_path: Path, ready_timeout: float, port: int, reader_prefix: str) -> Pcscd:
    foreign = running_pid()
    readers = pcsc_readers()
    if foreign is not None or readers is not None:
        return _reuse(foreign, readers, port, reader_prefix)
    return _launch(log_path, ready_timeout, port, reader_prefix)


def reuse_running(port: int, reader_prefix: str = VIRTUAL_READER) -> Pcscd:
    """The running pcscd as a Pcscd we do not own, if it serves vpcd on `port` (ForeignPcscd if
    not, PcscdError if none runs). Takes no lock: start_pcscd does that."""
    foreign, readers = running_pid(), pcsc_readers()
    if foreign is None and readers is None:
        raise PcscdError("no pcscd is running")
    return _reuse(foreign, readers, port, reader_prefix)


def _launch(log_path: Path, ready_timeout: float, port: int, reader_prefix: str) -> Pcscd:
    check_port(port)
    conf = write_reader_conf(port)
    exe = shutil.which("pcscd") or shutil.which("pcscd", path="/usr/sbin:/usr/local/sbin:/sbin")
    if exe is None:
        raise PcscdError("pcscd is not installed (Debian package pcscd)")
    args = [exe, "--foreground", "--config", str(conf)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start_at = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    managed = ManagedProcess("pcscd", proc)
    deadline = time.monotonic() + ready_timeout
    while True:
        found = _virtual(pcsc_readers(), reader_prefix)
        if len(found) >= VPCD_SLOTS:
            return Pcscd(managed, found, port)
        tail = _log_since(log_path, start_at)
        if _bind_failure(tail):
            managed.stop()
            raise VpcdPortError(port, f"pcscd's vpcd could not listen on {'/'.join(map(str, vpcd_ports(port)))} "
                                      f"(see {log_path}):\n{tail[-1000:]}")
        if proc.poll() is not None or time.monotonic() >= deadline:
            managed.stop()
            why = f"exited with {proc.returncode}" if proc.returncode is not None else "offered no reader in time"
            raise PcscdError(f"pcscd {why}: no reader named {reader_prefix!r} on vpcd port {port} "
                             f"(see {log_path}):\n{tail[-2000:]}")
        # Waiting on the process, not sleeping: an early exit ends the wait at once.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)


def _reuse(pid: int | None, readers: list[str] | None, port: int, reader_prefix: str) -> Pcscd:
    """A running pcscd is used only when its reader.conf puts vpcd on our port and it offers the readers."""
    if pid is None:
        raise ForeignPcscd(None, (), port, "its PID file is missing, so its reader.conf cannot be known")
    conf = config_of(pid)
    if conf is None:
        raise ForeignPcscd(pid, (), port, "its command line cannot be read")
    served = vpcd_ports_in(conf) if conf.exists() else ()
    if port not in served:
        raise ForeignPcscd(pid, tuple(p for s in served for p in vpcd_ports(s)), port, f"reader.conf {conf}")
    found = _virtual(readers, reader_prefix)
    if len(found) < VPCD_SLOTS:
        raise PcscdError(f"the running pcscd (pid {pid}) has vpcd on port {port} in {conf} but offers the readers "
                         f"{readers}: vpcd may have failed to listen there; see that pcscd's log")
    return Pcscd(None, found, port)


def _log_since(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
