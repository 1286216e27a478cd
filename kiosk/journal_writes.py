"""The journal connection's write transactions: each write its own, or several in one batch.

A write outside a batch is one transaction (BEGIN IMMEDIATE ... COMMIT, FULL sync): on disk when
it returns. A procedure's input (a device's result, a card taken) often journals two or three
changes in a row, the step that ended and the one that begins, before the command it returns
goes out. Each commit is a sync of the write-ahead log, about 2 ms on this machine's disk against
0.07 ms for the SQL itself, so inside `batch()` each write is a savepoint of one transaction and
the outermost batch commits them together when it ends: still before the caller sends any
command (the procedure returns only after it), so what is on disk when a command goes out is
what one commit a write would have left. A refused write rolls back to its own savepoint and
leaves the batch's other writes in place, as a refused write leaves the committed ones.

A commit that fails (the disk filled, or went read-only, in between) loses the batch's writes:
each is reported to `lost`, which logs it as a refused write (JOURNAL_REFUSED), as a write refused
at once is. `flush()` commits now, for a write its caller must know is on disk (a row's
beginning) before it goes on.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from kiosk.journal_model import JournalError, Problem

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Write:
    """What a refused write's log entry names: the Journal method, its row and its value."""

    what: str
    row_id: int | None = None
    value: object = None


class Writes:
    def __init__(self, db: sqlite3.Connection, lost: Callable[[Write, JournalError], None]) -> None:
        self._db = db
        self._lost = lost
        self._depth = 0
        self._pending: list[Write] = []  # written in this batch, not yet committed

    @property
    def uncommitted(self) -> bool:
        """Writes are waiting for the batch's commit."""
        return bool(self._pending)

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                with contextlib.suppress(JournalError):  # each lost write was reported to `lost`
                    self.flush()

    @contextmanager
    def write(self, write: Write) -> Iterator[None]:
        batched = self._depth > 0
        try:
            if not self._db.in_transaction:
                self._db.execute("BEGIN IMMEDIATE")
            if batched:
                self._db.execute("SAVEPOINT write")
            try:
                yield
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK TO write" if batched else "ROLLBACK")
                    if batched:
                        self._db.execute("RELEASE write")
                raise
            if batched:
                self._db.execute("RELEASE write")
                self._pending.append(write)
            else:
                self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            # A full or read-only disk is a refused write (JournalError), never an sqlite3 crash.
            self._abandon(exc)
            raise JournalError(Problem.STORAGE, str(exc)) from exc

    def flush(self) -> None:
        """Commit the batch's writes now; JournalError(STORAGE) when that fails (each reported lost)."""
        if not self._db.in_transaction:
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._abandon(exc)
            raise JournalError(Problem.STORAGE, str(exc)) from exc
        self._pending.clear()

    def _abandon(self, exc: sqlite3.OperationalError) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        lost, self._pending = self._pending, []
        for write in lost:
            self._lost(write, JournalError(Problem.STORAGE, f"not committed: {exc}"))


def batched(method: Callable[P, R]) -> Callable[P, R]:
    """A procedure's input (kiosk/issuance.py, kiosk/rewriting.py): the writes it journals on the
    way, in its `journal`'s batch, committed before it returns the commands they come before."""

    @functools.wraps(method)
    def within_batch(*args: P.args, **kwargs: P.kwargs) -> R:
        journal: Any = getattr(args[0], "journal", None)
        if journal is None:
            return method(*args, **kwargs)
        with journal.batch():
            return method(*args, **kwargs)

    return within_batch
