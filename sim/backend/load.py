"""The population file a scenario writes (docs/backend-api.yaml, "Population file"), into the store.

Unknown keys in a proof, dates that are not ISO days and values outside the vocabulary are
refused with the place they were found; nothing of a resident's data goes into the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sim.backend.rules import add_months
from sim.backend.store import Store
from sim.backend.vocab import Document, Endorsed, Party, PermitStatus, ProofKind, Use

# A proof's QR code carries this prefix and its certificate number, unless the file gives one.
QR_PREFIX = "RPPROOF1:"
PROOF_KEYS = frozenset({"reference", "kind", "qr_payload", "address", "property_use", "in_management_area",
                        "owner_type", "lessee_type", "holder", "valid_until"})


class LoadError(ValueError):
    pass


def _iso(value: Any, where: str) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise LoadError(f"{where}: not an ISO date") from None


def _flag(value: Any, where: str) -> int:
    if not isinstance(value, bool):
        raise LoadError(f"{where}: expected true or false")
    return int(value)


def _period_start(issued: str, valid_until: str) -> str:
    """A loaded permit's current period: from its issue, or the last year when renewed since."""
    start, end = date.fromisoformat(issued), date.fromisoformat(valid_until)
    return issued if end <= add_months(start, 12) else add_months(end, -12).isoformat()


def load_file(store: Store, path: str | Path) -> int:
    with Path(path).open(encoding="utf-8") as fh:
        return load(store, json.load(fh))


def load(store: Store, data: Any) -> int:
    """Upsert the residents and the optional proofs; returns how many residents."""
    residents = data.get("residents") if isinstance(data, Mapping) else None
    if not isinstance(residents, Mapping):
        raise LoadError("population: top-level 'residents' object missing")
    proofs = data.get("proofs", [])
    if not isinstance(proofs, list):
        raise LoadError("population: 'proofs' must be a list")
    with store.transaction():
        for key, spec in residents.items():
            _resident(store, str(key), spec)
        for index, spec in enumerate(proofs):
            _proof(store, f"proofs[{index}]", spec)
    return len(residents)


def _proof(store: Store, where: str, spec: Any) -> None:
    if not isinstance(spec, Mapping):
        raise LoadError(f"{where}: not an object")
    unknown = set(spec) - PROOF_KEYS
    if unknown:  # a misspelt key must not load as a default
        raise LoadError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    reference = spec.get("reference")
    if not isinstance(reference, str) or not reference:
        raise LoadError(f"{where}.reference: expected a non-empty string")
    try:
        valid_until = spec.get("valid_until")
        row = (
            reference, Document(spec["kind"]).value, spec.get("qr_payload", QR_PREFIX + reference),
            spec.get("address"), Use(spec.get("property_use", "residential")).value,
            _flag(spec.get("in_management_area", False), f"{where}.in_management_area"),
            Party(spec.get("owner_type", "individual")).value, Party(spec.get("lessee_type", "individual")).value,
            spec.get("holder"), None if valid_until is None else _iso(valid_until, f"{where}.valid_until"),
        )
    except KeyError as exc:
        raise LoadError(f"{where}: missing {exc.args[0]!r}") from None
    except ValueError as exc:
        raise LoadError(f"{where}: {exc}") from None
    try:
        store.db.execute("INSERT OR REPLACE INTO proofs VALUES (?,?,?,?,?,?,?,?,?,?)", row)
    except Exception as exc:
        raise LoadError(f"{where}: qr_payload used by another proof") from exc


def _resident(store: Store, key: str, spec: Any) -> None:
    if not isinstance(spec, Mapping):
        raise LoadError(f"resident {key}: not an object")
    try:
        valid_to = spec["id_valid_to"]
        row = (
            key, spec["name"], spec["sex"], spec["nation"], _iso(spec["birth"], f"{key}.birth"), spec["id_number"],
            spec["id_address"], spec["id_authority"], _iso(spec["id_valid_from"], f"{key}.id_valid_from"),
            None if valid_to in (None, "长期") else _iso(valid_to, f"{key}.id_valid_to"),
            spec.get("card_type", "citizen"), spec.get("face"), spec.get("phone"),
        )
    except KeyError as exc:
        raise LoadError(f"resident {key}: missing {exc.args[0]!r}") from None
    db = store.db
    db.execute("DELETE FROM registrations WHERE resident = ?", (key,))
    db.execute("INSERT OR REPLACE INTO residents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
    reg = spec.get("registration")
    if reg is not None:
        try:
            db.execute("INSERT INTO registrations VALUES (?,?,?,?,?,?,?,?,?)", (
                key, reg["address"], _iso(reg["declared"], f"{key}.registration.declared"),
                ProofKind(reg["proof"]).value,
                # holder fields that differ from the card make INFO_MISMATCH
                reg.get("name", spec["name"]), reg.get("sex", spec["sex"]), reg.get("nation", spec["nation"]),
                _iso(reg.get("birth", spec["birth"]), f"{key}.registration.birth"),
                reg.get("id_number", spec["id_number"]),
            ))
        except (KeyError, ValueError) as exc:
            raise LoadError(f"resident {key}: bad registration ({type(exc).__name__} {exc.args[0]!r})") from None
    permit = spec.get("permit")
    if permit is not None:
        _permit(store, key, spec, reg, permit)


def _permit(store: Store, key: str, spec: Mapping[str, Any], reg: Any, permit: Any) -> None:
    try:
        issued = _iso(permit["issued"], f"{key}.permit.issued")
        valid_until = _iso(permit["valid_until"], f"{key}.permit.valid_until")
        valid_from = permit.get("valid_from")
        store.db.execute("INSERT OR REPLACE INTO permits VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
            permit["number"], key, issued,
            _period_start(issued, valid_until) if valid_from is None else _iso(valid_from, f"{key}.permit.valid_from"),
            valid_until, _iso(permit.get("card_valid_until", valid_until), f"{key}.permit.card_valid_until"),
            PermitStatus(permit.get("status", "active")).value, Endorsed(permit.get("endorsement", "none")).value,
            permit.get("authority", spec["id_authority"]), (reg or {}).get("address", ""),
            _flag(permit.get("address_changed", False), f"{key}.permit.address_changed"),
        ))
    except (KeyError, ValueError) as exc:
        raise LoadError(f"resident {key}: bad permit ({type(exc).__name__} {exc.args[0]!r})") from None
    value = permit.get("points")
    if value is not None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise LoadError(f"resident {key}: permit.points must be a non-negative integer")
        # The notice's number is this backend's own: JF (积分) and the permit's number.
        store.db.execute("INSERT OR REPLACE INTO points VALUES (?,?,?)",
                         (permit["number"], value, f"JF{permit['number']}"))
