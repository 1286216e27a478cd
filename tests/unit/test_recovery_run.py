"""Recovery carried out by the real procedure (kiosk/recovery_run.py) on a real SQLite journal:
every reachable unfinished row, with the card inside, at the slot or gone, ends resolved with
every invariant held. A card taken while recovery retracts it is the resident's (bug 2), a
retract that fails blocks (bug 3), and the settler sends an unanswered void again (bug 5).
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest

from devices.events import PrinterError, PrinterOp, PrinterResult
from kiosk import backend as bk
from kiosk.commands import BackendCommand, BackendOp, Outcome, PrinterCommand, Progress
from kiosk.journal import Final, Journal, JournalRow, Kind, Step, StepStatus
from kiosk.logevents import EventLog
from kiosk.recovery import CardPlace, PrinterFacts
from kiosk.recovery_run import RecoveryRun
from kiosk.settle import Settler
from tests.unit.test_recovery import T0, reachable

# tmpfs where there is one: thousands of synchronous=FULL commits stay fast.
SHM = Path("/dev/shm") if Path("/dev/shm").is_dir() else None


def replay(journal: Journal, row: JournalRow) -> int:
    """The same history, written through the journal's own API."""
    if row.kind is Kind.NEW_PERMIT:
        rid = journal.begin_issuance(row.request_id, row.permit_number)
    else:
        rid = journal.begin_rewrite(row.request_id, row.permit_number, "04AA", date(2026, 12, 10),
                                    date(2027, 12, 10))
    for m in row.marks[1:]:
        if m.status is StepStatus.STARTED:
            journal.step_started(rid, m.step)
        else:
            journal.step_done(rid, m.step)
    return rid


class Printer:
    """The printer's sensors as recovery sees them, and its answers."""

    def __init__(self, place: CardPlace, retract_error: PrinterError | None = None) -> None:
        self.place = place
        self.retract_error = retract_error

    def facts(self) -> PrinterFacts:
        return PrinterFacts(self.place)


def drive(run: RecoveryRun, printer: Printer, *, resident_takes: bool = True, snatch: bool = False) -> Progress:
    """Carries commands out until recovery ends; returns the last progress."""
    p = run.start()
    for _ in range(50):
        if Outcome.CLOSED in p.outcomes or Outcome.STUCK in p.outcomes:
            return p
        if not p.commands:
            if Outcome.PRESENTED in p.outcomes:
                if resident_takes:
                    printer.place = CardPlace.NONE
                    p = run.card_taken()
                else:
                    p = run.take_timed_out()
                continue
            raise AssertionError(f"recovery stalled: {p}")
        cmd = p.commands[0]
        if isinstance(cmd, PrinterCommand) and cmd.op is PrinterOp.RETRACT:
            if snatch and printer.place is CardPlace.AT_SLOT:
                printer.place = CardPlace.NONE  # the resident is faster than the retract
                run.card_taken()
                p = run.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD))
                continue
            if printer.retract_error is not None:
                p = run.printer_result(PrinterResult(PrinterOp.RETRACT, False, printer.retract_error))
                continue
            printer.place = CardPlace.NONE
            p = run.printer_result(PrinterResult(PrinterOp.RETRACT, True))
        elif isinstance(cmd, PrinterCommand) and cmd.op is PrinterOp.PRESENT:
            printer.place = CardPlace.AT_SLOT
            p = run.printer_result(PrinterResult(PrinterOp.PRESENT, True))
        else:
            assert isinstance(cmd, BackendCommand)
            answer = {BackendOp.CONFIRM: bk.Confirmed(cmd.permit_number),
                      BackendOp.VOID: bk.Voided(cmd.permit_number),
                      BackendOp.REWRITE_CONFIRM: bk.Rewritten(cmd.permit_number, date(2026, 12, 10),
                                                              date(2027, 12, 10))}[cmd.op]
            p = run.backend_result(cmd.op, answer)
    raise AssertionError("recovery did not end")


def invariants(row: JournalRow) -> None:
    assert row.final is not None, f"row left unfinished at {row.step} {row.step_status}"
    assert row.completed(Step.CONFIRMED) != row.completed(Step.VOIDED), "confirmed xor voided"
    if row.kind is Kind.NEW_PERMIT:
        assert (row.final is Final.ISSUED) == row.completed(Step.TAKEN)
    else:
        assert row.final in (Final.RETURNED, Final.RETAINED)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_reachable_row_is_resolved_by_the_real_procedure(kind: Kind) -> None:
    rows = reachable(kind)
    ran = 0
    with tempfile.TemporaryDirectory(dir=SHM) as tmp:
        for i, row in enumerate(rows):
            for place in CardPlace:
                # Only a row whose card may be in the machine can have it at the slot or inside.
                if place is not CardPlace.NONE and not row.card_in_play:
                    continue
                journal = Journal(Path(tmp) / f"j{i}-{place}.sqlite", now=lambda: T0)
                try:
                    rid = replay(journal, row)
                    printer = Printer(place)
                    p = drive(RecoveryRun(journal, printer.facts, EventLog()), printer)
                    assert Outcome.CLOSED in p.outcomes
                    invariants(journal.get(rid))
                    ran += 1
                finally:
                    journal.close()
    assert ran > 150


def presented_row(journal: Journal) -> int:
    rid = journal.begin_issuance("s9", "SH2026000009")
    for step in (Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED):
        journal.step_started(rid, step)
        journal.step_done(rid, step)
    journal.step_started(rid, Step.PRESENTED)
    journal.step_done(rid, Step.PRESENTED)
    return rid


def test_a_card_taken_while_recovery_retracts_it_is_confirmed(tmp_path: Path) -> None:
    """Bug 2, at boot: the card sits at the slot, recovery retracts, the resident takes it."""
    journal = Journal(tmp_path / "j.sqlite", now=lambda: T0)
    rid = presented_row(journal)
    printer = Printer(CardPlace.AT_SLOT)
    p = drive(RecoveryRun(journal, printer.facts, EventLog()), printer, snatch=True)
    assert Outcome.CLOSED in p.outcomes
    row = journal.get(rid)
    assert row.final is Final.ISSUED and row.completed(Step.TAKEN) and not row.began(Step.VOIDED)
    journal.close()


@pytest.mark.parametrize("error", [PrinterError.JAM, PrinterError.BIN_FULL])
def test_a_retract_that_fails_blocks_recovery_and_keeps_the_row(tmp_path: Path, error: PrinterError) -> None:
    journal = Journal(tmp_path / "j.sqlite", now=lambda: T0)
    rid = presented_row(journal)
    printer = Printer(CardPlace.INSIDE, retract_error=error)
    run = RecoveryRun(journal, printer.facts, EventLog())
    p = drive(run, printer)
    assert Outcome.STUCK in p.outcomes and run.blocked == "retract_failed"
    row = journal.get(rid)
    assert row.final is None and row.card_in_play
    # Bug 5: the approval is not held until a technician comes: the settler voids it now.
    settler = Settler(journal, printer.facts, EventLog())
    calls = settler.due(None)
    assert [c.command.op for c in calls] == [BackendOp.VOID]
    assert settler.answered(calls[0], bk.Voided("SH2026000009"))
    row = journal.get(rid)
    assert row.completed(Step.VOIDED) and row.final is None, "the card is still inside: the row stays open"
    journal.close()


def test_the_settler_resends_an_unanswered_confirm_with_the_same_request_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", now=lambda: T0)
    rid = presented_row(journal)
    journal.step_done(rid, Step.TAKEN)
    journal.step_started(rid, Step.CONFIRMED)  # sent; the answer was lost
    settler = Settler(journal, lambda: PrinterFacts(CardPlace.NONE), EventLog())
    calls = settler.due(None)
    assert [(c.command.op, c.command.request_id) for c in calls] == [(BackendOp.CONFIRM, "s9-confirm")]
    assert settler.due(None) == [], "one call in flight per row"
    assert not settler.answered(calls[0], bk.BackendFailure(bk.FailureKind.UNREACHABLE))
    assert settler.delay == 10.0, "backoff doubles"
    again = settler.due(None)
    assert settler.answered(again[0], bk.Confirmed("SH2026000009"))
    assert journal.get(rid).final is Final.ISSUED
    assert settler.delay == 5.0 and not settler.waiting(None)
    journal.close()


def test_the_settler_leaves_the_row_of_the_card_job_under_way_alone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", now=lambda: T0)
    rid = presented_row(journal)
    journal.step_done(rid, Step.TAKEN)
    journal.step_started(rid, Step.CONFIRMED)
    settler = Settler(journal, lambda: PrinterFacts(CardPlace.NONE), EventLog())
    assert settler.due(rid) == []
    journal.close()


def test_a_stray_card_binned_at_boot_is_journaled_and_counted(tmp_path: Path) -> None:
    """A card no row and no intake accounts for (a resident's card left in a slot the kiosk never took
    in: the printer silent at insert_card) is binned with an intake of its own, so the journal counts
    the card the printer counts (issue 15). A retract that fails keeps one intake open; the next boot
    retracts again under the same intake, and the card is counted once."""
    with Journal(tmp_path / "j.sqlite", now=lambda: T0) as journal:
        printer = Printer(CardPlace.AT_SLOT, retract_error=PrinterError.COVER_OPEN)
        assert Outcome.STUCK in drive(RecoveryRun(journal, printer.facts, EventLog()), printer).outcomes
        assert [i.state.value for i in journal.open_intakes()] == ["retracting"]
        printer.retract_error = None
        assert Outcome.CLOSED in drive(RecoveryRun(journal, printer.facts, EventLog()), printer).outcomes
        counters = journal.counters()
        assert (counters["retained"], counters["intakes_open"]) == (1, 0)
