"""A thread that waits in pcscd for a reader's state to change and wakes the adapter's worker.

The permit card encoder does not poll for cards: this watcher blocks in SCardGetStatusChange on
a context of its own (so a command on the worker's context never waits for it), with a timeout
that lets it stop, and calls `wake` (the worker's poll, submitted as a job) whenever the reader's
state changed. It only watches a reader the worker has found (`reader()`); while there is none it
waits on `found`, which the worker sets when it finds one. `stop` cancels the wait in pcscd.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from smartcard import scard


class ReaderWatcher:
    def __init__(self, name: str, reader: Callable[[], str | None], wake: Callable[[], None], *,
                 found: threading.Event, timeout_ms: int, backoff: float) -> None:
        """`reader`: the reader the worker knows (None: none yet). `wake`: have the worker look now.
        `found`: set by the worker while it knows the reader. `timeout_ms`: the longest one wait in
        pcscd lasts. `backoff`: the pause after pcscd answered with an error or a reader it cannot use."""
        self._name = name
        self._reader = reader
        self._wake = wake
        self._found = found
        self._timeout_ms = timeout_ms
        self._backoff = backoff
        self._stop = threading.Event()
        self._context: int | None = None  # the watcher's own context, cancelled by stop()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._found.set()
        context = self._context
        if context is not None:
            # Ends the wait in pcscd now (a cancel that comes before the wait begins is lost, and
            # then the wait's own timeout ends it).
            with contextlib.suppress(Exception):
                scard.SCardCancel(context)
        self._thread.join(self._timeout_ms / 1000 + 1.0)
        self._thread = None

    def _loop(self) -> None:
        state = scard.SCARD_STATE_UNAWARE
        watched: str | None = None
        while not self._stop.is_set():
            reader = self._reader()  # the worker's find: a plain reference, read once per wait
            context = self._context if reader is not None else None
            if reader is not None and context is None:
                hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
                self._context = context if hresult == scard.SCARD_S_SUCCESS else None
                context = self._context
            if reader is None or context is None:
                # No reader yet, or no pcscd: the worker's own polls look for one and wake us.
                self._found.wait(self._timeout_ms / 1000)
                if context is None and reader is not None:
                    self._stop.wait(self._backoff)
                continue
            if reader != watched:
                watched, state = reader, scard.SCARD_STATE_UNAWARE
            hresult, states = scard.SCardGetStatusChange(context, self._timeout_ms, [(reader, state)])
            if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                continue
            if hresult != scard.SCARD_S_SUCCESS or not states:
                # The reader or pcscd went away: a fresh context, once the worker found a reader again.
                self._release_context()
                state = scard.SCARD_STATE_UNAWARE
                self._wake()
                self._stop.wait(self._backoff)
                continue
            new = int(states[0][1]) & ~scard.SCARD_STATE_CHANGED
            if new == state:
                continue
            state = new
            self._wake()
            if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                # pcscd answers at once for a reader in this state: let the worker judge it, then wait.
                self._stop.wait(self._backoff)
        self._release_context()

    def _release_context(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            with contextlib.suppress(Exception):
                scard.SCardReleaseContext(context)
