"""Residence registration's own session fields and the answers its screens offer.

The choices are data: the screens show them as `choice.<value>` buttons in this order, and the
flow reads the value back. What counts as a close relative is the backend vocabulary's
(SH-REG-3); the kiosk refuses the others at once and the backend checks again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.backend_types import Receipt, VerifiedProof
from kiosk.backend_vocabulary import CLOSE_RELATIVES, RELATIVE_KINDS, Relationship
from kiosk.records import ProofKind

# The number on a proof document: digits only, 8 to 20 (docs/scenarios.md, proof_number).
PROOF_NUMBER = re.compile(r"^\d{8,20}$")
PROOF_NUMBER_MAX = 20
MOBILE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number, as for the permit's SMS


class Purpose(StrEnum):
    """居住事由: why the declarant lives here (kept with the declaration)."""

    WORK = "work"
    BUSINESS = "business"
    STUDY = "study"
    FAMILY = "family"
    OTHER = "other"


class Presented(StrEnum):
    """How the proof's number reached the kiosk."""

    QR = "qr"
    TYPED = "typed"


# Why a scanned code was not a proof's (kiosk/qr_payload.py's PayloadProblem), in the few plain
# words the screen has: the resident needs to know what to do, not which check failed.
PROBLEM_SHOWN: dict[str, str] = {
    "empty": "unreadable", "not_utf8": "unreadable", "control_chars": "unreadable", "too_long": "too_long",
    "bad_scheme": "unknown_host", "bad_host": "unknown_host", "unknown_host": "unknown_host",
    "bad_number": "bad_number", "bad_code": "bad_number",
    "whitespace": "not_a_proof", "not_ascii": "not_a_proof", "percent_encoded": "not_a_proof",
    "bad_path": "not_a_proof", "bad_params": "not_a_proof", "unrecognised": "not_a_proof",
}

PROOF_KINDS: tuple[ProofKind, ...] = (
    ProofKind.OWN_PROPERTY, ProofKind.RELATIVE_PROPERTY, ProofKind.RENTAL, ProofKind.RELATIVE_RENTAL,
    ProofKind.DORMITORY,
)
# The relative list holds the close ones first, then those SH-REG-3 excludes, so that a resident
# living with an in-law or a friend finds their case and is told plainly why it is refused.
RELATIONSHIPS: tuple[Relationship, ...] = (
    Relationship.SPOUSE, Relationship.PARENT, Relationship.CHILD, Relationship.GRANDPARENT,
    Relationship.GRANDCHILD, Relationship.FULL_SIBLING, Relationship.PARENT_IN_LAW, Relationship.SIBLING_IN_LAW,
    Relationship.UNCLE_AUNT, Relationship.COUSIN, Relationship.NEPHEW_NIECE, Relationship.FRIEND,
)
PURPOSES: tuple[Purpose, ...] = tuple(Purpose)


def is_close(relationship: Relationship) -> bool:
    """SH-REG-3: spouse, parents, children, grandparents, grandchildren, full siblings; no one else."""
    return relationship in CLOSE_RELATIVES


def needs_relative(kind: ProofKind | None) -> bool:
    """SH-REG-2: a relative's home needs the relationship (the promise letter stands in for its proof)."""
    return kind in RELATIVE_KINDS


@dataclass
class RegData:
    """What the registration session holds beyond the shared session (dropped with it: SH-PRIV-1)."""

    kind: ProofKind | None = None
    digits: str = field(default="", repr=False)  # the number being typed
    number: str = field(default="", repr=False)  # the number sent for verification
    code: str | None = field(default=None, repr=False)  # the verification code a scanned QR carried
    presented: Presented | None = None
    payload_problem: str | None = None  # why the last scanned code was not a proof's (shown, then retried)
    scans: int = 0  # scans tried this session (the request ids of verification)
    proof: VerifiedProof | None = None
    relationship: Relationship | None = None
    letter_confirmed: bool = False
    purpose: Purpose | None = None
    receipt: Receipt | None = None
    receipt_deadline: float | None = None  # monotonic: when the receipt screen gives up waiting
