"""The wire vocabulary of residence registration (SH-REG-1..6), per docs/backend-api.yaml.

The kiosk offers these words and the simulated backend imports them, so both speak the same
language; they are data, not policy (the backend decides).
"""

from __future__ import annotations

from enum import StrEnum

from kiosk.records import ProofKind


class Relationship(StrEnum):
    """Who the relative is to the declarant; only CLOSE_RELATIVES count (SH-REG-3)."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    PATERNAL_GRANDPARENT = "paternal_grandparent"  # 祖父母
    MATERNAL_GRANDPARENT = "maternal_grandparent"  # 外祖父母
    PATERNAL_GRANDCHILD = "paternal_grandchild"  # 孙子女
    MATERNAL_GRANDCHILD = "maternal_grandchild"  # 外孙子女
    FULL_SIBLING = "full_sibling"  # 同胞兄弟姐妹
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


CLOSE_RELATIVES: frozenset[Relationship] = frozenset({  # SH-REG-3, seed 004: "No one else."
    Relationship.SPOUSE, Relationship.PARENT, Relationship.CHILD, Relationship.PATERNAL_GRANDPARENT,
    Relationship.MATERNAL_GRANDPARENT, Relationship.PATERNAL_GRANDCHILD, Relationship.MATERNAL_GRANDCHILD,
    Relationship.FULL_SIBLING, Relationship.GRANDPARENT, Relationship.GRANDCHILD,
})
RELATIVE_KINDS: frozenset[ProofKind] = frozenset({ProofKind.RELATIVE_PROPERTY, ProofKind.RELATIVE_RENTAL})


class ProofDocument(StrEnum):
    PROPERTY_CERTIFICATE = "property_certificate"  # 房地产权证明
    RENTAL_FILING = "rental_filing"  # 房屋租赁合同登记备案证明
    DORMITORY_CERTIFICATE = "dormitory_certificate"  # 集体宿舍证明


# SH-REG-1: the document each way of living needs.
DOCUMENT_FOR: dict[ProofKind, ProofDocument] = {
    ProofKind.OWN_PROPERTY: ProofDocument.PROPERTY_CERTIFICATE,
    ProofKind.RELATIVE_PROPERTY: ProofDocument.PROPERTY_CERTIFICATE,
    ProofKind.RENTAL: ProofDocument.RENTAL_FILING,
    ProofKind.RELATIVE_RENTAL: ProofDocument.RENTAL_FILING,
    ProofKind.DORMITORY: ProofDocument.DORMITORY_CERTIFICATE,
}


class PropertyUse(StrEnum):
    """The use stated on the property certificate (SH-REG-4: only residential counts)."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    OFFICE = "office"
    FACTORY = "factory"


class Party(StrEnum):
    """An owner or a lessee (SH-REG-6)."""

    INDIVIDUAL = "individual"
    UNIT = "unit"

