"""The test suite's fork server (sim/zygote.py): the processes it forks behave as new ones would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim import launcher, zygote

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("zygote")
    path = str(folder / "socket")
    proc = launcher.spawn("fork server", ["-m", "sim.zygote", "--socket", path], folder / "server.log")
    proc.wait_ready(60)
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


def test_anything_else_starts_a_new_interpreter(server: str) -> None:
    other = zygote.popen([sys.executable, "-c", "print(1)"], cwd=ROOT, env=env_with(server),
                         stdout=subprocess.PIPE)
    assert isinstance(other, subprocess.Popen)
    assert other.communicate(timeout=30)[0].strip() == b"1"
    unset = zygote.popen([sys.executable, "-m", "sim.visit", "--help"], cwd=ROOT, env=env_with(None),
                         stdout=subprocess.DEVNULL)
    assert isinstance(unset, subprocess.Popen)
    assert unset.wait(30) == 0
