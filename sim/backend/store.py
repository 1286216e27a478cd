"""This backend's memory, in SQLite (WAL): residents, registrations, proofs, permits, issuances,
applications, declarations, rewrites, and the first answer to every request id.

The store holds personal data because the real authority does; nothing here writes it to a log.
One connection, one re-entrant lock, explicit transactions: safe from any worker thread.
The population file is read by sim/backend/load.py.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sim.backend.decide import Card, PermitOnFile, Person, ProofOnFile, RegistrationOnFile
from sim.backend.vocab import Document, Endorsed, IssuanceState, Party, PermitStatus, Use, mask

SCHEMA = """
CREATE TABLE IF NOT EXISTS residents (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, sex TEXT NOT NULL, nation TEXT NOT NULL, birth TEXT NOT NULL,
    id_number TEXT NOT NULL UNIQUE, id_address TEXT NOT NULL, id_authority TEXT NOT NULL,
    id_valid_from TEXT NOT NULL, id_valid_to TEXT, card_type TEXT NOT NULL, face TEXT, phone TEXT
);
CREATE TABLE IF NOT EXISTS registrations (
    resident TEXT PRIMARY KEY REFERENCES residents(key), address TEXT NOT NULL, declared TEXT NOT NULL,
    proof TEXT NOT NULL, name TEXT NOT NULL, sex TEXT NOT NULL, nation TEXT NOT NULL, birth TEXT NOT NULL,
    id_number TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS permits (
    number TEXT PRIMARY KEY, resident TEXT NOT NULL REFERENCES residents(key), issued TEXT NOT NULL,
    valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, card_valid_until TEXT NOT NULL, status TEXT NOT NULL,
    endorsement TEXT NOT NULL, authority TEXT NOT NULL, residence_address TEXT NOT NULL,
    address_changed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS issuances (
    permit_number TEXT PRIMARY KEY REFERENCES permits(number), terminal_id TEXT NOT NULL, state TEXT NOT NULL,
    card_serial TEXT, void_reason TEXT, approved_at REAL
);
-- Applications voided by their request id before this backend ever saw them: the request, if
-- it arrives late, is refused, so no approval is made that nobody will confirm or void.
CREATE TABLE IF NOT EXISTS voided_requests (
    request_id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, voided_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, terminal_id TEXT NOT NULL, resident TEXT,
    masked_id TEXT NOT NULL, decided_on TEXT NOT NULL, approved INTEGER NOT NULL, reason TEXT,
    available_on TEXT, permit_number TEXT
);
CREATE TABLE IF NOT EXISTS proofs (
    reference TEXT PRIMARY KEY, kind TEXT NOT NULL, qr_payload TEXT NOT NULL UNIQUE, address TEXT,
    property_use TEXT NOT NULL, in_management_area INTEGER NOT NULL, owner_type TEXT NOT NULL,
    lessee_type TEXT NOT NULL, holder TEXT, valid_until TEXT
);
CREATE TABLE IF NOT EXISTS declarations (
    receipt TEXT PRIMARY KEY, request_id TEXT NOT NULL, terminal_id TEXT NOT NULL, resident TEXT NOT NULL,
    declared TEXT NOT NULL, proof_kind TEXT NOT NULL, proof_reference TEXT NOT NULL, relationship TEXT,
    promise_letter INTEGER, purpose TEXT
);
CREATE TABLE IF NOT EXISTS rewrites (
    id INTEGER PRIMARY KEY AUTOINCREMENT, permit_number TEXT NOT NULL REFERENCES permits(number),
    terminal_id TEXT NOT NULL, card_serial TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL,
    rewritten_on TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    permit_number TEXT PRIMARY KEY REFERENCES permits(number), value INTEGER NOT NULL, notice TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY, op TEXT NOT NULL, digest TEXT NOT NULL, status INTEGER NOT NULL,
    reply TEXT NOT NULL
);
"""
# A permit counts unless its issuance was voided (no card ever reached the resident).
_COUNTS = "(i.state IS NULL OR i.state != 'voided')"
_PERMIT = ("SELECT p.*, r.id_number AS holder_id, i.state AS issuance FROM permits p"
           " JOIN residents r ON r.key = p.resident LEFT JOIN issuances i ON i.permit_number = p.number")


@dataclass(frozen=True)
class Resident:
    key: str
    face: str | None


@dataclass(frozen=True)
class Remembered:
    digest: str
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Application:
    decided_on: date
    approved: bool
    reason: str | None
    available_on: date | None
    permit_number: str | None
    issuance: IssuanceState | None


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _permit(row: sqlite3.Row) -> PermitOnFile:
    return PermitOnFile(
        number=row["number"], issued=date.fromisoformat(row["issued"]), status=PermitStatus(row["status"]),
        valid_from=date.fromisoformat(row["valid_from"]), valid_until=date.fromisoformat(row["valid_until"]),
        card_valid_until=date.fromisoformat(row["card_valid_until"]), endorsed=Endorsed(row["endorsement"]),
        address_changed=bool(row["address_changed"]), residence_address=row["residence_address"],
    )


class Store:
    def __init__(self, path: str | Path) -> None:
        self.lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a simulator: a power cut may lose the last commits
        self.db.execute("PRAGMA foreign_keys=ON")
        with self.lock:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time; a nested use joins the outer transaction."""
        with self.lock:
            if self.db.in_transaction:
                yield
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
            return row

    # --- reads -------------------------------------------------------------------------------

    def resident(self, id_number: str) -> Resident | None:
        row = self._one("SELECT key, face FROM residents WHERE id_number = ?", id_number)
        return None if row is None else Resident(row["key"], row["face"])

    def registration(self, resident: str) -> RegistrationOnFile | None:
        row = self._one("SELECT * FROM registrations WHERE resident = ?", resident)
        if row is None:
            return None
        holder = Person(row["name"], row["sex"], row["nation"], date.fromisoformat(row["birth"]), row["id_number"])
        return RegistrationOnFile(holder, row["address"], date.fromisoformat(row["declared"]))

    def permit_of(self, resident: str) -> PermitOnFile | None:
        """The resident's latest permit that counts."""
        row = self._one(_PERMIT + f" WHERE p.resident = ? AND {_COUNTS} ORDER BY p.issued DESC, p.number DESC"
                        " LIMIT 1", resident)
        return None if row is None else _permit(row)

    def permit(self, number: str, id_number: str | None = None) -> PermitOnFile | None:
        """A permit that counts; with `id_number`, only when it is that holder's."""
        row = self._one(_PERMIT + f" WHERE p.number = ? AND {_COUNTS}", number)
        if row is None or (id_number is not None and row["holder_id"] != id_number):
            return None
        return _permit(row)

    def points(self, number: str) -> tuple[int, str] | None:
        """The points held for a permit and the number of its points notice (SH-PTS-2)."""
        row = self._one("SELECT value, notice FROM points WHERE permit_number = ?", number)
        return None if row is None else (int(row["value"]), str(row["notice"]))

    def issuance(self, number: str) -> IssuanceState | None:
        row = self._one("SELECT state FROM issuances WHERE permit_number = ?", number)
        return None if row is None else IssuanceState(row["state"])

    def proof(self, *, reference: str | None = None, qr: str | None = None) -> ProofOnFile | None:
        column, value = ("reference", reference) if reference is not None else ("qr_payload", qr)
        row = self._one(f"SELECT * FROM proofs WHERE {column} = ?", value)
        if row is None:
            return None
        return ProofOnFile(
            reference=row["reference"], document=Document(row["kind"]), use=Use(row["property_use"]),
            in_management_area=bool(row["in_management_area"]), owner=Party(row["owner_type"]),
            lessee=Party(row["lessee_type"]), valid_until=_day(row["valid_until"]), address=row["address"],
            holder=row["holder"],
        )

    def latest_application(self, resident: str) -> Application | None:
        return self._application("a.resident", resident)

    def _application(self, column: str, value: str) -> Application | None:
        row = self._one("SELECT a.*, i.state FROM applications a LEFT JOIN issuances i"
                        f" ON i.permit_number = a.permit_number WHERE {column} = ? ORDER BY a.id DESC LIMIT 1",
                        value)
        if row is None:
            return None
        return Application(
            decided_on=date.fromisoformat(row["decided_on"]), approved=bool(row["approved"]), reason=row["reason"],
            available_on=_day(row["available_on"]), permit_number=row["permit_number"],
            issuance=IssuanceState(row["state"]) if row["state"] else None,
        )

    # --- writes --------------------------------------------------------------------------------

    def next_number(self, table: str, column: str, head: str) -> str:
        """`head` and 7 digits, one more than the highest so far."""
        with self.lock:
            rows = self.db.execute(f"SELECT {column} FROM {table} WHERE {column} LIKE ? AND length({column}) = ?",
                                   (head + "%", len(head) + 7)).fetchall()
        used = [int(r[0][len(head):]) for r in rows if r[0][len(head):].isdigit()]
        return f"{head}{max(used, default=0) + 1:07d}"

    def add_permit(self, *, resident: str, terminal: str, number: str, issued: date, valid_from: date,
                   valid_until: date, authority: str, address: str) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO permits VALUES (?,?,?,?,?,?,?,?,?,?,0)",
                (number, resident, issued.isoformat(), valid_from.isoformat(), valid_until.isoformat(),
                 valid_until.isoformat(), PermitStatus.ACTIVE.value, Endorsed.NONE.value, authority, address))
            self.db.execute("INSERT INTO issuances VALUES (?,?,?,NULL,NULL,?)",
                            (number, terminal, IssuanceState.APPROVED.value, time.time()))

    def add_application(self, *, request_id: str, terminal: str, resident: str | None, id_number: str,
                        decided_on: date, approved: bool, reason: str | None, available_on: date | None,
                        permit_number: str | None) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT INTO applications (request_id, terminal_id, resident, masked_id, decided_on, approved,"
                " reason, available_on, permit_number) VALUES (?,?,?,?,?,?,?,?,?)",
                (request_id, terminal, resident, mask(id_number), decided_on.isoformat(), int(approved), reason,
                 available_on.isoformat() if available_on else None, permit_number))

    def application_of_request(self, request_id: str) -> Application | None:
        """The decision this backend made on the application sent with `request_id`, if any."""
        return self._application("a.request_id", request_id)

    def request_voided(self, request_id: str) -> bool:
        return self._one("SELECT 1 FROM voided_requests WHERE request_id = ?", request_id) is not None

    def void_request(self, request_id: str, terminal: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO voided_requests VALUES (?,?,?)", (request_id, terminal, time.time()))

    def expire_approvals(self, older_than: float) -> int:
        """Approvals neither confirmed nor voided since before `older_than` (epoch seconds) lapse."""
        with self.transaction():
            cur = self.db.execute("UPDATE issuances SET state = ?, void_reason = 'APPROVAL_EXPIRED'"
                                  " WHERE state = ? AND approved_at < ?",
                                  (IssuanceState.VOIDED.value, IssuanceState.APPROVED.value, older_than))
        return cur.rowcount

    def set_issuance(self, number: str, state: IssuanceState, *, serial: str | None = None,
                     void_reason: str | None = None) -> None:
        with self.transaction():
            self.db.execute("UPDATE issuances SET state = ?, card_serial = coalesce(?, card_serial),"
                            " void_reason = coalesce(?, void_reason) WHERE permit_number = ?",
                            (state.value, serial, void_reason, number))

    def resident_from_card(self, card: Card) -> str:
        """The key of the card's holder, added from the card when not yet on record."""
        with self.transaction():
            found = self.resident(card.id_number)
            if found is not None:
                return found.key
            n = self.db.execute("SELECT count(*) FROM residents").fetchone()[0] + 1
            while self.db.execute("SELECT 1 FROM residents WHERE key = ?", (f"declared-{n}",)).fetchone():
                n += 1
            assert card.sex is not None and card.birth is not None  # citizens only get this far
            self.db.execute(
                "INSERT INTO residents VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)",
                (f"declared-{n}", card.name, card.sex, card.nation, card.birth.isoformat(), card.id_number,
                 card.address, card.authority, (card.valid_from or card.birth).isoformat(),
                 card.valid_to.isoformat() if card.valid_to else None, card.card_type.value))
            return f"declared-{n}"

    def declare(self, *, resident: str, card: Card, address: str, declared: date, kind: str, reference: str,
                kin: str | None, receipt: str, request_id: str, terminal: str, promise_letter: bool | None = None,
                purpose: str | None = None) -> None:
        """A declaration replaces the resident's registration (SH-REG-7: declared again)."""
        assert card.sex is not None and card.birth is not None
        with self.transaction():
            self.db.execute("DELETE FROM registrations WHERE resident = ?", (resident,))
            self.db.execute("INSERT INTO registrations VALUES (?,?,?,?,?,?,?,?,?)",
                            (resident, address, declared.isoformat(), kind, card.name, card.sex, card.nation,
                             card.birth.isoformat(), card.id_number))
            # SH-REG-2: that the relative's promise letter was given is kept with the declaration.
            self.db.execute("INSERT INTO declarations VALUES (?,?,?,?,?,?,?,?,?,?)",
                            (receipt, request_id, terminal, resident, declared.isoformat(), kind, reference, kin,
                             None if promise_letter is None else int(promise_letter), purpose))

    def record_rewrite(self, *, number: str, terminal: str, serial: str, valid_from: date, valid_until: date,
                       on: date) -> None:
        with self.transaction():
            self.db.execute("UPDATE permits SET card_valid_until = ? WHERE number = ?",
                            (valid_until.isoformat(), number))
            self.db.execute("INSERT INTO rewrites (permit_number, terminal_id, card_serial, valid_from, valid_until,"
                            " rewritten_on) VALUES (?,?,?,?,?,?)",
                            (number, terminal, serial, valid_from.isoformat(), valid_until.isoformat(),
                             on.isoformat()))

    # --- idempotency -----------------------------------------------------------------------------

    def remembered(self, request_id: str) -> Remembered | None:
        row = self._one("SELECT digest, status, reply FROM requests WHERE request_id = ?", request_id)
        return None if row is None else Remembered(row["digest"], row["status"], json.loads(row["reply"]))

    def remember(self, request_id: str, op: str, digest: str, status: int, body: dict[str, Any]) -> None:
        with self.transaction():
            self.db.execute("INSERT INTO requests VALUES (?,?,?,?,?)",
                            (request_id, op, digest, status, json.dumps(body, ensure_ascii=False)))

    # --- GET /sim/records: no names, addresses or ID numbers -----------------------------------------

    def records(self) -> dict[str, list[dict[str, Any]]]:
        queries = {
            "permits": "SELECT p.number, p.resident, p.issued, p.valid_from, p.valid_until, p.card_valid_until,"
                       " p.status, p.endorsement, p.authority, p.address_changed,"
                       " coalesce(i.state, 'on_record') AS state FROM permits p"
                       " LEFT JOIN issuances i ON i.permit_number = p.number ORDER BY p.number",
            "applications": "SELECT id, request_id, terminal_id, resident, decided_on, approved, reason,"
                            " available_on, permit_number FROM applications ORDER BY id",
            "issuances": "SELECT permit_number, terminal_id, state, card_serial, void_reason FROM issuances"
                         " ORDER BY permit_number",
            "declarations": "SELECT receipt, request_id, terminal_id, resident, declared, proof_kind,"
                            " proof_reference, relationship, promise_letter, purpose FROM declarations"
                            " ORDER BY receipt",
            "rewrites": "SELECT permit_number, terminal_id, card_serial, valid_from, valid_until, rewritten_on"
                        " FROM rewrites ORDER BY id",
        }
        with self.lock:
            out = {name: [dict(r) for r in self.db.execute(sql).fetchall()] for name, sql in queries.items()}
        for row in out["permits"]:
            row["address_changed"] = bool(row["address_changed"])
        for row in out["applications"]:
            row["approved"] = bool(row["approved"])
        for row in out["declarations"]:
            if row["promise_letter"] is not None:
                row["promise_letter"] = bool(row["promise_letter"])
        return out
