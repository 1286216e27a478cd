"""What the backend client returns: one frozen dataclass per answer, and BackendFailure.

Fields holding resident data (addresses, names) are kept out of repr, so a result printed by
accident leaks nothing (SH-PRIV-1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from kiosk.backend_vocabulary import Party, ProofDocument, PropertyUse, Relationship
from kiosk.dates import Window
from kiosk.endorsement import PermitStanding, Points, Rewrite
from kiosk.policy import Refusal
from kiosk.reasons import Reason


class FailureKind(StrEnum):
    UNREACHABLE = "unreachable"  # no connection, or the connection was lost before an answer
    TIMEOUT = "timeout"  # connected, but no answer within the read timeout
    SERVER_ERROR = "server_error"  # 5xx after the retries
    BAD_REPLY = "bad_reply"  # an answer that does not match the contract
    REFUSED_REQUEST = "refused_request"  # 4xx: the backend would not take the request as sent



@dataclass(frozen=True)
class BackendFailure:
    kind: FailureKind
    status: int | None = None  # the HTTP status, where there was one
    error: str | None = None  # the backend's error code, e.g. REQUEST_ID_REUSED


@dataclass(frozen=True)
class Precheck:
    refusals: tuple[Refusal, ...]  # every failing check, in the order of RULES.md
    registered_address: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FaceCheck:
    match: bool


@dataclass(frozen=True)
class PermitGrant:
    number: str
    issued: date
    valid_from: date
    valid_until: date
    authority: str
    residence_address: str = field(repr=False)


@dataclass(frozen=True)
class Approval:
    permit: PermitGrant


@dataclass(frozen=True)
class Confirmed:
    permit_number: str


@dataclass(frozen=True)
class Voided:
    permit_number: str


@dataclass(frozen=True)
class ApplicationVoided:
    """An application withdrawn by its request id: `voided` (its approval, `permit_number`),
    `refused` (nothing was approved), `unseen` (never arrived; it will be refused if it does)."""

    application_request_id: str
    state: str
    permit_number: str | None


@dataclass(frozen=True)
class Relative:
    """The close relative whose housing the declarant lives in (SH-REG-2, SH-REG-3)."""

    relationship: Relationship
    name: str = field(repr=False)
    promise_letter: bool = True  # the electronic 亲属关系承诺书, filled in at the kiosk


@dataclass(frozen=True)
class Receipt:
    number: str
    declared: date
    eligible_on: date  # add_months(declared, 6): a permit becomes possible (SH-REG-7)
    expires_on: date  # add_months(declared, 12): declare again from this day
    address: str = field(repr=False)


@dataclass(frozen=True)
class Registered:
    receipt: Receipt


@dataclass(frozen=True)
class RegistrationRefused:
    reason: Reason
    rule: str | None  # the rule of RULES.md that refused (SH-REG-1..6); None for the ID card's checks
    registration: RegistrationInfo | None = None  # REG_CURRENT: the registration still valid


@dataclass(frozen=True)
class VerifiedProof:
    document: ProofDocument
    reference: str
    property_use: PropertyUse
    in_management_area: bool
    owner_type: Party
    valid_until: date | None  # None: no end on record
    address: str | None = field(repr=False)  # None: the record holds none
    lessee_type: Party = Party.INDIVIDUAL  # a rental filing's lessee (SH-REG-6)
    # Asked with the declarant's card and kind: the first check that fails before the address and
    # the relative are known (None: none fails, or not asked).
    assessment: RegistrationRefused | None = None


@dataclass(frozen=True)
class ProofRejected:
    reason: Reason = Reason.PROOF_INVALID


@dataclass(frozen=True)
class PermitRecord:
    number: str
    issued: date
    standing: PermitStanding


@dataclass(frozen=True)
class UnknownPermit:
    """No permit with this number for this ID number (the backend does not say which part is wrong)."""

    permit_number: str


@dataclass(frozen=True)
class WindowInfo:
    opens: date  # V - 30 days
    closes: date  # V, the last day on time
    grace_ends: date  # V + grace days (V itself in Beijing)
    position: Window


@dataclass(frozen=True)
class EndorsementCheck:
    """The backend's standing, its window, and its decision for the card that was presented.

    The kiosk may run kiosk.endorsement.rewrite_decision on `permit.standing` to cross-check `decision`.
    """

    permit: PermitRecord
    card_valid_until: date
    window: WindowInfo
    decision: Rewrite | Refusal


@dataclass(frozen=True)
class Rewritten:
    permit_number: str
    valid_from: date
    valid_until: date


@dataclass(frozen=True)
class RegistrationInfo:
    declared: date
    eligible_on: date
    expires_on: date
    expired: bool
    address: str = field(repr=False)
    valid_through: date | None = None  # add_months(declared, 12) - 1 day, as the backend reads it


@dataclass(frozen=True)
class ApplicationInfo:
    decided_on: date
    approved: bool
    reason: Reason | None
    available_on: date | None
    permit_number: str | None
    issuance: str | None  # approved | issued | voided, for an approval


@dataclass(frozen=True)
class PermitInfo:
    permit: PermitRecord
    card_valid_until: date
    window: WindowInfo
    endorsement_state: str | None = None  # the backend's reading: passed | not_due | open | grace | lapsed


@dataclass(frozen=True)
class StatusReport:
    registration: RegistrationInfo | None
    application: ApplicationInfo | None
    permit: PermitInfo | None
    points: Points
    points_value: int | None = None  # the points the backend holds (SH-PTS-2), None: none on record
    points_notice: str | None = None  # the number of the points notice, while the points are valid



# Registration refusals: the ID card's checks, then SH-REG-1..6.
ID_CARD_REASONS: frozenset[Reason] = frozenset({
    Reason.CARD_TYPE_UNSUPPORTED, Reason.ID_NUMBER_INVALID, Reason.ID_CARD_EXPIRED, Reason.LOCAL_HUKOU,
    Reason.UNDER_16,
})
REGISTRATION_REASONS: frozenset[Reason] = ID_CARD_REASONS | {
    Reason.PROOF_INVALID, Reason.NON_RESIDENTIAL_PROPERTY, Reason.DORMITORY_IN_RESIDENTIAL_AREA,
    Reason.RELATIVE_NOT_CLOSE, Reason.LEASE_TO_UNIT, Reason.REG_CURRENT, Reason.ADDRESS_CHANGED,
}

