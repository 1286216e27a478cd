"""The journal's rules: pure functions on JournalRow, shared by Journal, recovery and the tests.

`advance` adds one mark (a step started or done), `record` establishes a step without doing it
now, `conclude` resolves a row with its Final; each returns the new row or raises JournalError
when the history does not allow it. Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from kiosk.journal_model import (
    LEAVING,
    OBSERVED,
    SEQUENCE,
    SIDE,
    Final,
    JournalError,
    JournalRow,
    Kind,
    Mark,
    Problem,
    Step,
    StepStatus,
)


def refuse(problem: Problem, row: JournalRow, what: str) -> JournalError:
    return JournalError(problem, f"row {row.id} ({row.kind}, at {row.step} {row.step_status}): {what}")


def _main_start_allowed(row: JournalRow, step: Step) -> bool:
    seq = SEQUENCE[row.kind]
    i = seq.index(step)
    if any(row.began(s) for s in seq[i + 1:]):
        return False
    if not row.completed(seq[i - 1]):
        return False
    if step is Step.CONFIRMED:
        # A card taken during a retract (the resident was faster) is still confirmed; a void
        # already sent is never followed by a confirmation.
        return not row.began(Step.VOIDED)
    # Once the abort path began, the main sequence is closed.
    return not any(row.began(s) for s in SIDE[row.kind])


def _side_start_allowed(row: JournalRow, step: Step) -> bool:
    # The step that hands the resident a new or rewritten card, and the one that puts it at the slot.
    handed, at_slot = ((Step.TAKEN, Step.PRESENTED) if row.kind is Kind.NEW_PERMIT
                       else (Step.RETURNED, Step.RETURNED))
    if step is Step.VOIDED:
        # Never once that card reached the resident or a confirmation went out, and never
        # while it sits at the slot within the resident's reach: retract it first.
        if row.completed(handed) or row.began(Step.CONFIRMED):
            return False
        return not (row.began(at_slot) and not row.began(Step.RETRACTED))
    if any(row.completed(s) for s in LEAVING[row.kind]):
        return False  # the card is gone: nothing left to retract or return
    if step is Step.RETRACTED:
        return row.kind is Kind.REWRITE or row.began(Step.PICKED)
    # RETURNED_UNCHANGED: only a card whose chip was never touched goes back unchanged.
    return not row.began(Step.CHIP_UPDATED) and not row.began(Step.RETRACTED)


def _check_start(row: JournalRow, step: Step) -> None:
    if step in OBSERVED or step is SEQUENCE[row.kind][0]:
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} is recorded, never started")
    if row.completed(step):
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} is already done")
    allowed = _main_start_allowed(row, step) if step in SEQUENCE[row.kind] else _side_start_allowed(row, step)
    if not allowed:
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} cannot start now")


def _check_done(row: JournalRow, step: Step) -> None:
    if row.completed(step):
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} is already done")
    if step is Step.TAKEN:
        if not row.began(Step.PRESENTED) or row.began(Step.VOIDED) or row.completed(Step.RETRACTED):
            raise refuse(Problem.OUT_OF_ORDER, row, "taken needs a presented card and no void")
        return
    if not row.began(step):
        raise refuse(Problem.NOT_STARTED, row, f"{step} was never started")
    last_start = max(i for i, m in enumerate(row.marks) if m.step is step)
    later = {m.step for m in row.marks[last_start + 1:]}
    # A card taken from the slot while its retract was starting: the resident won the race.
    # A void sent meanwhile is harmless only for a card going back unchanged.
    may_overlap = {Step.RETRACTED, Step.VOIDED} if step is Step.RETURNED_UNCHANGED else {Step.RETRACTED}
    race = step in LEAVING[row.kind] and later <= may_overlap
    if later and not race:
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} cannot finish after {sorted(later)} began")


def advance(row: JournalRow, step: Step, status: StepStatus, at: datetime) -> JournalRow:
    """The row after one more mark, or JournalError when the mark is impossible."""
    if not isinstance(step, Step) or not isinstance(status, StepStatus):
        raise JournalError(Problem.BAD_VALUE, "step and status must be Step and StepStatus")
    if row.final is not None:
        raise refuse(Problem.FINISHED, row, f"finished as {row.final}")
    if step not in SEQUENCE[row.kind] and step not in SIDE[row.kind]:
        raise refuse(Problem.OUT_OF_ORDER, row, f"{step} is no step of a {row.kind}")
    if status is StepStatus.STARTED:
        _check_start(row, step)
    else:
        _check_done(row, step)
    marks = (*row.marks, Mark(step, status, at))
    attempts = max(1, sum(1 for m in marks if m.step is step and m.status is StepStatus.STARTED))
    return replace(row, step=step, step_status=status, updated=at, attempts=attempts, marks=marks)


def record(row: JournalRow, step: Step, at: datetime) -> JournalRow:
    """A step established without doing it now (the card is gone; the backend already answered)."""
    if step in OBSERVED:
        return advance(row, step, StepStatus.DONE, at)
    if row.open(step):
        try:
            return advance(row, step, StepStatus.DONE, at)
        except JournalError:
            pass  # other steps began since: journal it again, started then done
    return advance(advance(row, step, StepStatus.STARTED, at), step, StepStatus.DONE, at)


def conclude(row: JournalRow, final: Final, at: datetime) -> JournalRow:
    """The row resolved as `final`, or JournalError when its steps do not support that end."""
    if not isinstance(final, Final):
        raise JournalError(Problem.BAD_VALUE, "final must be a Final")
    if row.final is not None:
        raise refuse(Problem.FINISHED, row, f"already finished as {row.final}")
    c = row.completed
    if row.kind is Kind.NEW_PERMIT:
        ok = {
            Final.ISSUED: c(Step.CONFIRMED),
            # Only when no card certainly left the hopper; a card that did ends retained.
            Final.VOIDED: c(Step.VOIDED) and not c(Step.PICKED) and not row.began(Step.RETRACTED),
            Final.RETAINED: c(Step.VOIDED) and not c(Step.TAKEN) and (c(Step.PICKED) or row.began(Step.RETRACTED)),
            Final.RETURNED: False,
        }[final]
    else:
        ok = {
            Final.RETURNED: (c(Step.RETURNED) and c(Step.CONFIRMED)) or (c(Step.RETURNED_UNCHANGED) and c(Step.VOIDED)),
            Final.RETAINED: c(Step.VOIDED) and not c(Step.RETURNED) and not c(Step.RETURNED_UNCHANGED),
            Final.ISSUED: False,
            Final.VOIDED: False,  # a rewrite always had the resident's card: it ends returned or retained
        }[final]
    if not ok:
        raise refuse(Problem.BAD_FINAL, row, f"cannot end {final}")
    return replace(row, final=final, updated=at)
