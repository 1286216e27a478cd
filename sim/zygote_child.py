"""The fork server's child (sim/zygote.py), from the fork to its exit: a new interpreter's signal
dispositions, its own streams, directory and environment, then the entry point's main."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import traceback
from typing import Any

# As this interpreter started: a new one keeps SIGINT ignored when it inherits it ignored (a
# command started in the background by a shell), and raises KeyboardInterrupt otherwise.
_SIGINT_AT_START = signal.getsignal(signal.SIGINT)


def fresh_signals() -> None:
    """A new interpreter's dispositions: SIGPIPE ignored (a write to a closed socket raises), not
    SIG_DFL, which killed a forked hub outright when a client closed before its reply."""
    sigint = signal.SIG_IGN if _SIGINT_AT_START == signal.SIG_IGN else signal.default_int_handler
    for sig, how in ((signal.SIGCHLD, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL),
                     (signal.SIGINT, sigint), (signal.SIGPIPE, signal.SIG_IGN)):
        signal.signal(sig, how)


PROFILE_ENV = "RPKIOSK_ZYGOTE_PROFILE"  # a directory: each child's main thread profiled into it


def _main(module: Any, argv: list[str]) -> Any:
    """The entry point's main; with PROFILE_ENV set, under cProfile (its main thread only), the
    profile written to that directory as MODULE.PID.prof: where a whole session's processes spend
    their CPU, measured in the suite itself (`python -m pstats`, or sum them with pstats.Stats)."""
    directory = os.environ.get(PROFILE_ENV)
    if not directory:
        return module.main(argv)
    import cProfile

    profile = cProfile.Profile()
    try:
        return profile.runcall(module.main, argv)
    finally:
        profile.dump_stats(os.path.join(directory, f"{module.__name__}.{os.getpid()}.prof"))


def run_child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: its streams, directory, environment, then the entry point's main."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        # the server's listener, connections, selector and wake pipe are not the child's
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        fresh_signals()
        signal.set_wakeup_fd(-1)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [request["module"], *request["argv"]]
        module = importlib.import_module(request["module"])
        code = int(_main(module, list(request["argv"])) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
