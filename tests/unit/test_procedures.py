"""The card procedures without ports: results in, commands and outcomes out, journal on disk.

Issuance (kiosk/issuance.py) and the card-face rewrite (kiosk/rewriting.py) are fed device
results by hand; what they ask for next and what they journal is checked against a real
SQLite journal. The faults are those of issue 8: a stale "present" (bug 4), a card taken
during a retract (bug 2), a retract that fails (bug 3), a chip that never appears and a card
pulled mid-write (bug 1), a void that must go out at once (bug 5).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from devices.events import ChipError, ChipOp, ChipResult, PrinterError, PrinterOp, PrinterResult
from devices.permit_profile import CardKind, ChipCardInfo, PermitChipData, PermitContents, PermitValidity
from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition, Supply, SupplyLevel
from kiosk import backend as bk
from kiosk.cardface import AREAS
from kiosk.commands import BackendCommand, BackendOp, EncoderCommand, Outcome, PrinterCommand, Progress
from kiosk.endorsement import Rewrite
from kiosk.events import FaceRendered
from kiosk.issuance import Issuance
from kiosk.journal import Final, Journal, Step
from kiosk.logevents import EventLog
from kiosk.recovery import CardPlace, LastBinCount, PrinterFacts
from kiosk.recovery_run import RecoveryRun
from kiosk.rewriting import READ_PHASE, REWRITE_PHASE, VERIFY_PHASE, CardRewrite, ReadProblem

T0 = datetime(2026, 11, 22, 9, 0)
CONTENTS = PermitContents("SH2026000001", "张伟", "M", "01", date(1990, 3, 7), "340102199003070010",
                          "安徽省合肥市", "上海市长宁区", PermitValidity(date(2026, 11, 22), date(2026, 11, 22),
                                                                          date(2027, 11, 22), 0), b"")
SERIAL = "00A1B2C3D4E5F601"


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite", now=lambda: T0)
    yield j
    j.close()


def ops(p: Progress) -> list[object]:
    return [c.op for c in p.commands]


def ok(op: PrinterOp) -> PrinterResult:
    return PrinterResult(op, True)


def chip(serial: str = SERIAL, valid: tuple[date, date] = (date(2026, 11, 22), date(2027, 11, 22))) -> PermitChipData:
    v = PermitValidity(date(2025, 12, 10), valid[0], valid[1], 1)
    from dataclasses import replace

    return PermitChipData(ChipCardInfo(serial, 1, CardKind.PERMIT), replace(CONTENTS, validity=v), 1)


def face() -> FaceRendered:
    return FaceRendered("s1", b"\0" * 8, 8, 8, {"name": "x"}, CONTENTS)


def presented(journal: Journal, insertions: int = 0) -> tuple[Issuance, Progress]:
    """An issuance driven to the slot; `insertions`: the encoder's count before it began."""
    iss = presenting(journal, insertions)
    return iss, iss.printer_result(ok(PrinterOp.PRESENT))


def presenting(journal: Journal, insertions: int = 0, bins: LastBinCount | None = None) -> Issuance:
    """An issuance whose PRESENT has gone out, unanswered yet."""
    iss = Issuance.begin("SH2026000001", "s1", journal, insertions, bins=bins)
    assert ops(iss.advance()) == [PrinterOp.FEED]
    assert ops(iss.printer_result(ok(PrinterOp.FEED))) == []  # the face is still rendering
    assert ops(iss.face_ready(face())) == [PrinterOp.TICKET]
    assert ops(iss.printer_result(ok(PrinterOp.TICKET))) == [PrinterOp.PRINT]
    assert ops(iss.printer_result(ok(PrinterOp.PRINT))) == [PrinterOp.TO_ENCODER]
    assert ops(iss.printer_result(ok(PrinterOp.TO_ENCODER))) == []
    assert iss.awaiting_chip
    p = iss.chip_arrived(insertions + 1)
    assert ops(p) == [ChipOp.PERSONALISE]
    p = iss.chip_result(ChipResult(ChipOp.PERSONALISE, True, data=chip()))
    assert ops(p) == [ChipOp.READ]
    p = iss.chip_result(ChipResult(ChipOp.READ, True, data=PermitChipData(
        ChipCardInfo(SERIAL, 1, CardKind.PERMIT), CONTENTS, 1)))
    assert ops(p) == [PrinterOp.PRESENT]
    return iss


def test_an_issuance_runs_to_the_slot_and_is_confirmed_when_taken(journal: Journal):
    iss, p = presented(journal)
    assert p.outcomes == (Outcome.PRESENTED,)
    p = iss.card_taken()
    assert Outcome.TAKEN in p.outcomes and ops(p) == [BackendOp.CONFIRM]
    cmd = p.commands[0]
    assert isinstance(cmd, BackendCommand) and cmd.request_id == "s1-confirm" and cmd.card_serial == SERIAL
    assert iss.backend_result(BackendOp.CONFIRM, bk.Confirmed("SH2026000001")).outcomes == (Outcome.CLOSED,)
    row = journal.rows()[0]
    assert row.final is Final.ISSUED and row.completed(Step.TAKEN) and row.card_serial == SERIAL


def test_a_stale_present_from_the_previous_card_does_not_start_personalisation(journal: Journal):
    """Bug 4: the encoder had seen 7 insertions before this card moved in; only an 8th counts."""
    iss = Issuance.begin("SH2026000001", "s1", journal, 7)
    iss.advance()
    iss.printer_result(ok(PrinterOp.FEED))
    iss.face_ready(face())
    iss.printer_result(ok(PrinterOp.TICKET))
    iss.printer_result(ok(PrinterOp.PRINT))
    assert ops(iss.printer_result(ok(PrinterOp.TO_ENCODER))) == []
    assert ops(iss.chip_arrived(7)) == [], "a 'present' left from the previous card started personalisation"
    assert iss.awaiting_chip
    assert ops(iss.chip_arrived(8)) == [ChipOp.PERSONALISE]


def test_a_chip_that_never_appears_retracts_the_card_and_voids_after_the_retract(journal: Journal):
    iss = Issuance.begin("SH2026000001", "s1", journal, 0)
    iss.advance()
    iss.printer_result(ok(PrinterOp.FEED))
    iss.face_ready(face())
    iss.printer_result(ok(PrinterOp.TICKET))
    iss.printer_result(ok(PrinterOp.PRINT))
    iss.printer_result(ok(PrinterOp.TO_ENCODER))
    p = iss.operation_timed_out()
    assert Outcome.FAILED in p.outcomes and (p.device, p.error) == ("permit_card", "no_card")
    assert ops(p) == [PrinterOp.RETRACT], "the void goes out once the retract has resolved"
    p = iss.printer_result(ok(PrinterOp.RETRACT))
    assert Outcome.RETRACTED in p.outcomes and ops(p) == [BackendOp.VOID]
    assert iss.backend_result(BackendOp.VOID, bk.Voided("SH2026000001")).outcomes == (Outcome.CLOSED,)
    assert journal.rows()[0].final is Final.RETAINED


def test_a_card_taken_during_the_retract_is_the_residents_and_is_confirmed(journal: Journal):
    """Bug 2: nobody took it in time, the kiosk retracts, the resident snatches it meanwhile."""
    iss, _ = presented(journal)
    assert ops(iss.not_taken()) == [PrinterOp.RETRACT]
    p = iss.card_taken()
    assert Outcome.TAKEN in p.outcomes and ops(p) == [BackendOp.CONFIRM]
    assert iss.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD)).commands == ()
    iss.backend_result(BackendOp.CONFIRM, bk.Confirmed("SH2026000001"))
    row = journal.rows()[0]
    assert row.final is Final.ISSUED and not row.began(Step.VOIDED)


def test_a_printer_that_does_not_answer_is_not_told_to_retract_and_recovery_decides(journal: Journal):
    """Issue 15, fault matrix new_permit/printer/vanish@take_card: the printer's port went while the
    card waited at the slot and the resident took it. No retract is journaled (none could go out)
    and nothing is voided; the row stays at `presented`, so the next boot finds the slot empty and
    books the card taken and confirms it, or finds it there and retracts it."""
    from kiosk.recovery import BackendFacts, BackendStatus, CardPlace, PrinterFacts, plan

    iss, _ = presented(journal)
    p = iss.not_taken(printer_answers=False)
    assert Outcome.STUCK in p.outcomes and p.commands == () and iss.over
    row = journal.unfinished()[0]
    assert not row.began(Step.RETRACTED) and not row.began(Step.VOIDED)
    gone = plan(row, PrinterFacts(CardPlace.NONE), BackendFacts(BackendStatus.PENDING))
    assert gone.rule == "presented_card_gone" and gone.actions[-1].final is Final.ISSUED
    there = plan(row, PrinterFacts(CardPlace.AT_SLOT), BackendFacts(BackendStatus.PENDING))
    assert there.rule == "card_inside" and there.actions[-1].final is Final.RETAINED


def test_a_retract_that_finds_no_card_at_the_slot_counts_as_taken(journal: Journal):
    iss, _ = presented(journal)
    iss.not_taken()
    p = iss.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD))
    assert Outcome.TAKEN in p.outcomes and ops(p) == [BackendOp.CONFIRM]


@pytest.mark.parametrize("error", [PrinterError.NO_DEVICE, PrinterError.COMMUNICATION])
def test_a_present_cut_off_journals_the_retract_with_the_last_bin_count_and_the_boot_confirms_a_taken_card(
        journal: Journal, error: PrinterError):
    """Issue 15, the new permit's twin of the rewrite's vanish@return_card: the printer's port went
    as the PRESENT went out; the card reached the slot and the resident took it. The kiosk heard no
    answer, so it retracted, and the retract went unanswered too. Before the fix the card counted as
    inside: the retract journaled no bin count and the approval was voided at once, so the boot
    (no card, bin unchanged) booked retained and voided a permit the resident holds. Now nothing is
    voided, the last count reported (3) is journaled, and the boot books it taken: confirmed."""
    status = [DeviceStatus(DeviceKind.PRINTER, DeviceState.ONLINE, MediaPosition.NONE,
                           (Supply("reject_bin", SupplyLevel.EMPTY, 3, 50),))]
    iss = presenting(journal, bins=LastBinCount(lambda: status[0]))
    status[0] = DeviceStatus(DeviceKind.PRINTER, DeviceState.NO_DEVICE, detail="port_gone")
    p = iss.printer_result(PrinterResult(PrinterOp.PRESENT, False, error))
    assert Outcome.FAILED in p.outcomes and ops(p) == [PrinterOp.RETRACT]
    p = iss.printer_result(PrinterResult(PrinterOp.RETRACT, False, error))
    assert Outcome.STUCK in p.outcomes and p.commands == (), "nothing is voided while the card may be in a hand"
    [row] = journal.unfinished()
    assert row.bin_before == 3 and not row.began(Step.VOIDED)
    boot = RecoveryRun(journal, lambda: PrinterFacts(CardPlace.NONE, 3), EventLog())
    assert [c.op for c in boot.start().commands] == [BackendOp.CONFIRM]
    boot.backend_result(BackendOp.CONFIRM, bk.Confirmed("SH2026000001"))
    assert journal.rows()[0].final is Final.ISSUED and journal.counters()["retained"] == 0


def test_a_present_cut_off_with_the_card_still_inside_is_retained_by_the_boot(journal: Journal):
    """The same cut-off PRESENT, but it never reached the printer: the boot finds the card inside
    (the bin unchanged) and retracts it; retained and voided, as before."""
    iss = presenting(journal, bins=lambda: 3)
    iss.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.NO_DEVICE))
    iss.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_DEVICE))
    [row] = journal.unfinished()
    from kiosk.recovery import plan

    assert plan(row, PrinterFacts(CardPlace.INSIDE, 3), None).actions[-1].final is Final.RETAINED


def test_a_retract_after_a_failure_journals_the_bins_count(journal: Journal):
    """A jam at the ticket: the retract's mark carries the bin's count like a timeout's does."""
    iss = Issuance.begin("SH2026000001", "s1", journal, 0, bins=lambda: 5)
    iss.advance()
    iss.printer_result(ok(PrinterOp.FEED))
    iss.face_ready(face())
    assert ops(iss.printer_result(PrinterResult(PrinterOp.TICKET, False, PrinterError.JAM))) == [PrinterOp.RETRACT]
    assert journal.unfinished()[0].bin_before == 5


@pytest.mark.parametrize("error", [PrinterError.BIN_FULL, PrinterError.JAM])
def test_a_failed_retract_keeps_the_row_open_and_still_voids(journal: Journal, error: PrinterError):
    """Bugs 3 and 5: the card stays inside for a technician; the approval is voided at once."""
    iss = Issuance.begin("SH2026000001", "s1", journal, 0)
    iss.advance()
    iss.printer_result(ok(PrinterOp.FEED))
    iss.face_ready(face())
    p = iss.printer_result(PrinterResult(PrinterOp.TICKET, False, PrinterError.JAM))
    assert ops(p) == [PrinterOp.RETRACT]
    p = iss.printer_result(PrinterResult(PrinterOp.RETRACT, False, error))
    assert Outcome.STUCK in p.outcomes and ops(p) == [BackendOp.VOID]
    iss.backend_result(BackendOp.VOID, bk.Voided("SH2026000001"))
    row = journal.rows()[0]
    assert row.final is None and row.completed(Step.VOIDED) and row.card_in_play
    assert iss.over


def test_an_unanswered_void_leaves_the_row_open_for_the_settler(journal: Journal):
    iss = Issuance.begin("SH2026000001", "s1", journal, 0)
    iss.advance()
    p = iss.printer_result(PrinterResult(PrinterOp.FEED, False, PrinterError.HOPPER_EMPTY))
    assert ops(p) == [BackendOp.VOID]  # no card left the hopper: nothing to retract
    iss.backend_result(BackendOp.VOID, bk.BackendFailure(bk.FailureKind.UNREACHABLE))
    row = journal.rows()[0]
    assert row.final is None and row.open(Step.VOIDED) and iss.over


# --- the card-face rewrite -------------------------------------------------------------------


def read_in(journal: Journal) -> CardRewrite:
    rw = CardRewrite("s2", journal, insertions=3)
    assert ops(rw.start(READ_PHASE)) == [PrinterOp.TAKE_IN]
    assert ops(rw.printer_result(ok(PrinterOp.TAKE_IN))) == [PrinterOp.TO_ENCODER]
    assert ops(rw.printer_result(ok(PrinterOp.TO_ENCODER))) == []
    assert ops(rw.chip_arrived(3)) == [], "a stale present"
    assert ops(rw.chip_arrived(4)) == [ChipOp.READ]
    return rw


NEW = Rewrite(date(2026, 12, 10), date(2027, 12, 10))


def rewriting(journal: Journal) -> CardRewrite:
    rw = read_in(journal)
    old = chip(valid=(date(2025, 12, 10), date(2026, 12, 10)))
    assert rw.chip_result(ChipResult(ChipOp.READ, True, data=old)).outcomes == (Outcome.PHASE_DONE,)
    p = rw.begin_rewrite(NEW, AREAS["validity"], b"\0", {"validity": NEW.printed})
    assert ops(p) == [ChipOp.WRITE_VALIDITY]
    cmd = p.commands[0]
    assert isinstance(cmd, EncoderCommand) and cmd.endorsement_count == 2
    return rw


def test_a_rewrite_runs_through_and_is_confirmed_when_taken(journal: Journal):
    rw = rewriting(journal)
    written = PermitValidity(date(2025, 12, 10), NEW.valid_from, NEW.valid_until, 2)
    assert ops(rw.chip_result(ChipResult(ChipOp.WRITE_VALIDITY, True, data=written))) == [PrinterOp.ERASE]
    assert ops(rw.printer_result(ok(PrinterOp.ERASE))) == [PrinterOp.TICKET]
    assert ops(rw.printer_result(ok(PrinterOp.TICKET))) == [PrinterOp.PRINT]
    assert rw.printer_result(ok(PrinterOp.PRINT)).outcomes == (Outcome.PHASE_DONE,)
    assert ops(rw.start(VERIFY_PHASE)) == [PrinterOp.TO_ENCODER]
    rw.printer_result(ok(PrinterOp.TO_ENCODER))
    assert ops(rw.chip_arrived(4)) == [], "the card went to the print head and back: a fresh insertion is needed"
    assert ops(rw.chip_arrived(5)) == [ChipOp.READ]
    p = rw.chip_result(ChipResult(ChipOp.READ, True, data=chip(valid=(NEW.valid_from, NEW.valid_until))))
    assert p.outcomes == (Outcome.PHASE_DONE,) and rw.rewritten
    assert ops(rw.give_back()) == [PrinterOp.PRESENT]
    rw.printer_result(ok(PrinterOp.PRESENT))
    p = rw.card_taken()
    assert Outcome.TAKEN in p.outcomes and ops(p) == [BackendOp.REWRITE_CONFIRM]
    rw.backend_result(BackendOp.REWRITE_CONFIRM, bk.Rewritten("SH2026000001", NEW.valid_from, NEW.valid_until))
    assert journal.rows()[0].final is Final.RETURNED


def test_a_chip_that_never_appears_gives_the_card_back_untouched(journal: Journal):
    """Bug 1: the operation timer ends the wait; nothing was written; the card goes back."""
    rw = CardRewrite("s2", journal, insertions=0)
    rw.start(READ_PHASE)
    rw.printer_result(ok(PrinterOp.TAKE_IN))
    rw.printer_result(ok(PrinterOp.TO_ENCODER))
    assert rw.awaiting_chip
    p = rw.operation_timed_out()
    assert Outcome.FAILED in p.outcomes and rw.read_problem is ReadProblem.UNREADABLE and not rw.retained
    assert ops(rw.give_back()) == [PrinterOp.PRESENT]
    assert rw.printer_result(ok(PrinterOp.PRESENT)).outcomes == (Outcome.PRESENTED,)
    rw.card_taken()
    assert rw.over and journal.rows() == []  # no row: the card was never touched


def test_a_card_pulled_mid_write_is_retained_and_voided_locally(journal: Journal):
    rw = rewriting(journal)
    p = rw.chip_result(ChipResult(ChipOp.WRITE_VALIDITY, False, ChipError.CARD_REMOVED))
    assert Outcome.FAILED in p.outcomes and ops(p) == [PrinterOp.RETRACT] and rw.retained
    p = rw.printer_result(ok(PrinterOp.RETRACT))
    assert Outcome.RETRACTED in p.outcomes and Outcome.CLOSED in p.outcomes
    row = journal.rows()[0]
    assert row.final is Final.RETAINED and row.completed(Step.VOIDED)


@pytest.mark.parametrize("step", ["erase", "print"])
def test_a_jam_after_the_chip_write_retains_the_card(journal: Journal, step: str):
    rw = rewriting(journal)
    written = PermitValidity(date(2025, 12, 10), NEW.valid_from, NEW.valid_until, 2)
    rw.chip_result(ChipResult(ChipOp.WRITE_VALIDITY, True, data=written))
    if step == "print":
        rw.printer_result(ok(PrinterOp.ERASE))
        rw.printer_result(ok(PrinterOp.TICKET))
    op = PrinterOp.ERASE if step == "erase" else PrinterOp.PRINT
    p = rw.printer_result(PrinterResult(op, False, PrinterError.JAM))
    assert ops(p) == [PrinterOp.RETRACT] and rw.retained
    p = rw.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.JAM))
    assert Outcome.STUCK in p.outcomes and rw.over
    assert journal.rows()[0].final is None, "a card that could not be retracted keeps its row open"


def test_a_jam_at_take_in_tries_to_give_the_card_back_then_keeps_it(journal: Journal):
    rw = CardRewrite("s2", journal)
    rw.start(READ_PHASE)
    p = rw.printer_result(PrinterResult(PrinterOp.TAKE_IN, False, PrinterError.JAM))
    assert Outcome.FAILED in p.outcomes and ops(p) == [PrinterOp.PRESENT] and not rw.retained
    p = rw.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.JAM))
    assert ops(p) == [PrinterOp.RETRACT] and rw.retained


def test_a_card_not_taken_back_is_retracted_and_kept(journal: Journal):
    rw = read_in(journal)
    rw.chip_result(ChipResult(ChipOp.READ, True, data=chip()))
    rw.give_back()
    rw.printer_result(ok(PrinterOp.PRESENT))
    assert ops(rw.not_taken()) == [PrinterOp.RETRACT]
    p = rw.printer_result(ok(PrinterOp.RETRACT))
    assert Outcome.RETRACTED in p.outcomes and rw.over


def _written_and_given_back(rw: CardRewrite) -> None:
    """A rewrite that wrote the chip, rewrote the face, verified the card and sends it to the slot."""
    written = PermitValidity(date(2025, 12, 10), NEW.valid_from, NEW.valid_until, 2)
    rw.chip_result(ChipResult(ChipOp.WRITE_VALIDITY, True, data=written))
    for op in (PrinterOp.ERASE, PrinterOp.TICKET, PrinterOp.PRINT):
        rw.printer_result(ok(op))
    rw.start(VERIFY_PHASE)
    rw.printer_result(ok(PrinterOp.TO_ENCODER))
    rw.chip_arrived(5)
    rw.chip_result(ChipResult(ChipOp.READ, True, data=chip(valid=(NEW.valid_from, NEW.valid_until))))
    assert ops(rw.give_back()) == [PrinterOp.PRESENT]


def test_a_card_not_taken_back_from_a_printer_that_does_not_answer_is_left_to_recovery(journal: Journal):
    """Issue 15, fault matrix card_rewrite/printer/vanish@return_card: no retract is journaled (none
    could go out), so the boot's recovery books the card returned if the slot is empty."""
    from kiosk.recovery import CardPlace, PrinterFacts, plan

    rw = rewriting(journal)
    _written_and_given_back(rw)
    rw.printer_result(ok(PrinterOp.PRESENT))
    p = rw.not_taken(printer_answers=False)
    assert Outcome.STUCK in p.outcomes and p.commands == () and rw.over and not rw.retained
    unfinished = journal.unfinished()
    assert unfinished and all(not r.began(Step.RETRACTED) for r in unfinished)
    for row in unfinished:
        assert plan(row, PrinterFacts(CardPlace.NONE), None).rule == "returned_card_gone"


def test_phases_are_the_documented_steps():
    assert [s.value for s in REWRITE_PHASE] == ["write_chip", "erase", "ticket", "print"]
    assert isinstance(PrinterCommand(PrinterOp.FEED), PrinterCommand)


def test_a_retract_before_the_row_begins_journals_the_bins_count_with_the_intake(journal: Journal):
    """Issue 15, fault matrix card_rewrite/printer/cover_open@read_chip: the cover opens, the card
    cannot be presented and the retract fails; the intake carries the bin's count from the printer's
    latest status, so a boot that finds the card gone with the bin unchanged books it returned, not
    retained (it was booked retained when this retract journaled no count)."""
    rw = CardRewrite("s2", journal, bins=lambda: 7)
    rw.start(READ_PHASE)
    rw.printer_result(ok(PrinterOp.TAKE_IN))
    p = rw.printer_result(PrinterResult(PrinterOp.TO_ENCODER, False, PrinterError.COVER_OPEN))
    assert ops(p) == [PrinterOp.PRESENT]
    p = rw.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.COVER_OPEN))
    assert ops(p) == [PrinterOp.RETRACT]
    assert Outcome.STUCK in rw.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.COVER_OPEN)).outcomes
    [intake] = journal.open_intakes()
    assert (intake.state.value, intake.bin_before) == ("retracting", 7)


def test_a_take_in_refused_with_the_card_still_at_the_slot_gives_it_back_and_keeps_nothing(journal: Journal):
    """Issue 15, fault matrix card_rewrite/printer/cover_open/take_in: the cover opened as the card
    was to come in; the printer refused the TAKE_IN and its status shows the card at the slot. It is
    the resident's to take back: no PRESENT, no retract, nothing retained (before the fix the failed
    take-in set card_inside, the PRESENT and the retract failed on the open cover, and a retention
    record told the resident the card was kept while the journal and the printer had it returned)."""
    rw = CardRewrite("s2", journal, bins=lambda: 0, slot_has_card=lambda: True)
    rw.start(READ_PHASE)
    p = rw.printer_result(PrinterResult(PrinterOp.TAKE_IN, False, PrinterError.COVER_OPEN))
    assert Outcome.FAILED in p.outcomes and p.commands == ()
    assert rw.at_slot and not rw.card_inside and not rw.retained
    assert rw.give_back().outcomes == (Outcome.PRESENTED,)
    assert Outcome.TAKEN in rw.card_taken().outcomes and rw.over
    assert journal.open_intakes() == [] and journal.rows() == []
    assert journal.counters()["retained"] == 0


@pytest.mark.parametrize("error", [PrinterError.JAM, PrinterError.COMMUNICATION])
def test_a_take_in_refused_with_the_card_not_seen_at_the_slot_counts_it_inside(journal: Journal,
                                                                                error: PrinterError):
    """A jam leaves the card inside (the status shows no card at the slot); an unanswered TAKE_IN
    leaves no fresh status, so a stale "at the slot" is not believed: both go the inside way."""
    rw = CardRewrite("s2", journal, slot_has_card=lambda: error is PrinterError.COMMUNICATION)
    rw.start(READ_PHASE)
    p = rw.printer_result(PrinterResult(PrinterOp.TAKE_IN, False, error))
    assert ops(p) == [PrinterOp.PRESENT] and rw.card_inside and not rw.at_slot


def test_a_printer_silent_before_the_take_in_journals_the_last_bin_count_and_the_boot_books_it_returned(
        journal: Journal):
    """Fault matrix card_rewrite/printer/silent/@read_chip (2 runs in 9 under load): the printer fell
    silent before the TAKE_IN reached it, so the card stayed at the slot and the resident took it
    there; the TAKE_IN, the PRESENT and the retract went unanswered. The printer was then published
    offline, with no supplies: the intake's retract journaled no bin count, and the boot, finding no
    card and the bin unchanged at 0, booked the card retained (journal retained 1, printer
    cards_retained 0). The last count the printer reported (0) is journaled instead: returned."""
    online = DeviceStatus(DeviceKind.PRINTER, DeviceState.ONLINE, MediaPosition.ENTERING,
                          (Supply("reject_bin", SupplyLevel.EMPTY, 0, 50),))
    status = [online]
    rw = CardRewrite("s2", journal, bins=LastBinCount(lambda: status[0]))
    assert ops(rw.start(READ_PHASE)) == [PrinterOp.TAKE_IN]
    status[0] = DeviceStatus(DeviceKind.PRINTER, DeviceState.OFFLINE, detail="no_response")
    p = rw.printer_result(PrinterResult(PrinterOp.TAKE_IN, False, PrinterError.COMMUNICATION))
    assert ops(p) == [PrinterOp.PRESENT]
    p = rw.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.COMMUNICATION))
    assert ops(p) == [PrinterOp.RETRACT]
    p = rw.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.COMMUNICATION))
    assert Outcome.STUCK in p.outcomes
    [intake] = journal.open_intakes()
    assert (intake.state.value, intake.bin_before) == ("retracting", 0)
    # The boot: the printer answers again, no card inside, the bin still at 0: a hand took it.
    boot = RecoveryRun(journal, lambda: PrinterFacts(CardPlace.NONE, 0), EventLog())
    assert Outcome.CLOSED in boot.start().outcomes
    counters = journal.counters()
    assert (counters["retained"], counters["intakes_open"]) == (0, 0)


def test_a_present_cut_off_by_a_vanished_port_journals_the_rows_retract_with_the_last_bin_count(
        journal: Journal):
    """Fault matrix card_rewrite/printer/vanish/@return_card (1 run in 37 cells): the port vanished
    as the PRESENT of the rewritten card went out; the card reached the slot and the resident took
    it, but the kiosk heard NO_DEVICE and began a retract whose mark had no bin count, so the boot
    (no card, bin unchanged) booked the card retained and voided: journal retained 1, printer 0, the
    resident holding an unconfirmed card. With the last count journaled it is taken: confirmed."""
    status = [DeviceStatus(DeviceKind.PRINTER, DeviceState.ONLINE, MediaPosition.PRESENT,
                           (Supply("reject_bin", SupplyLevel.EMPTY, 0, 50),))]
    rw = rewriting(journal)
    rw.bins = LastBinCount(lambda: status[0])
    _written_and_given_back(rw)
    status[0] = DeviceStatus(DeviceKind.PRINTER, DeviceState.NO_DEVICE, detail="port_gone")
    p = rw.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.NO_DEVICE))
    assert ops(p) == [PrinterOp.RETRACT]
    assert Outcome.STUCK in rw.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_DEVICE)).outcomes
    [row] = journal.unfinished()
    assert row.bin_before == 0
    boot = RecoveryRun(journal, lambda: PrinterFacts(CardPlace.NONE, 0), EventLog())
    p = boot.start()
    assert [c.op for c in p.commands] == [BackendOp.REWRITE_CONFIRM]
    boot.backend_result(BackendOp.REWRITE_CONFIRM, bk.Rewritten("SH2026000001", NEW.valid_from, NEW.valid_until))
    assert journal.rows()[0].final is Final.RETURNED and journal.counters()["retained"] == 0
