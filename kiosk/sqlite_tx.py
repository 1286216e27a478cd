"""The side tables of the journal's database file (diagnostics, retention): one write
transaction (the write lock at once, full sync), and creating a store's tables at its version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path

from kiosk.journal_model import JournalError, Problem


@contextmanager
def immediate(path: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on a fresh connection (ROLLBACK on any exception), FULL sync."""
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        db.execute("PRAGMA synchronous=FULL")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def create_or_migrate(db: sqlite3.Connection, store: str, version: int, schema: str) -> int | None:
    """Bring `store`'s tables (its version in `<store>_schema`) to `version` inside the caller's
    transaction; the version migrated from (0: created), or None when current."""
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (f"{store}_schema",)).fetchone()
    found = 0 if has is None else int(db.execute(f"SELECT version FROM {store}_schema").fetchone()[0])
    if found == version:
        return None
    if found != 0:
        raise JournalError(Problem.SCHEMA, f"{store} schema {found}, expected {version}")
    for statement in schema.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"INSERT INTO {store}_schema (version) VALUES (?)", (version,))
    return found


class SideStore:
    """A store of side tables in the journal's file: its tables created at `VERSION` when opened,
    one write transaction per change. Subclasses name `STORE`, `VERSION` and `SCHEMA`."""

    STORE: str
    VERSION: int
    SCHEMA: str

    def __init__(self, path: str | Path, *, now: Callable[[], datetime] = datetime.now) -> None:
        self.path = Path(path)
        self._now = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            create_or_migrate(db, self.STORE, self.VERSION, self.SCHEMA)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self.path)
