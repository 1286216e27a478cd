"""The rules of RULES.md as named predicates over a policy pack's numbers.

The order lists are the one statement of "the first check that fails is the reason shown".
The simulated backend has its own reading of RULES.md (sim/backend/) and never imports this
module, so that a disagreement between the two can be seen.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kiosk import idnumber
from kiosk.dates import add_months, age_on
from kiosk.identity import CardType, Identity
from kiosk.reasons import Reason
from kiosk.records import Holder, Permit, PermitStatus, Registration

POLICY_DIR = Path(__file__).resolve().parent.parent / "config" / "policy"

# RULES.md, Order of checks, new permit.
NEW_PERMIT_ORDER: tuple[Reason, ...] = (
    Reason.CARD_TYPE_UNSUPPORTED,
    Reason.ID_NUMBER_INVALID,
    Reason.ID_CARD_EXPIRED,
    Reason.LOCAL_HUKOU,
    Reason.UNDER_16,
    Reason.NO_REGISTRATION,
    Reason.REG_EXPIRED,
    Reason.REG_TOO_RECENT,
    Reason.ADDRESS_CHANGED,
    Reason.INFO_MISMATCH,
    Reason.PERMIT_EXISTS,
    Reason.PERMIT_CANCELLED,
    Reason.PHOTO_QUALITY,
    Reason.FACE_MISMATCH,
)

# RULES.md, Order of checks, residence registration.
REGISTRATION_ORDER: tuple[Reason, ...] = (
    Reason.CARD_TYPE_UNSUPPORTED,
    Reason.ID_NUMBER_INVALID,
    Reason.ID_CARD_EXPIRED,
    Reason.LOCAL_HUKOU,
    Reason.UNDER_16,
    Reason.PROOF_INVALID,
    Reason.NON_RESIDENTIAL_PROPERTY,
    Reason.DORMITORY_IN_RESIDENTIAL_AREA,
    Reason.LEASE_TO_UNIT,
    Reason.RELATIVE_NOT_CLOSE,
    Reason.REG_CURRENT,
    Reason.ADDRESS_CHANGED,
)

# The status query reads the ID card with the new permit's checks but the age: a minor may
# look up where they stand (issue 10 lists the four it applies).
STATUS_QUERY_ID_ORDER: tuple[Reason, ...] = (
    Reason.CARD_TYPE_UNSUPPORTED,
    Reason.ID_NUMBER_INVALID,
    Reason.ID_CARD_EXPIRED,
    Reason.LOCAL_HUKOU,
)


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class PolicyPack:
    city: str
    display_name: str
    local_address_prefixes: tuple[str, ...]
    min_age: int
    large_text_age: int
    registration_wait_months: int
    registration_valid_months: int
    permit_valid_months: int
    endorsement_before_days: int
    endorsement_grace_days: int
    photo_max_tries: int
    issuing_authority: str


def load_pack(city: str, directory: Path = POLICY_DIR) -> PolicyPack:
    path = directory / f"{city}.toml"
    if not path.is_file():
        raise PolicyError(f"policy: no pack named {city!r} in {directory}")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    fields = PolicyPack.__dataclass_fields__
    unknown = set(data) - set(fields)
    if unknown:
        raise PolicyError(f"policy {city}: unknown key {sorted(unknown)[0]!r}")
    missing = set(fields) - set(data)
    if missing:
        raise PolicyError(f"policy {city}: missing key {sorted(missing)[0]!r}")
    data["local_address_prefixes"] = tuple(data["local_address_prefixes"])
    for key, spec in fields.items():
        want = int if spec.type == "int" else None
        if want is int and (not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0):
            raise PolicyError(f"policy {city}: {key!r} must be a non-negative integer")
    return PolicyPack(**data)


@dataclass(frozen=True)
class Refusal:
    reason: Reason
    available_on: date | None = None  # shown with REG_TOO_RECENT and ENDORSEMENT_NOT_DUE


def first_refusal(refusals: list[Refusal], order: tuple[Reason, ...] = NEW_PERMIT_ORDER) -> Refusal | None:
    if not refusals:
        return None
    return min(refusals, key=lambda r: order.index(r.reason))


# --- at the ID card (kiosk side) ------------------------------------------------------


def id_card_refusals(card: Identity, today: date, pack: PolicyPack) -> list[Refusal]:
    """Every check that fails at the ID card, in the order of RULES.md."""
    out: list[Refusal] = []
    if card.card_type is not CardType.CITIZEN:  # SH-PMT-6
        out.append(Refusal(Reason.CARD_TYPE_UNSUPPORTED))
        return out  # the remaining checks read citizen fields
    sex = card.sex.value if card.sex is not None else None
    if not idnumber.is_valid(card.id_number, birth=card.birth, sex=sex):
        out.append(Refusal(Reason.ID_NUMBER_INVALID))
    if card.valid_to is not None and today > card.valid_to:  # valid through its "valid to" day
        out.append(Refusal(Reason.ID_CARD_EXPIRED))
    if is_local_hukou(card.address, pack):  # SH-PMT-1
        out.append(Refusal(Reason.LOCAL_HUKOU))
    birth = card.birth or idnumber.birth_of(card.id_number)
    if birth is not None and age_on(birth, today) < pack.min_age:  # SH-AGE-1
        out.append(Refusal(Reason.UNDER_16))
    return out


def is_local_hukou(address: str, pack: PolicyPack) -> bool:
    return address.strip().startswith(pack.local_address_prefixes)


def is_large_text(birth: date | None, today: date, pack: PolicyPack) -> bool:
    """SH-AGE-2: a resident of 65 or over is served in large-text mode."""
    return birth is not None and age_on(birth, today) >= pack.large_text_age


# --- against the records (backend side; the kiosk adds ADDRESS_CHANGED from the answer) ---


def registration_eligible_on(reg: Registration, pack: PolicyPack) -> date:
    return add_months(reg.declared, pack.registration_wait_months)


def registration_expired(reg: Registration, today: date, pack: PolicyPack) -> bool:
    """SH-REG-7: valid for one year, expired from add_months(declared, 12) on."""
    return today >= add_months(reg.declared, pack.registration_valid_months)


def holder_matches(card: Holder, record: Holder) -> bool:
    return (
        card.name == record.name
        and card.sex == record.sex
        and card.nation == record.nation
        and card.birth == record.birth
        and card.id_number == record.id_number
    )


def record_refusals(
    card: Holder,
    registration: Registration | None,
    permit: Permit | None,
    today: date,
    pack: PolicyPack,
    lives_at_registered_address: bool | None = None,
) -> list[Refusal]:
    """The record checks for a new permit (SH-REG-7, SH-PMT-3, SH-PMT-7).

    ADDRESS_CHANGED is only known from the resident's answer; None means not asked yet.
    """
    out: list[Refusal] = []
    if registration is None:
        out.append(Refusal(Reason.NO_REGISTRATION))
    else:
        if registration_expired(registration, today, pack):
            out.append(Refusal(Reason.REG_EXPIRED))
        eligible = registration_eligible_on(registration, pack)
        if today < eligible:
            out.append(Refusal(Reason.REG_TOO_RECENT, available_on=eligible))
        if lives_at_registered_address is False:
            out.append(Refusal(Reason.ADDRESS_CHANGED))
        if not holder_matches(card, registration.holder):
            out.append(Refusal(Reason.INFO_MISMATCH))
    if permit is not None:
        if permit.status is PermitStatus.CANCELLED:
            out.append(Refusal(Reason.PERMIT_CANCELLED))
        else:
            out.append(Refusal(Reason.PERMIT_EXISTS))
    return out


def new_permit_validity(issued: date, pack: PolicyPack) -> tuple[date, date]:
    """A new permit issued on day D is valid from D through add_months(D, 12)."""
    return issued, add_months(issued, pack.permit_valid_months)


def grant_disagreement(issued: date, valid_from: date, valid_until: date, today: date,
                       pack: PolicyPack) -> str | None:
    """The kiosk's own check of an approval (SH-PMT-3, the date conventions): a new permit issued
    today runs from today to add_months(today, permit_valid_months). A fixed code when it does not."""
    if issued != today or valid_from != today:
        return "issue_date"
    if valid_until != new_permit_validity(today, pack)[1]:
        return "validity"
    return None
