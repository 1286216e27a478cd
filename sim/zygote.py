"""The test suite's fork server: one process per test worker that has imported the kiosk, the
device hub and the emulated backend once, and forks a fresh process for each of them on request.

Every whole-session test starts three processes (the kiosk, the hub, the backend), each of which
spent 0.2-0.5 s of CPU importing the same modules: about half of the suite's CPU. They are still
separate processes with their own PIDs, over the same ptys, pcscd and HTTP; only the start and the
imports are shared, as `multiprocessing`'s forkserver does. The server is single-threaded (fork is
safe) and initialises nothing; each child gets a new interpreter's signal dispositions.

  python -m sim.zygote --socket PATH [--watch-stdin]
                  serve until SIGTERM (or, with --watch-stdin, until stdin closes: the test process
                  that started it is gone); prints one JSON ready line

A client (`popen`, `run`) sends the argument vector, directory, environment and its three streams
(SCM_RIGHTS) and gets the child's PID, later its exit code, on the same connection. Only the entry
points of `ENTRY_POINTS` are forked; anything else, or no `RPKIOSK_ZYGOTE`, runs through `subprocess`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from sim.zygote_children import Children

ENV = "RPKIOSK_ZYGOTE"
PID_ENV = "RPKIOSK_ZYGOTE_PID"  # the server's PID, for whoever measures its children's CPU (tests/cpu_report.py)
STOP_S = 5.0  # at the server's stop, how long a child left running has after its SIGTERM
ROOT = Path(__file__).resolve().parent.parent
# argv[1] (a script or `-m module`) -> the module whose main(argv) runs it
ENTRY_POINTS = {
    str(ROOT / "run_kiosk.py"): "run_kiosk",
    "run_kiosk.py": "run_kiosk",
    "sim.hub": "sim.hub",
    "sim.backend_server": "sim.backend_server",
    "sim.visit": "sim.visit",
    "sim.killpoints": "sim.killpoints",
    "sim.faultmatrix": "sim.faultmatrix",
    "sim.soak": "sim.soak",
}
PRELOAD = ("run_kiosk", "sim.runner", "sim.hub", "sim.backend_server", "sim.visit", "screens.display",
           "sim.dev_panel", "sim.killpoints", "sim.faultmatrix", "sim.faultcells", "sim.soak",
           "kiosk.mainloop", "sim.camera_emu", "sim.qr_frames",
           # what the kiosk imports as it builds its adapters and its backend client
           "devices.camera", "devices.card_printer", "devices.id_reader", "devices.permit_card",
           "devices.qr_camera", "devices.qr_scanner", "httpcore", "h11", "certifi", "encodings.idna",
           # the photo's face detector and the emulated backend's face match (OpenCV, numpy)
           "numpy", "cv2", "kiosk.face_haar", "sim.faces", "sim.backend.face", "fleet.link",
           # what the emulated backend's server imports at its first request (anyio's event loop)
           "anyio._backends._asyncio", "anyio.streams.tls", "anyio.streams.memory", "anyio.streams.stapled",
           "uvicorn.protocols.http.h11_impl", "uvicorn.lifespan.off", "uvicorn.loops.asyncio")


def _warm() -> None:
    """What every child would do alike, done once: tables, PIL's plugins, the photograph, the
    cascades, the residents' reference portraits, the backend's API document."""
    from PIL import Image

    from kiosk.config import load_kiosk_config, load_sim_config
    from kiosk.face_haar import HaarFaceDetector
    from screens import text
    from sim import faces
    from sim.backend.contract import Contract

    Image.init()
    faces.warm_up()
    faces.warm_references()
    HaarFaceDetector().warm_up()
    Contract()  # the emulated backend's API document, parsed
    load_kiosk_config()  # its sections' field types, worked out (kiosk/config.py)
    load_sim_config()
    for lang in text.LANGUAGES:
        text.load_table(lang)


def entry_point(args: list[str]) -> tuple[str, list[str]] | None:
    """(module, its argv) when `args` is `python SCRIPT ...` or `python -m MODULE ...` that the
    server can fork; None for anything else (flags to the interpreter, other modules)."""
    if len(args) < 2 or args[0] != sys.executable:
        return None
    if args[1] == "-m" and len(args) >= 3:
        module = ENTRY_POINTS.get(args[2])
        return (module, args[3:]) if module else None
    module = ENTRY_POINTS.get(args[1])
    return (module, args[2:]) if module else None


# --- the client: a small part of subprocess.Popen's interface ------------------------------------


class ForkedProcess:
    """A process the fork server started: `pid`, `poll`, `wait`, `returncode`, `stdout` (a pipe
    when asked for), signals by PID."""

    def __init__(self, conn: socket.socket, pid: int, args: list[str], stdout: IO[bytes] | None) -> None:
        self._conn = conn
        self.pid = pid
        self.args = args
        self.stdout = stdout
        self.returncode: int | None = None
        self._pending = bytearray()

    def _read_exit(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        line = _read_line(self._conn, timeout, self._pending)
        if line is None:
            return None
        # the server answers each child's end; a closed connection means the server is gone
        self.returncode = int(json.loads(line)["exit"]) if line else -signal.SIGKILL
        self._conn.close()
        return self.returncode

    def poll(self) -> int | None:
        return self._read_exit(0.0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._read_exit(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _read_line(conn: socket.socket, timeout: float | None, pending: bytearray) -> bytes | None:
    """One JSON line from the server; b"" when it closed the connection, None on timeout."""
    conn.settimeout(timeout)
    try:
        while b"\n" not in pending:
            try:
                chunk = conn.recv(4096)
            except (TimeoutError, BlockingIOError):
                return None
            if not chunk:
                return b""
            pending += chunk
    finally:
        with contextlib.suppress(OSError):
            conn.settimeout(None)
    line, _, rest = bytes(pending).partition(b"\n")
    pending[:] = rest
    return line


def _stream(value: Any) -> tuple[int, IO[Any] | None, int | None]:
    """(fd to hand over, our end of a pipe or None, fd we opened and must close)."""
    if value is subprocess.PIPE:
        read, write = os.pipe()
        return write, os.fdopen(read, "rb"), write
    if value is None or value is subprocess.DEVNULL:
        fd = os.open(os.devnull, os.O_RDWR)
        return fd, None, fd
    return value.fileno() if hasattr(value, "fileno") else int(value), None, None


def popen(args: list[str], *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
          stdin: Any = subprocess.DEVNULL, stdout: Any = None, stderr: Any = None) -> Any:
    """`subprocess.Popen(args, ...)`, forked by the fork server when one is set and `args` is one
    of its entry points; a real `Popen` otherwise. `stdout=None` means /dev/null here, as the
    callers never share the caller's own streams."""
    environment = dict(os.environ if env is None else env)
    path = environment.get(ENV)
    target = entry_point(args) if path else None
    if path is None or target is None:
        return subprocess.Popen(args, cwd=cwd, env=environment, stdin=stdin, stdout=stdout, stderr=stderr)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    opened: list[int] = []
    ours: IO[bytes] | None = None
    fds = []
    for value in (stdin, stdout, stderr):
        fd, mine, to_close = _stream(value)
        fds.append(fd)
        ours = mine or ours
        if to_close is not None:
            opened.append(to_close)
    request = {"module": target[0], "argv": target[1], "cwd": str(cwd or os.getcwd()), "env": environment}
    try:
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], fds)
    finally:
        for fd in opened:
            os.close(fd)
    pending = bytearray()
    line = _read_line(conn, None, pending)
    if not line:
        conn.close()
        raise OSError("the fork server did not start the process")
    proc = ForkedProcess(conn, int(json.loads(line)["pid"]), args, ours)
    proc._pending = pending
    return proc


def run(args: list[str], *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
        timeout: float | None = None, out_dir: Path) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True, stdin=DEVNULL, timeout=...)` through
    `popen`; the output goes through files in `out_dir` (no pipes to drain)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = out_dir / "stdout.txt", out_dir / "stderr.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return subprocess.CompletedProcess(args, code, out_path.read_text(encoding="utf-8", errors="replace"),
                                       err_path.read_text(encoding="utf-8", errors="replace"))


# --- the server -----------------------------------------------------------------------------------


def preload() -> None:
    """What the children share: the modules of PRELOAD imported (and so compiled, when their
    bytecode is not cached yet), and _warm's tables."""
    # numpy's and OpenCV's BLAS would start worker threads at import: one thread keeps fork safe
    # (the children's BLAS then runs on one thread, which nothing here needs more of)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the ready line
        for name in PRELOAD:
            importlib.import_module(name)
        _warm()


def serve(path: str, watch_stdin: bool = False) -> int:
    preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "wake")
    if watch_stdin:  # the starter holds the other end: if it dies unstopped, so does the server
        selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "starter")
    children = Children(selector)
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    if threads != 1:
        raise SystemExit(f"sim.zygote: {threads} threads after the preload: forking would not be safe")
    gc.freeze()  # the preloaded objects stay shared between parent and children (no copy on write)
    print(json.dumps({"pid": os.getpid(), "socket": path}), flush=True)
    while not stopping:
        for key, _ in selector.select():
            if key.data == "accept":
                conn, _addr = listener.accept()
                selector.register(conn, selectors.EVENT_READ, "request")
            elif key.data == "wake":
                os.read(wake_read, 4096)
                children.announce_exits()
            elif key.data == "starter":
                if not os.read(sys.stdin.fileno(), 4096):
                    stopping = True
            elif key.data == "request":
                conn = key.fileobj  # type: ignore[assignment]
                selector.unregister(conn)
                children.start(conn)
            else:
                children.client_gone(key.data)
    listener.close()
    with contextlib.suppress(OSError):
        os.unlink(path)
    children.stop_all(STOP_S)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.zygote")
    parser.add_argument("--socket")
    parser.add_argument("--watch-stdin", action="store_true", help="stop when stdin closes")
    parser.add_argument("--preload-only", action="store_true",
                        help="import what the server preloads and exit (scripts/test.sh: compiles it once)")
    args = parser.parse_args(argv)
    if args.preload_only:
        preload()
        return 0
    if not args.socket:
        parser.error("--socket is required")
    return serve(args.socket, args.watch_stdin)


if __name__ == "__main__":
    sys.exit(main())
