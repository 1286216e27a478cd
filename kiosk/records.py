"""What the backend holds about a resident, as the kiosk and the policy see it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class ProofKind(StrEnum):
    OWN_PROPERTY = "own_property"
    RELATIVE_PROPERTY = "relative_property"
    RENTAL = "rental"
    RELATIVE_RENTAL = "relative_rental"
    DORMITORY = "dormitory"


class PermitStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class EndorsementState(StrEnum):
    NONE = "none"
    PASSED = "passed"
    NOT_PASSED = "not_passed"


@dataclass(frozen=True)
class Holder:
    """The basic information a record was made with (compared with the ID card, SH-PMT-3)."""

    name: str = field(repr=False)
    sex: str = field(repr=False)
    nation: str = field(repr=False)
    birth: date = field(repr=False)
    id_number: str = field(repr=False)


@dataclass(frozen=True)
class Registration:
    holder: Holder
    address: str = field(repr=False)
    declared: date
    proof: ProofKind


@dataclass(frozen=True)
class Permit:
    number: str
    issued: date
    valid_until: date  # the backend's validity
    card_valid_until: date  # what the card's face and chip show
    status: PermitStatus
    endorsement: EndorsementState
