"""The simulated backend's population and memory, in SQLite (WAL).

Residents (and residence proofs) come from a scenario's JSON file; its shape is documented in
docs/backend-api.yaml ("Population file"). The store holds personal data because the real
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

from kiosk.backend import Party, ProofDocument, PropertyUse
from kiosk.dates import add_months
from kiosk.endorsement import PermitStanding
from kiosk.identity import Identity, mask_id
from kiosk.records import EndorsementState, Holder, Permit, PermitStatus, ProofKind, Registration

# The QR code on a residence proof carries this prefix and the certificate number, unless the
# population file gives the proof its own `qr_payload`.
QR_PREFIX = "RPPROOF1:"
PERMIT_COLUMNS = (
    "number, resident, issued, valid_from, valid_until, card_valid_until, status, endorsement, authority,"
    " residence_address, address_changed"
)

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
    status TEXT NOT NULL, endorsement TEXT NOT NULL, authority TEXT NOT NULL, residence_address TEXT NOT NULL,
    address_changed INTEGER NOT NULL DEFAULT 0
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
CREATE TABLE IF NOT EXISTS proofs (
    reference TEXT PRIMARY KEY,
    kind TEXT NOT NULL, qr_payload TEXT NOT NULL UNIQUE, address TEXT, property_use TEXT NOT NULL,
    in_management_area INTEGER NOT NULL, owner_type TEXT NOT NULL, lessee_type TEXT NOT NULL,
    holder TEXT, valid_until TEXT
);
CREATE TABLE IF NOT EXISTS declarations (
    receipt TEXT PRIMARY KEY,
    request_id TEXT NOT NULL, terminal_id TEXT NOT NULL, resident TEXT NOT NULL, declared TEXT NOT NULL,
    proof_kind TEXT NOT NULL, proof_reference TEXT NOT NULL, relationship TEXT
);
CREATE TABLE IF NOT EXISTS rewrites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    permit_number TEXT NOT NULL REFERENCES permits(number), terminal_id TEXT NOT NULL, card_serial TEXT NOT NULL,
    valid_from TEXT NOT NULL, valid_until TEXT NOT NULL, rewritten_on TEXT NOT NULL
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


@dataclass(frozen=True)
class Proof:
    """A residence proof on record (SH-REG-1): what the certificate states, as the authority holds it."""

    reference: str
    document: ProofDocument
    qr_payload: str
    property_use: PropertyUse
    in_management_area: bool
    owner_type: Party
    lessee_type: Party  # rental filings: who rents (SH-REG-6)
    valid_until: date | None
    address: str | None = field(repr=False)
    holder: str | None = field(repr=False)  # the owner's or lessee's name on the certificate


@dataclass(frozen=True)
class PermitRow:
    number: str
    resident: str
    id_number: str = field(repr=False)
    issued: date
    card_valid_until: date
    standing: PermitStanding
    issuance: IssuanceState | None  # None: loaded from the population file, not issued here


@dataclass(frozen=True)
class ApplicationRow:
    decided_on: date
    approved: bool
    reason: str | None
    available_on: date | None
    permit_number: str | None
    issuance: IssuanceState | None


def _iso(value: Any, what: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise LoadError(f"{what}: not an ISO date") from exc


def _flag(value: Any, what: str) -> int:
    if not isinstance(value, bool):
        raise LoadError(f"{what}: expected true or false")
    return int(value)


def _permit_valid_from(issued: str, valid_until: str) -> str:
    """A loaded permit's current period: from its issue, or the last year when it has been renewed."""
    start, end = date.fromisoformat(issued), date.fromisoformat(valid_until)
    if end <= add_months(start, 12):
        return issued
    return add_months(end, -12).isoformat()


def _permit_row(row: sqlite3.Row) -> PermitRow:
    standing = PermitStanding(
        status=PermitStatus(row["status"]), address_changed=bool(row["address_changed"]),
        valid_from=date.fromisoformat(row["valid_from"]), valid_until=date.fromisoformat(row["valid_until"]),
        endorsement=EndorsementState(row["endorsement"]),
    )
    return PermitRow(
        number=row["number"], resident=row["resident"], id_number=row["id_number"],
        issued=date.fromisoformat(row["issued"]), card_valid_until=date.fromisoformat(row["card_valid_until"]),
        standing=standing, issuance=IssuanceState(row["state"]) if row["state"] else None,
    )


def _proof(row: sqlite3.Row) -> Proof:
    return Proof(
        reference=row["reference"], document=ProofDocument(row["kind"]), qr_payload=row["qr_payload"],
        property_use=PropertyUse(row["property_use"]), in_management_area=bool(row["in_management_area"]),
        owner_type=Party(row["owner_type"]), lessee_type=Party(row["lessee_type"]),
        valid_until=date.fromisoformat(row["valid_until"]) if row["valid_until"] else None,
        address=row["address"], holder=row["holder"],
    )


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
        """Upsert the residents (and the optional `proofs`) of a scenario file; returns how many residents."""
        residents = data.get("residents") if isinstance(data, Mapping) else None
        if not isinstance(residents, Mapping):
            raise LoadError("residents file: top-level 'residents' object missing")
        proofs = data.get("proofs", [])
        if not isinstance(proofs, list):
            raise LoadError("residents file: 'proofs' must be a list")
        with self.transaction():
            for key, spec in residents.items():
                self._load_one(str(key), spec)
            for index, spec in enumerate(proofs):
                self._load_proof(index, spec)
        return len(residents)

    def _load_proof(self, index: int, spec: Any) -> None:
        where = f"proofs[{index}]"
        if not isinstance(spec, Mapping):
            raise LoadError(f"{where}: not an object")
        known = {"reference", "kind", "qr_payload", "address", "property_use", "in_management_area",
                 "owner_type", "lessee_type", "holder", "valid_until"}
        unknown = set(spec) - known
        if unknown:  # a misspelt key must not load as a default silently
            raise LoadError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        try:
            reference = spec["reference"]
            if not isinstance(reference, str) or not reference:
                raise LoadError(f"{where}.reference: expected a non-empty string")
            valid_until = spec.get("valid_until")
            row = (
                reference, ProofDocument(spec["kind"]).value, spec.get("qr_payload", QR_PREFIX + reference),
                spec.get("address"), PropertyUse(spec.get("property_use", "residential")).value,
                _flag(spec.get("in_management_area", False), f"{where}.in_management_area"),
                Party(spec.get("owner_type", "individual")).value, Party(spec.get("lessee_type", "individual")).value,
                spec.get("holder"), None if valid_until is None else _iso(valid_until, f"{where}.valid_until"),
            )
        except KeyError as exc:
            raise LoadError(f"{where}: missing {exc.args[0]!r}") from exc
        except ValueError as exc:
            raise LoadError(f"{where}: {exc}") from exc
        try:
            self._db.execute("INSERT OR REPLACE INTO proofs VALUES (?,?,?,?,?,?,?,?,?,?)", row)
        except sqlite3.IntegrityError as exc:
            raise LoadError(f"{where}: qr_payload used by another proof") from exc

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
                valid_from = permit.get("valid_from")
                db.execute(
                    f"INSERT OR REPLACE INTO permits ({PERMIT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        permit["number"], key, issued,
                        _permit_valid_from(issued, valid_until) if valid_from is None
                        else _iso(valid_from, f"{key}.permit.valid_from"),
                        valid_until,
                        _iso(permit.get("card_valid_until", valid_until), f"{key}.permit.card_valid_until"),
                        PermitStatus(permit.get("status", "active")).value,
                        EndorsementState(permit.get("endorsement", "none")).value,
                        permit.get("authority", spec["id_authority"]),
                        (reg or {}).get("address", ""),
                        _flag(permit.get("address_changed", False), f"{key}.permit.address_changed"),
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
                f"INSERT INTO permits ({PERMIT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,0)",
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

    # --- registration (SH-REG-1..7) ----------------------------------------------------------

    def proof_by_reference(self, reference: str) -> Proof | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM proofs WHERE reference = ?", (reference,)).fetchone()
        return None if row is None else _proof(row)

    def proof_by_qr(self, payload: str) -> Proof | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM proofs WHERE qr_payload = ?", (payload,)).fetchone()
        return None if row is None else _proof(row)

    def ensure_resident(self, card: Identity) -> str:
        """The resident's key, creating a resident from the ID card for someone not yet on record."""
        with self.transaction():
            found = self.resident_by_id_number(card.id_number)
            if found is not None:
                return found.key
            count = self._db.execute("SELECT count(*) FROM residents").fetchone()[0]
            key = f"declared-{count + 1}"
            while self._db.execute("SELECT 1 FROM residents WHERE key = ?", (key,)).fetchone():
                count += 1
                key = f"declared-{count + 1}"
            assert card.sex is not None and card.birth is not None  # only citizens get this far
            self._db.execute(
                "INSERT INTO residents VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,NULL)",
                (
                    key, card.name, card.sex.value, card.nation, card.birth.isoformat(), card.id_number,
                    card.address, card.authority, (card.valid_from or card.birth).isoformat(),
                    card.valid_to.isoformat() if card.valid_to else None, card.card_type.value,
                ),
            )
            return key

    def next_receipt_number(self, prefix: str, year: int) -> str:
        """PREFIX + R + year + 7 digits."""
        head = f"{prefix}R{year:04d}"
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM declarations WHERE receipt LIKE ?", (head + "%",)
            ).fetchone()
        return f"{head}{count + 1:07d}"

    def declare(
        self, *, resident: str, card: Identity, address: str, declared: date, proof_kind: ProofKind,
        proof_reference: str, relationship: str | None, receipt: str, request_id: str, terminal_id: str,
    ) -> None:
        """A new registration replaces the resident's last one (SH-REG-7: declared again)."""
        assert card.sex is not None and card.birth is not None
        with self.transaction():
            self._db.execute("DELETE FROM registrations WHERE resident = ?", (resident,))
            self._db.execute(
                "INSERT INTO registrations VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    resident, address, declared.isoformat(), proof_kind.value, card.name, card.sex.value,
                    card.nation, card.birth.isoformat(), card.id_number,
                ),
            )
            self._db.execute(
                "INSERT INTO declarations VALUES (?,?,?,?,?,?,?,?)",
                (
                    receipt, request_id, terminal_id, resident, declared.isoformat(), proof_kind.value,
                    proof_reference, relationship,
                ),
            )

    # --- permits, endorsement, card-face rewrite -------------------------------------------

    _PERMIT_ROW = (
        "SELECT p.*, r.id_number, i.state FROM permits p JOIN residents r ON r.key = p.resident"
        " LEFT JOIN issuances i ON i.permit_number = p.number"
    )

    def permit_row(self, number: str) -> PermitRow | None:
        """A permit that counts: a voided issuance never happened."""
        with self._lock:
            row = self._db.execute(
                self._PERMIT_ROW + " WHERE p.number = ? AND (i.state IS NULL OR i.state != ?)",
                (number, IssuanceState.VOIDED.value),
            ).fetchone()
        return None if row is None else _permit_row(row)

    def current_permit_row_of(self, resident: str) -> PermitRow | None:
        with self._lock:
            row = self._db.execute(
                self._PERMIT_ROW + " WHERE p.resident = ? AND (i.state IS NULL OR i.state != ?)"
                " ORDER BY p.issued DESC, p.number DESC LIMIT 1",
                (resident, IssuanceState.VOIDED.value),
            ).fetchone()
        return None if row is None else _permit_row(row)

    def record_rewrite(
        self, *, permit_number: str, terminal_id: str, card_serial: str, valid_from: date, valid_until: date,
        on: date,
    ) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE permits SET card_valid_until = ? WHERE number = ?", (valid_until.isoformat(), permit_number)
            )
            self._db.execute(
                "INSERT INTO rewrites (permit_number, terminal_id, card_serial, valid_from, valid_until,"
                " rewritten_on) VALUES (?,?,?,?,?,?)",
                (permit_number, terminal_id, card_serial, valid_from.isoformat(), valid_until.isoformat(),
                 on.isoformat()),
            )

    def latest_application_of(self, resident: str) -> ApplicationRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT a.*, i.state FROM applications a LEFT JOIN issuances i ON i.permit_number = a.permit_number"
                " WHERE a.resident = ? ORDER BY a.id DESC LIMIT 1",
                (resident,),
            ).fetchone()
        if row is None:
            return None
        return ApplicationRow(
            decided_on=date.fromisoformat(row["decided_on"]), approved=bool(row["approved"]), reason=row["reason"],
            available_on=date.fromisoformat(row["available_on"]) if row["available_on"] else None,
            permit_number=row["permit_number"], issuance=IssuanceState(row["state"]) if row["state"] else None,
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
                          p.status, p.endorsement, p.authority, p.address_changed,
                          coalesce(i.state, 'on_record') AS state
                   FROM permits p LEFT JOIN issuances i ON i.permit_number = p.number ORDER BY p.number"""
            ).fetchall()
            declarations = self._db.execute(
                "SELECT receipt, request_id, terminal_id, resident, declared, proof_kind, proof_reference,"
                " relationship FROM declarations ORDER BY receipt"
            ).fetchall()
            rewrites = self._db.execute(
                "SELECT permit_number, terminal_id, card_serial, valid_from, valid_until, rewritten_on"
                " FROM rewrites ORDER BY id"
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
            "permits": [dict(r) | {"address_changed": bool(r["address_changed"])} for r in permits],
            "applications": apps,
            "issuances": [dict(r) for r in issuances],
            "declarations": [dict(r) for r in declarations],
            "rewrites": [dict(r) for r in rewrites],
        }
