"""The words this backend speaks on the wire (docs/backend-api.yaml), as its own enums."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """The reason codes of RULES.md that this backend can answer with."""

    CARD_TYPE_UNSUPPORTED = "CARD_TYPE_UNSUPPORTED"
    ID_NUMBER_INVALID = "ID_NUMBER_INVALID"
    ID_CARD_EXPIRED = "ID_CARD_EXPIRED"
    LOCAL_HUKOU = "LOCAL_HUKOU"
    UNDER_16 = "UNDER_16"
    NO_REGISTRATION = "NO_REGISTRATION"
    REG_EXPIRED = "REG_EXPIRED"
    REG_TOO_RECENT = "REG_TOO_RECENT"
    ADDRESS_CHANGED = "ADDRESS_CHANGED"
    INFO_MISMATCH = "INFO_MISMATCH"
    PERMIT_EXISTS = "PERMIT_EXISTS"
    PERMIT_CANCELLED = "PERMIT_CANCELLED"
    FACE_MISMATCH = "FACE_MISMATCH"
    PROOF_INVALID = "PROOF_INVALID"
    NON_RESIDENTIAL_PROPERTY = "NON_RESIDENTIAL_PROPERTY"
    DORMITORY_IN_RESIDENTIAL_AREA = "DORMITORY_IN_RESIDENTIAL_AREA"
    LEASE_TO_UNIT = "LEASE_TO_UNIT"
    RELATIVE_NOT_CLOSE = "RELATIVE_NOT_CLOSE"
    REG_CURRENT = "REG_CURRENT"
    CARD_FACE_CURRENT = "CARD_FACE_CURRENT"
    ENDORSEMENT_NOT_DUE = "ENDORSEMENT_NOT_DUE"
    ENDORSEMENT_LAPSED = "ENDORSEMENT_LAPSED"
    ENDORSEMENT_NOT_PASSED = "ENDORSEMENT_NOT_PASSED"


class CardType(StrEnum):
    CITIZEN = "citizen"
    FOREIGN_PERMANENT = "foreign_permanent"
    FOREIGN_PERMANENT_2023 = "foreign_permanent_2023"
    HK_MO_TW_RESIDENCE = "hk_mo_tw_residence"


class ProofKind(StrEnum):
    """How the declarant lives at the address (SH-REG-1)."""

    OWN_PROPERTY = "own_property"
    RELATIVE_PROPERTY = "relative_property"
    RENTAL = "rental"
    RELATIVE_RENTAL = "relative_rental"
    DORMITORY = "dormitory"


class Document(StrEnum):
    PROPERTY_CERTIFICATE = "property_certificate"  # 房地产权证明
    RENTAL_FILING = "rental_filing"  # 房屋租赁合同登记备案证明
    DORMITORY_CERTIFICATE = "dormitory_certificate"  # 集体宿舍证明


# SH-REG-1: the document each way of living is proved by.
DOCUMENT_FOR: dict[ProofKind, Document] = {
    ProofKind.OWN_PROPERTY: Document.PROPERTY_CERTIFICATE,
    ProofKind.RELATIVE_PROPERTY: Document.PROPERTY_CERTIFICATE,
    ProofKind.RENTAL: Document.RENTAL_FILING,
    ProofKind.RELATIVE_RENTAL: Document.RENTAL_FILING,
    ProofKind.DORMITORY: Document.DORMITORY_CERTIFICATE,
}
RELATIVES_HOME: frozenset[ProofKind] = frozenset({ProofKind.RELATIVE_PROPERTY, ProofKind.RELATIVE_RENTAL})


class Use(StrEnum):
    """The use a property certificate states (SH-REG-4)."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    OFFICE = "office"
    FACTORY = "factory"


class Party(StrEnum):
    INDIVIDUAL = "individual"
    UNIT = "unit"


class Kin(StrEnum):
    """Who the relative is to the declarant."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    PATERNAL_GRANDPARENT = "paternal_grandparent"
    MATERNAL_GRANDPARENT = "maternal_grandparent"
    PATERNAL_GRANDCHILD = "paternal_grandchild"
    MATERNAL_GRANDCHILD = "maternal_grandchild"
    FULL_SIBLING = "full_sibling"
    # The kiosk asks "grandparent" and "grandchild" without the side (both sides are close).
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    HALF_SIBLING = "half_sibling"
    PARENT_IN_LAW = "parent_in_law"
    CHILD_IN_LAW = "child_in_law"
    SIBLING_IN_LAW = "sibling_in_law"
    UNCLE_AUNT = "uncle_aunt"
    NEPHEW_NIECE = "nephew_niece"
    COUSIN = "cousin"
    FRIEND = "friend"
    OTHER = "other"


# SH-REG-3: spouse, parents, children, grandparents on both sides, grandchildren on both sides,
# full siblings. "No one else."
CLOSE_KIN: frozenset[Kin] = frozenset({
    Kin.SPOUSE, Kin.PARENT, Kin.CHILD, Kin.PATERNAL_GRANDPARENT, Kin.MATERNAL_GRANDPARENT,
    Kin.PATERNAL_GRANDCHILD, Kin.MATERNAL_GRANDCHILD, Kin.FULL_SIBLING, Kin.GRANDPARENT, Kin.GRANDCHILD,
})


class PermitStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"  # SH-PMT-7


class Endorsed(StrEnum):
    """The latest endorsement's outcome, as the record keeps it."""

    NONE = "none"
    PASSED = "passed"  # the current validity is the period it granted
    NOT_PASSED = "not_passed"


class IssuanceState(StrEnum):
    APPROVED = "approved"  # the kiosk may print the card
    ISSUED = "issued"  # the resident took it
    VOIDED = "voided"  # no card reached the resident: the permit never counted


class Position(StrEnum):
    """Where a day falls in the endorsement window of a validity V (SH-END-1, BJ-END-1)."""

    NOT_DUE = "not_due"  # before V - 30 days
    ON_TIME = "on_time"  # V - 30 days .. V
    GRACE = "grace"  # V + 1 .. V + grace days (Shanghai 60; Beijing none)
    LAPSED = "lapsed"  # after the grace


class ShownState(StrEnum):
    """The endorsement state a status query shows (RULES.md, Status shown to a resident)."""

    PASSED = "passed"
    NOT_DUE = "not_due"
    OPEN = "open"
    GRACE = "grace"
    LAPSED = "lapsed"


class PointsState(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"  # SH-END-2: functions suspended within the grace
    VOID = "void"  # SH-PTS-1
    NONE = "none"


def mask(id_number: str) -> str:
    """What a log may show of an ID number (SH-PRIV-1): the first four and the last character."""
    if len(id_number) < 6:
        return "*" * len(id_number)
    return id_number[:4] + "*" * (len(id_number) - 5) + id_number[-1]
