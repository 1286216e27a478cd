"""What a registration scenario's expectations read after the session: the backend's registration
of the resident (through the backend's own status operation, as any terminal would ask) and the
receipt's QR code, decoded from the receipt screen's screenshot with zxing-cpp.

The report carries the dates and the receipt number, and only whether the address matched: an
address is personal data and stays out of the report file (SH-PRIV-1).
"""

from __future__ import annotations

import uuid
from typing import Any

from kiosk.backend_client import BackendClient
from kiosk.backend_types import StatusReport
from kiosk.identity import CardType, Identity, Sex
from sim.launcher import backend_records
from sim.scenario import ResidentSpec, Scenario

TERMINAL = "SH-SIM-CHECK"  # the checker asks as a terminal of its own


def identity_of(r: ResidentSpec) -> Identity:
    return Identity(card_type=CardType(r.card_type), name=r.name, sex=Sex(r.sex), nation=r.nation, birth=r.birth,
                    address=r.id_address, id_number=r.id_number, authority=r.id_authority,
                    valid_from=r.id_valid_from, valid_to=r.id_valid_to)


def registration_facts(backend_url: str, scenario: Scenario) -> dict[str, Any]:
    """The resident's registration on the backend now, and the latest receipt issued to them."""
    who = scenario.who
    with BackendClient(backend_url, TERMINAL, retries=0) as client:
        status = client.query_status(f"check-{uuid.uuid4().hex}", identity_of(who))
    facts: dict[str, Any] = {"declared": None, "permit_possible_on": None, "valid_through": None,
                             "address": None, "receipt": None}
    if isinstance(status, StatusReport) and status.registration is not None:
        reg = status.registration
        facts.update(declared=reg.declared.isoformat(), permit_possible_on=reg.eligible_on.isoformat(),
                     valid_through=_valid_through(reg.expires_on), address=reg.address)
    records = backend_records(backend_url)
    mine = [d for d in records.get("declarations", []) if d.get("resident") == who.key]
    if mine:
        facts["receipt"] = mine[-1]["receipt"]
    return facts


def _valid_through(expires_on: Any) -> str:
    from datetime import timedelta

    return (expires_on - timedelta(days=1)).isoformat()




def report_part(facts: dict[str, Any], receipt_qr: list[str] | None, scenario: Scenario) -> dict[str, Any]:
    """The registration's part of the report (no address: only whether it matched); `receipt_qr`:
    what the receipt screen's QR codes read, None when it was not shown."""
    want = scenario.expect.registered_address
    part: dict[str, Any] = {k: facts[k] for k in ("declared", "permit_possible_on", "valid_through", "receipt")}
    part["address_matches"] = None if want is None else facts["address"] == want
    part["receipt_shown"] = receipt_qr is not None
    part["receipt_qr"] = receipt_qr or []
    return part


def check(scenario: Scenario, report: dict[str, Any]) -> list[str]:
    e = scenario.expect
    part = report.get("registration") or {}
    out: list[str] = []
    if e.registered_address is not None and not part.get("address_matches"):
        out.append("expected the backend to hold the registration at the expected address; "
                   + ("it holds none" if part.get("declared") is None else "it holds another address"))
    for name, want, key in (("permit_possible_on", e.permit_possible_on, "permit_possible_on"),
                            ("registration_valid_through", e.registration_valid_through, "valid_through")):
        if want is not None and want.isoformat() != part.get(key):
            out.append(f"expected {name} {want.isoformat()!r}, got {part.get(key)!r}")
    if e.receipt_qr is not None:
        decoded, receipt = part.get("receipt_qr") or [], part.get("receipt")
        shown = receipt is not None and receipt in decoded
        if e.receipt_qr and not shown:
            out.append(f"expected the receipt screen's QR code to decode to the receipt {receipt!r}; "
                       f"decoded {decoded!r}" + ("" if part.get("receipt_shown") else " (no receipt screen shown)"))
        if not e.receipt_qr and decoded:
            out.append(f"expected no receipt QR code; decoded {decoded!r}")
    return out
