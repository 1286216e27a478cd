"""The issuance journal's row model: kinds, steps, finals, the main and side sequences, the row.

A `JournalRow` is a value: the whole history of one issuance or card-face rewrite as marks
(step, started or done, when). The rules of which mark may follow which are in
kiosk/journal_rules.py; persistence in kiosk/journal.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Kind(StrEnum):
    NEW_PERMIT = "new_permit"
    REWRITE = "rewrite"


class Step(StrEnum):
    # new permit
    APPROVED = "approved"  # the backend approved; the row is created at this step, done
    PICKED = "picked"  # blank card fed from the hopper
    PRINTED = "printed"
    ENCODED = "encoded"
    VERIFIED = "verified"
    PRESENTED = "presented"  # card at the front slot, held for the resident
    TAKEN = "taken"  # the card left the slot: observed, never started
    # card-face rewrite
    TAKEN_IN = "taken_in"  # the resident's card is inside and its chip was read; the row is created here, done
    CHIP_UPDATED = "chip_updated"
    FACE_REWRITTEN = "face_rewritten"
    RETURNED = "returned"  # started: the rewritten card goes to the slot; done: the resident took it
    RETURNED_UNCHANGED = "returned_unchanged"  # the same, for a card whose chip was never touched
    # both
    RETRACTED = "retracted"  # card to the reject bin
    CONFIRMED = "confirmed"  # backend confirmation: started = request sent, done = answered
    VOIDED = "voided"  # backend void: started = request sent, done = answered


class StepStatus(StrEnum):
    STARTED = "started"
    DONE = "done"


class Final(StrEnum):
    ISSUED = "issued"  # new permit: the resident took the card and the backend confirmed it
    VOIDED = "voided"  # new permit: no card left the hopper; the approval is voided
    RETAINED = "retained"  # the card did not reach the resident: reject bin (or a technician's hands)
    RETURNED = "returned"  # rewrite: the resident has the card back, rewritten or unchanged


class ApplicationState(StrEnum):
    """A new permit's application to the backend (journal_application), by its request id."""

    SENT = "sent"  # journaled before the request went out; no answer recorded yet
    ANSWERED = "answered"  # refused, or approved and the issuance row began (same transaction)
    VOIDED = "voided"  # the reply was lost and the application was withdrawn by its request id


class IntakeState(StrEnum):
    """A resident's card taken in for a rewrite, before its row begins (journal_intake, by request id).

    The card is in the machine from the take-in, but the row can begin only once its chip was read
    and the decision is a rewrite; until then the intake accounts for it (issue 15, the fault matrix)."""

    TAKING_IN = "taking_in"  # journaled before the take-in goes out: the card may be inside from now on
    RETURNING = "returning"  # sent back to the slot before any row began
    RETRACTING = "retracting"  # a retract to the bin began (with the bin's count before it)
    ROW = "row"  # the rewrite's row began and accounts for the card (the same transaction): final
    RETURNED = "returned"  # the resident has it (taken back, or it never came in): final
    RETAINED = "retained"  # in the reject bin: final


INTAKE_OPEN: frozenset[IntakeState] = frozenset({IntakeState.TAKING_IN, IntakeState.RETURNING,
                                                 IntakeState.RETRACTING})


@dataclass(frozen=True)
class Intake:
    request_id: str
    state: IntakeState
    bin_before: int | None


class Problem(StrEnum):
    OUT_OF_ORDER = "out_of_order"
    NOT_STARTED = "not_started"
    FINISHED = "finished"
    BAD_FINAL = "bad_final"
    CARD_IN_PLAY = "card_in_play"  # another row's card is still unaccounted for
    DUPLICATE = "duplicate"
    UNKNOWN_ROW = "unknown_row"
    BAD_VALUE = "bad_value"
    SCHEMA = "schema"
    STORAGE = "storage"  # SQLite could not write: disk full, read-only or an I/O error (issue 15)


class JournalError(Exception):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


# The main sequence of each kind; the first step is recorded done when the row begins.
SEQUENCE: dict[Kind, tuple[Step, ...]] = {
    Kind.NEW_PERMIT: (Step.APPROVED, Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED,
                      Step.PRESENTED, Step.TAKEN, Step.CONFIRMED),
    Kind.REWRITE: (Step.TAKEN_IN, Step.CHIP_UPDATED, Step.FACE_REWRITTEN, Step.RETURNED, Step.CONFIRMED),
}
# Steps off the main sequence: the ways an issuance or rewrite is abandoned.
SIDE: dict[Kind, tuple[Step, ...]] = {
    Kind.NEW_PERMIT: (Step.RETRACTED, Step.VOIDED),
    Kind.REWRITE: (Step.RETURNED_UNCHANGED, Step.RETRACTED, Step.VOIDED),
}
# Steps the kiosk observes rather than commands: recorded done, never started.
OBSERVED: frozenset[Step] = frozenset({Step.TAKEN})
# The step by which the card leaves the machine towards the resident, per kind.
LEAVING: dict[Kind, frozenset[Step]] = {
    Kind.NEW_PERMIT: frozenset({Step.TAKEN}),
    Kind.REWRITE: frozenset({Step.RETURNED, Step.RETURNED_UNCHANGED}),
}


@dataclass(frozen=True)
class Mark:
    step: Step
    status: StepStatus
    at: datetime


@dataclass(frozen=True)
class JournalRow:
    id: int
    kind: Kind
    request_id: str
    permit_number: str
    card_serial: str | None
    step: Step  # the latest mark
    step_status: StepStatus
    created: datetime
    updated: datetime
    final: Final | None
    attempts: int  # how many times the latest step was started (retries after a failure or a reboot)
    marks: tuple[Mark, ...]  # the whole history, oldest first
    valid_from: date | None = None  # a rewrite's new validity
    valid_until: date | None = None
    # The reject bin's count when a retract of the card at the slot began (None: not known). A retract
    # the printer never answered leaves the card's fate open; the bin's count at boot settles it.
    bin_before: int | None = None

    def began(self, step: Step) -> bool:
        return any(m.step is step for m in self.marks)

    def completed(self, step: Step) -> bool:
        return any(m.step is step and m.status is StepStatus.DONE for m in self.marks)

    def open(self, step: Step) -> bool:
        """Began and never finished: the step was cut short (failure, power cut) or is under way."""
        return self.began(step) and not self.completed(step)

    @property
    def finished(self) -> bool:
        return self.final is not None

    @property
    def card_in_play(self) -> bool:
        """A card of this row may be in the machine: it has neither reached the resident nor the bin."""
        if self.final is not None:
            return False
        if self.completed(Step.RETRACTED) or any(self.completed(s) for s in LEAVING[self.kind]):
            return False
        # A rewrite's card is inside from the row's first step; a new permit's from the pick.
        return self.kind is Kind.REWRITE or self.began(Step.PICKED)
