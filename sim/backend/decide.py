"""The decisions, as pure functions over this backend's own records (RULES.md, read afresh).

New permit: the ID card, then the records, then the face. Registration: the ID card, then the
proof (SH-REG-1..6), then the records (SH-REG-7, SH-END-5). Card-face rewrite: PERMIT_CANCELLED →
ADDRESS_CHANGED → CARD_FACE_CURRENT → rewrite → ENDORSEMENT_NOT_DUE / _LAPSED / _NOT_PASSED.
Status: the registration's and the permit's dates, the endorsement state shown, the points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sim.backend.rules import Pack, add_months, full_years, id_number_valid, window
from sim.backend.vocab import (
    CLOSE_KIN,
    DOCUMENT_FOR,
    RELATIVES_HOME,
    CardType,
    Document,
    Endorsed,
    Kin,
    Party,
    PermitStatus,
    PointsState,
    Position,
    ProofKind,
    Reason,
    ShownState,
    Use,
)

# RULES.md, Order of checks, new permit: the first failing one is the reason shown.
NEW_PERMIT_ORDER: tuple[Reason, ...] = (
    Reason.CARD_TYPE_UNSUPPORTED, Reason.ID_NUMBER_INVALID, Reason.ID_CARD_EXPIRED, Reason.LOCAL_HUKOU,
    Reason.UNDER_16, Reason.NO_REGISTRATION, Reason.REG_EXPIRED, Reason.REG_TOO_RECENT, Reason.ADDRESS_CHANGED,
    Reason.INFO_MISMATCH, Reason.PERMIT_EXISTS, Reason.PERMIT_CANCELLED, Reason.FACE_MISMATCH,
)


@dataclass(frozen=True)
class Card:
    """The ID card as the kiosk read it."""

    card_type: CardType
    name: str = field(repr=False)
    sex: str | None
    nation: str
    birth: date | None = field(repr=False)
    id_number: str = field(repr=False)
    address: str = field(repr=False)
    authority: str = field(repr=False)
    valid_from: date | None
    valid_to: date | None  # None: 长期


@dataclass(frozen=True)
class Person:
    """The basic information a registration was made with (SH-PMT-3 compares it with the card)."""

    name: str = field(repr=False)
    sex: str
    nation: str
    birth: date = field(repr=False)
    id_number: str = field(repr=False)


@dataclass(frozen=True)
class RegistrationOnFile:
    holder: Person
    address: str = field(repr=False)
    declared: date


@dataclass(frozen=True)
class PermitOnFile:
    number: str
    issued: date
    status: PermitStatus
    valid_from: date  # the backend's current period
    valid_until: date
    card_valid_until: date  # what the last card written shows
    endorsed: Endorsed
    address_changed: bool  # SH-END-5: a reported move not yet settled
    residence_address: str = field(repr=False)


@dataclass(frozen=True)
class ProofOnFile:
    reference: str
    document: Document
    use: Use
    in_management_area: bool
    owner: Party
    lessee: Party
    valid_until: date | None
    address: str | None = field(repr=False)
    holder: str | None = field(repr=False)


@dataclass(frozen=True)
class RelativeClaim:
    kin: Kin
    name: str = field(repr=False)
    promise_letter: bool


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    available_on: date | None = None  # REG_TOO_RECENT: add_months(declared, 6); ENDORSEMENT_NOT_DUE: V - 30
    rule: str | None = None  # registration: the rule id that refused


@dataclass(frozen=True)
class Rewrite:
    valid_from: date
    valid_until: date


# --- new permit ---------------------------------------------------------------------------------


def card_refusals(card: Card, today: date, pack: Pack) -> list[Refusal]:
    """Every check of the ID card that fails, in order; a non-citizen card is only that."""
    if card.card_type is not CardType.CITIZEN:  # SH-PMT-6
        return [Refusal(Reason.CARD_TYPE_UNSUPPORTED)]
    out: list[Refusal] = []
    if not id_number_valid(card.id_number, card.birth, today):
        out.append(Refusal(Reason.ID_NUMBER_INVALID))
    if card.valid_to is not None and today > card.valid_to:  # valid through its "valid to" day
        out.append(Refusal(Reason.ID_CARD_EXPIRED))
    if card.address.strip().startswith(pack.local_prefixes):  # SH-PMT-1
        out.append(Refusal(Reason.LOCAL_HUKOU))
    if card.birth is not None and full_years(card.birth, today) < pack.min_age:  # SH-AGE-1
        out.append(Refusal(Reason.UNDER_16))
    return out


def eligible_on(reg: RegistrationOnFile, pack: Pack) -> date:
    """SH-REG-7: six full months after declaring."""
    return add_months(reg.declared, pack.wait_months)


def expires_on(reg: RegistrationOnFile, pack: Pack) -> date:
    """SH-REG-7: valid for a year; expired from this day."""
    return add_months(reg.declared, pack.registration_months)


def same_person(card: Card, holder: Person) -> bool:
    return (card.name, card.sex, card.nation, card.birth, card.id_number) == (
        holder.name, holder.sex, holder.nation, holder.birth, holder.id_number)


def record_refusals(
    card: Card, reg: RegistrationOnFile | None, permit: PermitOnFile | None, today: date, pack: Pack,
    lives_there: bool | None,
) -> list[Refusal]:
    """The record checks (SH-REG-7, SH-PMT-3, SH-PMT-7); `lives_there` None: not asked (precheck)."""
    out: list[Refusal] = []
    if reg is None:
        out.append(Refusal(Reason.NO_REGISTRATION))
    else:
        if today >= expires_on(reg, pack):
            out.append(Refusal(Reason.REG_EXPIRED))
        if today < eligible_on(reg, pack):
            out.append(Refusal(Reason.REG_TOO_RECENT, eligible_on(reg, pack)))
        if lives_there is False:
            out.append(Refusal(Reason.ADDRESS_CHANGED))
        if not same_person(card, reg.holder):
            out.append(Refusal(Reason.INFO_MISMATCH))
    if permit is not None:  # SH-PMT-3: new permits only; SH-PMT-7: a cancelled one serves nothing
        cancelled = permit.status is PermitStatus.CANCELLED
        out.append(Refusal(Reason.PERMIT_CANCELLED if cancelled else Reason.PERMIT_EXISTS))
    return out


def in_order(refusals: list[Refusal]) -> list[Refusal]:
    return sorted(refusals, key=lambda r: NEW_PERMIT_ORDER.index(r.reason))


def new_permit_period(today: date, pack: Pack) -> tuple[date, date]:
    """Issued on D: valid from D through add_months(D, 12)."""
    return today, add_months(today, pack.permit_months)


# --- registration (SH-REG-1..7) ------------------------------------------------------------------


def proof_refusal(
    proof: ProofOnFile | None, kind: ProofKind, address: str | None, declarant: str, relative: RelativeClaim | None,
    today: date,
) -> Refusal | None:
    """The proof's checks in RULES.md's order: PROOF_INVALID → NON_RESIDENTIAL_PROPERTY →
    DORMITORY_IN_RESIDENTIAL_AREA → LEASE_TO_UNIT → RELATIVE_NOT_CLOSE (then the relationship proof).

    `address` None: not declared yet (a proof assessed at verification, before the resident
    confirms the address it names); `relative` None: no relative named yet."""
    if not proof_verifies(proof, today) or proof is None or proof.document is not DOCUMENT_FOR[kind]:
        return Refusal(Reason.PROOF_INVALID, rule="SH-REG-1")
    if address is not None and proof.address is not None and proof.address.strip() != address.strip():
        return Refusal(Reason.PROOF_INVALID, rule="SH-REG-1")
    if proof.holder is not None and proof.document is not Document.DORMITORY_CERTIFICATE:
        own = proof.holder == declarant
        if own != (kind not in RELATIVES_HOME):  # own home: the resident; a relative's: someone else
            return Refusal(Reason.PROOF_INVALID, rule="SH-REG-1")
    if proof.use is not Use.RESIDENTIAL:
        return Refusal(Reason.NON_RESIDENTIAL_PROPERTY, rule="SH-REG-4")
    if proof.document is Document.DORMITORY_CERTIFICATE and proof.in_management_area:
        return Refusal(Reason.DORMITORY_IN_RESIDENTIAL_AREA, rule="SH-REG-5")
    to_unit = {  # SH-REG-6: unit housing is leased to the individual first; never an individual's to a unit
        Document.PROPERTY_CERTIFICATE: proof.owner is Party.UNIT,
        Document.RENTAL_FILING: proof.lessee is Party.UNIT,
        Document.DORMITORY_CERTIFICATE: proof.owner is Party.INDIVIDUAL,
    }[proof.document]
    if to_unit:
        return Refusal(Reason.LEASE_TO_UNIT, rule="SH-REG-6")
    if relative is not None:
        if relative.kin not in CLOSE_KIN:
            return Refusal(Reason.RELATIVE_NOT_CLOSE, rule="SH-REG-3")
        if not relative.promise_letter:  # SH-REG-2: no proof of the relationship
            return Refusal(Reason.PROOF_INVALID, rule="SH-REG-2")
    return None


def proof_verifies(proof: ProofOnFile | None, today: date) -> bool:
    return proof is not None and (proof.valid_until is None or today <= proof.valid_until)


def registration_record_refusal(
    address: str, reg: RegistrationOnFile | None, permit: PermitOnFile | None, today: date, pack: Pack,
) -> Refusal | None:
    """REG_CURRENT (SH-REG-7) → ADDRESS_CHANGED (SH-END-5; BJ-CHG-1 in Beijing)."""
    if reg is not None and reg.address.strip() == address.strip() and today < expires_on(reg, pack):
        return Refusal(Reason.REG_CURRENT, rule="SH-REG-7")
    if (permit is not None and permit.status is PermitStatus.ACTIVE
            and permit.residence_address.strip() != address.strip()):
        return Refusal(Reason.ADDRESS_CHANGED, rule="BJ-CHG-1" if pack.city == "beijing" else "SH-END-5")
    return None


# --- card-face rewrite (卡面擦写) -------------------------------------------------------------------


def rewrite_decision(permit: PermitOnFile, card_valid_until: date, today: date, pack: Pack) -> Rewrite | Refusal:
    """For a card showing `card_valid_until` (V).

    CARD_FACE_CURRENT: the card shows the validity the latest passed endorsement granted and that
    validity's own window has not opened; a card showing a validity no endorsement granted (a new
    permit) is judged by its window like any other.
    """
    if permit.status is PermitStatus.CANCELLED:  # SH-PMT-7
        return Refusal(Reason.PERMIT_CANCELLED)
    if permit.address_changed:  # SH-END-5
        return Refusal(Reason.ADDRESS_CHANGED)
    shown = window(card_valid_until, pack)
    if (card_valid_until == permit.valid_until and permit.endorsed is Endorsed.PASSED
            and shown.position(today) is Position.NOT_DUE):
        return Refusal(Reason.CARD_FACE_CURRENT)
    if permit.valid_until > card_valid_until:  # SH-END-4: an endorsement passed, whenever it passed
        return Rewrite(permit.valid_from, permit.valid_until)
    position = shown.position(today)
    if position is Position.NOT_DUE:
        return Refusal(Reason.ENDORSEMENT_NOT_DUE, available_on=shown.opens)
    if position is Position.LAPSED:  # SH-END-3, BJ-END-1
        return Refusal(Reason.ENDORSEMENT_LAPSED)
    return Refusal(Reason.ENDORSEMENT_NOT_PASSED)  # SH-END-2


# --- status (RULES.md, Status shown to a resident) -------------------------------------------------


def registration_valid_through(reg: RegistrationOnFile, pack: Pack) -> date:
    return expires_on(reg, pack) - timedelta(days=1)


def shown_state(permit: PermitOnFile, today: date, pack: Pack) -> ShownState:
    if permit.valid_until > permit.card_valid_until:
        return ShownState.PASSED
    return {
        Position.NOT_DUE: ShownState.NOT_DUE, Position.ON_TIME: ShownState.OPEN,
        Position.GRACE: ShownState.GRACE, Position.LAPSED: ShownState.LAPSED,
    }[window(permit.valid_until, pack).position(today)]


@dataclass(frozen=True)
class Points:
    state: PointsState
    valid_until: date | None = None
    reason: Reason | None = None


def points(permit: PermitOnFile | None, today: date, pack: Pack) -> Points:
    """SH-PTS-1: valid through V while active; suspended in the grace (SH-END-2); void once lapsed or
    cancelled."""
    if permit is None:
        return Points(PointsState.NONE)
    if permit.status is PermitStatus.CANCELLED:
        return Points(PointsState.VOID, reason=Reason.PERMIT_CANCELLED)
    position = window(permit.valid_until, pack).position(today)
    if position is Position.LAPSED:
        return Points(PointsState.VOID, reason=Reason.ENDORSEMENT_LAPSED)
    if position is Position.GRACE:
        return Points(PointsState.SUSPENDED, permit.valid_until)
    return Points(PointsState.VALID, permit.valid_until)
