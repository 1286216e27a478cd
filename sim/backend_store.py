"""The simulated backend's population and memory, in SQLite (WAL).

Residents come from a scenario's JSON file. The store holds personal data because the real
authority does; nothing here writes it to a log. Every method is safe to call from the
server's handler threads: one connection, one re-entrant lock, explicit transactions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from kiosk.identity import mask_id
from kiosk.records import EndorsementState, Holder, Permit, PermitStatus, ProofKind, Registration

SCHEMA = """
CREATE TABLE IF NOT EXISTS residents (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL, sex TEXT NOT NULL, nation TEXT NOT NULL, birth TEXT NOT NULL,
    id_number TEXT NOT NULL UNIQUE, id_address TEXT NOT NULL, id_authority TEXT NOT NULL,
    id_valid_from TEXT NOT NULL, id_valid_to TEXT, card_type TEXT NOT NULL,
    face TEXT, phone TEXT
);
CREATE TABLE IF NOT EXISTS registrations (
    resident TEXT PRIMARY KEY REFERENCES residents(key),
    address TEXT NOT NULL, declared TEXT NOT NULL, proof TEXT NOT NULL,
    name TEXT NOT NULL, sex TEXT NOT NULL, nation TEXT NOT NULL, birth TEXT NOT NULL, id_number TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS permits (
    number TEXT PRIMARY KEY,
    resident TEXT NOT NULL REFERENCES residents(key),
    issued TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, card_valid_until TEXT NOT NULL,
    status TEXT NOT NULL, endorsement TEXT NOT NULL, authority TEXT NOT NULL, residence_address TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL, terminal_id TEXT NOT NULL, resident TEXT, masked_id TEXT NOT NULL,
    decided_on TEXT NOT NULL, approved INTEGER NOT NULL, reason TEXT, available_on TEXT, permit_number TEXT
);
CREATE TABLE IF NOT EXISTS issuances (
    permit_number TEXT PRIMARY KEY REFERENCES permits(number),
    terminal_id TEXT NOT NULL, state TEXT NOT NULL, card_serial TEXT, void_reason TEXT
);
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    op TEXT NOT NULL, digest TEXT NOT NULL, status INTEGER NOT NULL, reply TEXT NOT NULL
);
"""


class IssuanceState(StrEnum):
    APPROVED = "approved"  # the kiosk may now print the card
    ISSUED = "issued"  # the resident took the card (confirm)
    VOIDED = "voided"  # no card reached the resident (void); the resident may apply again


class LoadError(ValueError):
    pass


@dataclass(frozen=True)
class Resident:
    key: str
    id_number: str = field(repr=False)
    face: str | None = None


@dataclass(frozen=True)
class StoredReply:
    op: str
    digest: str
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Issuance:
    permit_number: str
    state: IssuanceState


def _iso(value: Any, what: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise LoadError(f"{what}: not an ISO date") from exc


class BackendStore:
    def __init__(self, path: str | Path) -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL: under WAL a power cut may lose the last commits, never corrupt; enough for a simulator.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        # executescript commits on its own, so it runs outside transaction().
        with self._lock:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time; nested use joins the outer transaction."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- loading ---------------------------------------------------------------------

    def load_file(self, path: str | Path) -> int:
        with Path(path).open(encoding="utf-8") as fh:
            return self.load(json.load(fh))

    def load(self, data: Mapping[str, Any]) -> int:
        """Upsert the residents of a scenario file; returns how many were loaded."""
        residents = data.get("residents") if isinstance(data, Mapping) else None
        if not isinstance(residents, Mapping):
            raise LoadError("residents file: top-level 'residents' object missing")
        with self.transaction():
            for key, spec in residents.items():
                self._load_one(str(key), spec)
        return len(residents)

    def _load_one(self, key: str, spec: Any) -> None:
        if not isinstance(spec, Mapping):
            raise LoadError(f"resident {key}: not an object")
        try:
            valid_to = spec["id_valid_to"]
            row = (
                key, spec["name"], spec["sex"], spec["nation"], _iso(spec["birth"], f"{key}.birth"),
                spec["id_number"], spec["id_address"], spec["id_authority"],
                _iso(spec["id_valid_from"], f"{key}.id_valid_from"),
                None if valid_to in (None, "长期") else _iso(valid_to, f"{key}.id_valid_to"),
                spec.get("card_type", "citizen"), spec.get("face"), spec.get("phone"),
            )
        except KeyError as exc:
            raise LoadError(f"resident {key}: missing {exc.args[0]!r}") from exc
        db = self._db
        db.execute("DELETE FROM registrations WHERE resident = ?", (key,))
        db.execute("INSERT OR REPLACE INTO residents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        reg = spec.get("registration")
        if reg is not None:
            try:
                proof = ProofKind(reg["proof"]).value
                db.execute(
                    "INSERT INTO registrations VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        key, reg["address"], _iso(reg["declared"], f"{key}.registration.declared"), proof,
                        # Holder overrides make the record differ from the card (INFO_MISMATCH).
                        reg.get("name", spec["name"]), reg.get("sex", spec["sex"]),
                        reg.get("nation", spec["nation"]),
                        _iso(reg.get("birth", spec["birth"]), f"{key}.registration.birth"),
                        reg.get("id_number", spec["id_number"]),
                    ),
                )
            except (KeyError, ValueError) as exc:
                raise LoadError(f"resident {key}: bad registration ({exc})") from exc
        permit = spec.get("permit")
        if permit is not None:
            try:
                issued = _iso(permit["issued"], f"{key}.permit.issued")
                valid_until = _iso(permit["valid_until"], f"{key}.permit.valid_until")
                db.execute(
                    "INSERT OR REPLACE INTO permits VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        permit["number"], key, issued, issued, valid_until,
                        _iso(permit.get("card_valid_until", valid_until), f"{key}.permit.card_valid_until"),
                        PermitStatus(permit.get("status", "active")).value,
                        EndorsementState(permit.get("endorsement", "none")).value,
                        permit.get("authority", spec["id_authority"]),
                        (reg or {}).get("address", ""),
                    ),
                )
            except (KeyError, ValueError) as exc:
                raise LoadError(f"resident {key}: bad permit ({exc})") from exc

    # --- the records the policy reads ---------------------------------------------------

    def resident_by_id_number(self, id_number: str) -> Resident | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, id_number, face FROM residents WHERE id_number = ?", (id_number,)
            ).fetchone()
        return None if row is None else Resident(row["key"], row["id_number"], row["face"])

    def registration_of(self, resident: str) -> Registration | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM registrations WHERE resident = ?", (resident,)).fetchone()
        if row is None:
            return None
        holder = Holder(
            name=row["name"], sex=row["sex"], nation=row["nation"],
            birth=date.fromisoformat(row["birth"]), id_number=row["id_number"],
        )
        return Registration(
            holder=holder, address=row["address"], declared=date.fromisoformat(row["declared"]),
            proof=ProofKind(row["proof"]),
        )

    def current_permit_of(self, resident: str) -> Permit | None:
        """The resident's latest permit; a voided issuance never happened, so it does not count."""
        with self._lock:
            row = self._db.execute(
                """SELECT p.* FROM permits p LEFT JOIN issuances i ON i.permit_number = p.number
                   WHERE p.resident = ? AND (i.state IS NULL OR i.state != ?)
                   ORDER BY p.issued DESC, p.number DESC LIMIT 1""",
                (resident, IssuanceState.VOIDED.value),
            ).fetchone()
        if row is None:
            return None
        return Permit(
            number=row["number"], issued=date.fromisoformat(row["issued"]),
            valid_until=date.fromisoformat(row["valid_until"]),
            card_valid_until=date.fromisoformat(row["card_valid_until"]),
            status=PermitStatus(row["status"]), endorsement=EndorsementState(row["endorsement"]),
        )

    # --- writes of the new-permit flow ---------------------------------------------------

    def next_permit_number(self, prefix: str, year: int) -> str:
        """PREFIX + year + 7 digits, one more than the highest of that prefix and year."""
        head = f"{prefix}{year:04d}"
        with self._lock:
            rows = self._db.execute(
                "SELECT number FROM permits WHERE number LIKE ? AND length(number) = ?",
                (head + "%", len(head) + 7),
            ).fetchall()
        used = [int(r["number"][len(head):]) for r in rows if r["number"][len(head):].isdigit()]
        return f"{head}{max(used, default=0) + 1:07d}"

    def add_approved_permit(
        self, *, resident: str, terminal_id: str, number: str, issued: date, valid_from: date,
        valid_until: date, authority: str, residence_address: str,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO permits VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    number, resident, issued.isoformat(), valid_from.isoformat(), valid_until.isoformat(),
                    valid_until.isoformat(), PermitStatus.ACTIVE.value, EndorsementState.NONE.value,
                    authority, residence_address,
                ),
            )
            self._db.execute(
                "INSERT INTO issuances VALUES (?,?,?,NULL,NULL)",
                (number, terminal_id, IssuanceState.APPROVED.value),
            )

    def add_application(
        self, *, request_id: str, terminal_id: str, resident: str | None, id_number: str, decided_on: date,
        approved: bool, reason: str | None, available_on: date | None, permit_number: str | None,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO applications (request_id, terminal_id, resident, masked_id, decided_on,"
                " approved, reason, available_on, permit_number) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    request_id, terminal_id, resident, mask_id(id_number), decided_on.isoformat(),
                    int(approved), reason, available_on.isoformat() if available_on else None, permit_number,
                ),
            )

    def issuance(self, permit_number: str) -> Issuance | None:
        with self._lock:
            row = self._db.execute(
                "SELECT permit_number, state FROM issuances WHERE permit_number = ?", (permit_number,)
            ).fetchone()
        return None if row is None else Issuance(row["permit_number"], IssuanceState(row["state"]))

    def set_issuance(
        self, permit_number: str, state: IssuanceState, *, card_serial: str | None = None,
        void_reason: str | None = None,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE issuances SET state = ?, card_serial = coalesce(?, card_serial),"
                " void_reason = coalesce(?, void_reason) WHERE permit_number = ?",
                (state.value, card_serial, void_reason, permit_number),
            )

    # --- idempotency -------------------------------------------------------------------

    def remembered(self, request_id: str) -> StoredReply | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        return StoredReply(row["op"], row["digest"], row["status"], json.loads(row["reply"]))

    def remember(self, request_id: str, op: str, digest: str, status: int, body: dict[str, Any]) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO requests VALUES (?,?,?,?,?)",
                (request_id, op, digest, status, json.dumps(body, ensure_ascii=False, sort_keys=True)),
            )

    # --- for scenario expectations (GET /sim/records) ------------------------------------

    def records(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            permits = self._db.execute(
                """SELECT p.number, p.resident, p.issued, p.valid_from, p.valid_until, p.card_valid_until,
                          p.status, p.endorsement, p.authority, coalesce(i.state, 'on_record') AS state
                   FROM permits p LEFT JOIN issuances i ON i.permit_number = p.number ORDER BY p.number"""
            ).fetchall()
            applications = self._db.execute(
                "SELECT id, request_id, terminal_id, resident, decided_on, approved, reason, available_on,"
                " permit_number FROM applications ORDER BY id"
            ).fetchall()
            issuances = self._db.execute(
                "SELECT permit_number, terminal_id, state, card_serial, void_reason FROM issuances"
                " ORDER BY permit_number"
            ).fetchall()
        apps = [dict(r) | {"approved": bool(r["approved"])} for r in applications]
        return {
            "permits": [dict(r) for r in permits],
            "applications": apps,
            "issuances": [dict(r) for r in issuances],
        }
