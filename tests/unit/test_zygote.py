"""The test suite's fork server (sim/zygote.py): the processes it forks behave as new ones would."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import launcher, zygote, zygote_child

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("zygote")
    path = str(folder / "socket")
    with (folder / "server.log").open("ab") as log:
        popen = subprocess.Popen([sys.executable, "-m", "sim.zygote", "--socket", path, "--watch-stdin"], cwd=ROOT,
                                 env=env_with(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    proc = launcher.ManagedProcess("fork server", popen, log_path=folder / "server.log").wait_ready(60)
    try:
        yield path
    finally:
        assert proc.stop() == 0
        assert not os.path.exists(path)


def env_with(path: str | None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop(zygote.ENV, None)
    if path is not None:
        env[zygote.ENV] = path
    return env


def test_an_entry_point_is_forked_with_its_arguments_streams_and_exit_code(server: str, tmp_path: Path) -> None:
    done = zygote.run([sys.executable, "-m", "sim.visit", "--help"], cwd=ROOT, env=env_with(server), timeout=30,
                      out_dir=tmp_path / "help")
    assert done.returncode == 0
    assert "usage:" in done.stdout
    bad = zygote.run([sys.executable, "-m", "sim.visit", "--no-such-flag"], cwd=ROOT, env=env_with(server),
                     timeout=30, out_dir=tmp_path / "bad")
    assert bad.returncode == 2  # argparse's exit code reaches the caller
    assert "required: --attach, --scenario" in bad.stderr


def test_a_forked_emulator_gives_its_ready_line_and_stops_by_pid(server: str, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "sim.backend_server", "--db", str(tmp_path / "b.sqlite"), "--today", "2026-12-01",
            "--policy", "shanghai", "--host", "127.0.0.1", "--port", "0"]
    with (tmp_path / "backend.log").open("ab") as log:
        proc = zygote.popen(args, cwd=ROOT, env=env_with(server), stdout=subprocess.PIPE, stderr=log)
    assert isinstance(proc, zygote.ForkedProcess)
    backend = launcher.ManagedProcess("backend", proc, log_path=tmp_path / "backend.log").wait_ready()
    assert backend.ready["pid"] == proc.pid  # the PID the caller stops is the process's own
    assert backend.ready["port"] > 0
    assert proc.poll() is None
    assert backend.stop() == 0  # SIGTERM: the backend's own clean stop


def test_a_killed_child_reports_the_signal(server: str, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "sim.backend_server", "--db", str(tmp_path / "b.sqlite"), "--today", "2026-12-01",
            "--policy", "shanghai", "--host", "127.0.0.1", "--port", "0"]
    proc = zygote.popen(args, cwd=ROOT, env=env_with(server), stdout=subprocess.PIPE)
    launcher.ManagedProcess("backend", proc).wait_ready()
    proc.kill()
    assert proc.wait(10) == -signal.SIGKILL


def test_the_server_stops_when_its_starter_is_gone(tmp_path: Path) -> None:
    """A pytest killed before its teardown leaves no fork server behind: its stdin closes."""
    path = str(tmp_path / "socket")
    popen = subprocess.Popen([sys.executable, "-m", "sim.zygote", "--socket", path, "--watch-stdin"], cwd=ROOT,
                             env=env_with(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    launcher.ManagedProcess("fork server", popen).wait_ready(60)
    assert popen.stdin is not None
    popen.stdin.close()  # as the starter's death would
    assert popen.wait(30) == 0
    assert not os.path.exists(path)
    assert popen.stdout is not None
    popen.stdout.close()


def test_a_server_whose_starter_is_gone_stops_the_children_left_running(tmp_path: Path) -> None:
    """A pytest that crashed (a segfault) left its fork server's hub and backend running as
    children of init: the server, seeing its starter gone, now stops each by its PID."""
    path = str(tmp_path / "socket")
    with (tmp_path / "server.log").open("ab") as log:
        popen = subprocess.Popen([sys.executable, "-m", "sim.zygote", "--socket", path, "--watch-stdin"], cwd=ROOT,
                                 env=env_with(None), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    launcher.ManagedProcess("fork server", popen).wait_ready(60)
    args = [sys.executable, "-m", "sim.backend_server", "--db", str(tmp_path / "b.sqlite"), "--today", "2026-12-01",
            "--policy", "shanghai", "--host", "127.0.0.1", "--port", "0"]
    child = zygote.popen(args, cwd=ROOT, env=env_with(path), stdout=subprocess.PIPE)
    launcher.ManagedProcess("backend", child).wait_ready()
    assert popen.stdin is not None and popen.stdout is not None
    popen.stdin.close()  # the starter's death, its client connection left open as a crash leaves it
    assert popen.wait(30) == 0
    with pytest.raises(ProcessLookupError):  # stopped and reaped by the server: no such process
        os.kill(child.pid, 0)
    assert child.wait(5) == 0  # its client hears how it ended: the backend's clean stop on SIGTERM
    assert "stopping 1 children still running: ['sim.backend_server']" in (tmp_path / "server.log").read_text()
    popen.stdout.close()


def test_a_child_keeps_its_pid_until_its_client_is_done(server: str, tmp_path: Path) -> None:
    """An ended child stays a zombie until its client has read the end: its PID cannot go to a
    stranger that a late signal from the client would then hit."""
    proc = zygote.popen([sys.executable, "-m", "sim.visit", "--help"], cwd=ROOT, env=env_with(server),
                        stdout=subprocess.DEVNULL)
    assert isinstance(proc, zygote.ForkedProcess)
    # Ended (its help printed) but not yet waited for by us: the PID is still its own, a zombie.
    deadline = 100
    state = ""
    while deadline and state != "Z":
        with contextlib.suppress(FileNotFoundError):
            state = Path(f"/proc/{proc.pid}/stat").read_text().split(")")[-1].split()[0]
        if state != "Z":
            select.select([], [], [], 0.05)
            deadline -= 1
    assert state == "Z", "the ended child was reaped before its client knew"
    assert proc.wait(10) == 0
    for _ in range(100):  # reaped once the client has closed its end
        if not Path(f"/proc/{proc.pid}").exists():
            break
        select.select([], [], [], 0.05)
    assert not Path(f"/proc/{proc.pid}").exists()


def test_anything_else_starts_a_new_interpreter(server: str) -> None:
    other = zygote.popen([sys.executable, "-c", "print(1)"], cwd=ROOT, env=env_with(server),
                         stdout=subprocess.PIPE)
    assert isinstance(other, subprocess.Popen)
    assert other.communicate(timeout=30)[0].strip() == b"1"
    unset = zygote.popen([sys.executable, "-m", "sim.visit", "--help"], cwd=ROOT, env=env_with(None),
                         stdout=subprocess.DEVNULL)
    assert isinstance(unset, subprocess.Popen)
    assert unset.wait(30) == 0


def test_an_emulators_state_says_how_it_ended_and_what_its_log_ends_with(tmp_path: Path) -> None:
    """sim/launcher.ManagedProcess.state(), which a crashed scenario's report and the power-cut
    harness add to their error: a hub that died under a run must say so."""
    log = tmp_path / "hub.log"
    log.write_text("serving\nFatal Python error: Segmentation fault\n", encoding="utf-8")
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    proc = launcher.ManagedProcess("device hub", alive, log_path=log)
    try:
        assert "runs" in proc.state() and "Segmentation fault" in proc.state()
    finally:
        proc.stop()
    dead = subprocess.Popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    dead.wait()
    said = launcher.ManagedProcess("device hub", dead, log_path=log).state()
    assert f"exited with {-signal.SIGSEGV}" in said and said.rstrip().endswith("Segmentation fault")


def _dispositions() -> str:
    return repr([signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)])


def test_a_forked_child_has_a_new_interpreters_signal_dispositions() -> None:
    """SIGPIPE ignored, as Python starts (a write to a closed socket raises BrokenPipeError): the
    server's children had it at SIG_DFL, so a hub whose client closed before its reply died outright
    (a power-cut test's hub refused the next connection; a diagnostics scenario's was reset)."""
    fresh = subprocess.run([sys.executable, "-c", "import signal; print(repr([signal.getsignal(s) for s in "
                            "(signal.SIGPIPE, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)]))"],
                           capture_output=True, text=True, check=True).stdout.strip()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # as the server's child does, after the server set its own handlers
        signal.signal(signal.SIGTERM, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        zygote_child.fresh_signals()
        os.write(write, _dispositions().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as fh:
        child = fh.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert child == fresh, (child, fresh)
    assert "Handlers.SIG_IGN" in child.split(",")[0]


def test_a_forked_hub_survives_a_client_that_leaves_before_its_reply(server: str, tmp_path: Path) -> None:
    """The failure itself: a client asks the forked hub something and closes at once; the hub's
    reply goes to a closed socket, and the hub must still answer the next client."""
    import json
    import socket
    import time

    from sim.hub import HubClient

    residents = tmp_path / "residents.json"
    residents.write_text(json.dumps({"residents": {}}), encoding="utf-8")
    args = [sys.executable, "-m", "sim.hub", "--dir", str(tmp_path / "hub"), "--residents", str(residents),
            "--no-chip"]
    with (tmp_path / "hub.log").open("ab") as log:
        proc = zygote.popen(args, cwd=ROOT, env=env_with(server), stdout=subprocess.PIPE, stderr=log)
    hub = launcher.ManagedProcess("device hub", proc, log_path=tmp_path / "hub.log").wait_ready()
    try:
        rude = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        rude.connect(hub.ready["control"])
        # 2,000 replies to write: more than a socket's buffer holds (200 once fitted in it on a
        # loaded machine, the hub met no closed socket, and the wait below ran its 20 s out)
        rude.sendall(b'{"cmd": "state"}\n' * 2000)
        assert rude.recv(1)  # the hub is writing them now
        rude.close()  # and nobody reads the rest
        # Until the hub's handler has met the closed socket: its error in the log, or its death.
        deadline = time.monotonic() + 20
        while (proc.poll() is None and time.monotonic() < deadline
               and not any(error in (tmp_path / "hub.log").read_text()
                           for error in ("BrokenPipeError", "ConnectionResetError"))):
            time.sleep(0.02)
        assert time.monotonic() < deadline, "the hub never met the closed socket"
        assert proc.poll() is None, hub.state()
        client = HubClient(hub.ready["control"])
        try:
            assert "printer" in client.call("state")
        finally:
            client.close()
    finally:
        hub.stop()
