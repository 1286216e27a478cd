"""The bounded on-disk outbox: every telemetry message is written here first and deleted only
when the broker has acknowledged it (QoS 1 PUBACK), so nothing is lost across a broker outage
or a kiosk restart, and messages leave in the order they were made (`seq`).

Bounded: past `max_messages`, first a retained message that a newer one of its topic supersedes
goes (a subscriber keeps only the newer), then the oldest non-retained, then the oldest
retained; every drop is counted in the `meta` table (`dropped`, in the counters that
`report_now` publishes) and logged (`FLEET_DROPPED`). The counters the terminal
reports live in the same file (`counters`), so a restart continues them.

One connection, used only by the telemetry worker's thread.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    retain INTEGER NOT NULL CHECK (retain IN (0, 1))
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Queued:
    seq: int
    topic: str
    payload: bytes
    retain: bool


class OutboxError(RuntimeError):
    pass


class Outbox:
    def __init__(self, path: Path, max_messages: int) -> None:
        if max_messages < 1:
            raise OutboxError("the outbox must hold at least one message")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.max_messages = path, max_messages
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a message acknowledged to the core survives power loss
        self._db.executescript(SCHEMA)

    def put(self, topic: str, payload: bytes, retain: bool = False) -> int:
        """Queues a message; returns its seq. Drops the oldest when the bound is reached."""
        with self._db:  # one transaction: the insert and any drop together
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute("INSERT INTO outbox (topic, payload, retain) VALUES (?, ?, ?)",
                                   (topic, payload.decode(), int(retain)))
            seq = int(cur.lastrowid or 0)
            over = self.count() - self.max_messages
            if over > 0:
                self._drop_oldest(over, keep=seq)
        return seq

    def _drop_oldest(self, n: int, keep: int) -> None:
        # First a retained message a newer one of its topic supersedes (a subscriber would keep only
        # the newer), then the oldest non-retained, then the oldest retained; never the one just put.
        rows = self._db.execute(
            "SELECT seq FROM outbox o WHERE retain = 1 AND seq != ? AND EXISTS "
            "(SELECT 1 FROM outbox n WHERE n.topic = o.topic AND n.seq > o.seq) ORDER BY seq LIMIT ?",
            (keep, n)).fetchall()
        self._db.executemany("DELETE FROM outbox WHERE seq = ?", rows)
        more = n - len(rows)
        if more > 0:
            rest = self._db.execute("SELECT seq FROM outbox WHERE seq != ? ORDER BY retain, seq LIMIT ?",
                                    (keep, more)).fetchall()
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", rest)
            rows += rest
        self._bump("dropped", len(rows))

    def peek(self, after: int = 0, limit: int = 100) -> list[Queued]:
        rows = self._db.execute("SELECT seq, topic, payload, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                (after, limit)).fetchall()
        return [Queued(int(s), str(t), str(p).encode(), bool(r)) for s, t, p, r in rows]

    def ack(self, seq: int) -> None:
        self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    # --- what survives a restart besides the messages -----------------------------------------

    def _bump(self, key: str, n: int) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                         "SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT)", (key, str(n), n))

    def dropped(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def load(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def save(self, key: str, value: Any) -> None:
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
                         (key, json.dumps(value, sort_keys=True), json.dumps(value, sort_keys=True)))

    def close(self) -> None:
        self._db.close()
