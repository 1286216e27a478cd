"""The technician card's way through the printer and the printer's feed test / test print, as
procedures (kiosk/technician_card.py, kiosk/printer_test.py): results in, commands out."""

from __future__ import annotations

from devices.events import ChipError, ChipOp, ChipResult, PrinterError, PrinterOp, PrinterResult
from devices.permit_profile import CardKind, ChipCardInfo, TechnicianChipData
from kiosk.commands import EncoderCommand, Outcome, PrinterCommand, Progress
from kiosk.printer_test import FEED_TEST, TEST_PRINT, PrinterTest
from kiosk.technician_card import TechnicianCard

TECH = TechnicianChipData(ChipCardInfo("5D00000000000115", 1, CardKind.TECHNICIAN), "T0001", b"\x01" * 8)
BLANK = ChipCardInfo("5A00000000000001", 1, CardKind.BLANK)


def ops(progress: Progress) -> list[object]:
    return [c.op for c in progress.commands if isinstance(c, PrinterCommand | EncoderCommand)]


def ok(op: PrinterOp) -> PrinterResult:
    return PrinterResult(op, True)


def test_the_technician_card_in_read_and_given_back() -> None:
    card = TechnicianCard()
    assert ops(card.take_in()) == [PrinterOp.TAKE_IN]
    assert ops(card.printer_result(ok(PrinterOp.TAKE_IN))) == [PrinterOp.TO_ENCODER]
    assert ops(card.printer_result(ok(PrinterOp.TO_ENCODER))) == []
    assert card.awaiting_chip  # the read waits for pcscd to see this card arrive
    assert ops(card.chip_arrived(1)) == [ChipOp.READ_TECHNICIAN]
    done = card.chip_result(ChipResult(ChipOp.READ_TECHNICIAN, True, data=TECH))
    assert done.outcomes == (Outcome.PHASE_DONE,) and card.data == TECH and card.inside
    assert ops(card.read_again()) == [ChipOp.READ_TECHNICIAN]  # the encoder's self-test
    card.chip_result(ChipResult(ChipOp.READ_TECHNICIAN, True, data=TECH))
    assert ops(card.give_back()) == [PrinterOp.PRESENT]
    assert card.printer_result(ok(PrinterOp.PRESENT)).outcomes == (Outcome.PRESENTED,)
    assert card.card_taken().outcomes == (Outcome.TAKEN,)


def test_a_card_that_is_not_a_technicians_is_refused_with_its_cause() -> None:
    card = TechnicianCard()
    card.take_in()
    card.printer_result(ok(PrinterOp.TAKE_IN))
    card.printer_result(ok(PrinterOp.TO_ENCODER))
    card.chip_arrived(1)
    failed = card.chip_result(ChipResult(ChipOp.READ_TECHNICIAN, False, ChipError.NOT_A_TECHNICIAN_CARD))
    assert failed.outcomes == (Outcome.FAILED,) and failed.error == "not_a_technician_card"
    assert ops(card.give_back()) == [PrinterOp.PRESENT]


def test_a_chip_that_never_arrives_fails_as_no_chip_and_a_stuck_return_is_stuck() -> None:
    card = TechnicianCard()
    card.take_in()
    card.printer_result(ok(PrinterOp.TAKE_IN))
    card.printer_result(ok(PrinterOp.TO_ENCODER))
    assert card.operation_timed_out().error == "no_chip"
    card.give_back()
    stuck = card.printer_result(PrinterResult(PrinterOp.PRESENT, False, PrinterError.JAM))
    assert stuck.outcomes == (Outcome.STUCK,) and card.stuck


def test_feed_test_reaches_the_chip_and_ends_in_the_reject_bin() -> None:
    t = PrinterTest(FEED_TEST)
    assert ops(t.start()) == [PrinterOp.FEED]
    assert ops(t.printer_result(ok(PrinterOp.FEED))) == [PrinterOp.TO_ENCODER]
    assert ops(t.printer_result(ok(PrinterOp.TO_ENCODER))) == []
    assert ops(t.chip_arrived(3)) == [ChipOp.READ]
    # A blank card answers "not a permit card" with its card info: reached and read.
    assert ops(t.chip_result(ChipResult(ChipOp.READ, False, ChipError.NOT_A_PERMIT_CARD, data=BLANK))) == [
        PrinterOp.RETRACT]
    end = t.printer_result(ok(PrinterOp.RETRACT))
    assert end.outcomes == (Outcome.RETRACTED, Outcome.CLOSED) and t.retracted and not t.failed


def test_feed_test_failures_name_their_cause() -> None:
    empty = PrinterTest(FEED_TEST)
    empty.start()
    out = empty.printer_result(PrinterResult(PrinterOp.FEED, False, PrinterError.HOPPER_EMPTY))
    assert Outcome.CLOSED in out.outcomes and empty.failed == "hopper_empty" and not empty.retracted

    dead = PrinterTest(FEED_TEST)
    dead.start()
    dead.printer_result(ok(PrinterOp.FEED))
    dead.printer_result(ok(PrinterOp.TO_ENCODER))
    assert ops(dead.operation_timed_out()) == [PrinterOp.RETRACT]  # the chip never came: retract anyway
    assert dead.failed == "no_chip"
    assert dead.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.JAM)).outcomes == (Outcome.STUCK,)


def test_test_print_prints_the_sample_face() -> None:
    t = PrinterTest(TEST_PRINT)
    t.start()
    printed = t.printer_result(ok(PrinterOp.FEED))
    (command,) = printed.commands
    assert isinstance(command, PrinterCommand) and command.op is PrinterOp.PRINT and command.bits
    assert ops(t.printer_result(ok(PrinterOp.PRINT))) == [PrinterOp.RETRACT]


def test_a_technician_card_nobody_takes_goes_into_the_reject_bin() -> None:
    card = TechnicianCard()
    card.take_in()
    card.printer_result(ok(PrinterOp.TAKE_IN))
    card.printer_result(ok(PrinterOp.TO_ENCODER))
    card.chip_arrived(1)
    card.chip_result(ChipResult(ChipOp.READ_TECHNICIAN, True, data=TECH))
    card.give_back()
    card.printer_result(ok(PrinterOp.PRESENT))
    assert ops(card.not_taken()) == [PrinterOp.RETRACT]
    assert card.printer_result(ok(PrinterOp.RETRACT)).outcomes == (Outcome.RETRACTED,)
    # Taken just as the retract came: the slot was empty, the card is the technician's.
    late = TechnicianCard(at_slot=True)
    late.not_taken()
    assert late.printer_result(PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD)).outcomes == (
        Outcome.TAKEN,)
