"""Starting the emulator processes (device hub, backend) and stopping them by PID, never by name."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim import zygote

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parent.parent


class LaunchError(RuntimeError):
    pass


@dataclass
class ManagedProcess:
    name: str
    proc: subprocess.Popen[bytes] | zygote.ForkedProcess
    ready: dict[str, Any] = field(default_factory=dict)
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def terminate(self) -> None:
        """SIGTERM to this PID without waiting: several processes then stop side by side."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM to this PID, then SIGKILL if it does not end; returns the exit code."""
        self.terminate()
        if self.proc.returncode is None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def state(self) -> str:
        """Whether it still runs (or what it exited with) and the end of its log: a crashed run's
        report says what an emulator did under it (the hub's control socket was once refused, once
        reset, and nothing said why)."""
        code = self.proc.poll()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-1200:] if self.log_path else ""
        how = "runs" if code is None else f"exited with {code}"
        return f"; the {self.name} (pid {self.pid}) {how}, its log ends:\n{tail}"

    def wait_ready(self, timeout: float = 15.0) -> ManagedProcess:
        """Read the process's one JSON ready line from its stdout (LaunchError when it exits,
        says something else, or stays silent for `timeout` seconds)."""
        proc = self.proc
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                self.stop()
                tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:] if self.log_path else ""
                raise LaunchError(f"{self.name} did not start (see {self.log_path}):\n{tail}")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                buf += chunk
        try:
            self.ready = json.loads(buf.split(b"\n", 1)[0])
        except ValueError as exc:
            self.stop()
            raise LaunchError(f"{self.name}: unreadable ready line") from exc
        return self


def spawn(name: str, args: list[str], log_path: Path) -> ManagedProcess:
    """Start `python -m ...` with stdout as a pipe for its one ready line and stderr to a log file;
    returns at once, so several can start side by side (`wait_ready` then reads the line)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with log_path.open("ab") as log:
        # forked by the test suite's fork server when one runs (sim/zygote.py), else a new interpreter
        proc = zygote.popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=log,
                            stdin=subprocess.DEVNULL, cwd=str(ROOT), env=env)
    return ManagedProcess(name, proc, log_path=log_path)


def start(name: str, args: list[str], log_path: Path, ready_timeout: float = 15.0) -> ManagedProcess:
    """`spawn`, then wait for its ready line."""
    return spawn(name, args, log_path).wait_ready(ready_timeout)


def start_hub(workdir: Path, residents_file: Path, faults: list[dict[str, Any]], *, pace: bool,
              printer: dict[str, int], qr_max_line: int | None = None, wait: bool = True) -> ManagedProcess:
    """The device hub; `wait=False` returns before its ready line (call `wait_ready`)."""
    args = ["-m", "sim.hub", "--dir", str(workdir / "hub"), "--residents", str(residents_file)]
    if qr_max_line is not None:
        args += ["--qr-max-line", str(qr_max_line)]
    if faults:
        path = workdir / "hub-faults.json"
        path.write_text(json.dumps(faults), encoding="utf-8")
        args += ["--faults", str(path)]
    if pace:
        args.append("--pace")
    for key, value in printer.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    hub = spawn("device hub", args, workdir / "hub.log")
    return hub.wait_ready() if wait else hub


def start_backend(workdir: Path, residents_file: Path, today: str, policy: str,
                  faults: list[dict[str, Any]], wait: bool = True,
                  tls: tuple[Path, Path, Path] | None = None) -> ManagedProcess:
    """The emulated backend; `wait=False` returns before its ready line (call `wait_ready`)."""
    args = ["-m", "sim.backend_server", "--db", str(workdir / "backend.sqlite"), "--load", str(residents_file),
            "--today", today, "--policy", policy, "--host", "127.0.0.1", "--port", "0"]
    if faults:
        path = workdir / "backend-faults.json"
        path.write_text(json.dumps(faults), encoding="utf-8")
        args += ["--faults", str(path)]
    if tls is not None:  # (server certificate, its key, the CA client certificates must chain to)
        args += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1]), "--client-ca", str(tls[2])]
    backend = spawn("backend", args, workdir / "backend.log")
    return backend.wait_ready() if wait else backend


def backend_request(method: str, url: str, path: str, *, timeout: float = 5.0,
                    cert: tuple[str, str] | None = None, json_body: Any = None) -> httpx.Response:
    """One request to the emulated backend's own routes (`/sim/records`, `/sim/faults`), its reply.

    No CA bundle is loaded (httpx loads certifi's for each call otherwise: 20-25 ms of CPU, paid by
    every whole session that reads the records): a plain-http URL needs none, and an https one is
    the scenario's own server, its certificate made for the run; `cert` is presented when the
    server asks for a client's."""
    import httpx

    from kiosk.backend_client import tls_verify

    verify = tls_verify(False, cert) if cert is not None else False
    return httpx.request(method, f"{url}{path}", timeout=timeout, verify=verify, json=json_body)


def backend_records(url: str, *, timeout: float = 5.0, cert: tuple[str, str] | None = None) -> dict[str, Any]:
    """The emulated backend's records (`GET /sim/records`: nothing personal)."""
    reply = backend_request("GET", url, "/sim/records", timeout=timeout, cert=cert)
    reply.raise_for_status()
    return reply.json()
