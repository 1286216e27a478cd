"""The card printer: the real CardPrinter against the PrinterEmulator over a pty.

No test sleeps to let something happen: each waits on the driver's sink for the event it
needs, with a deadline that only matters when the test is failing.
"""

from __future__ import annotations

import json
import logging
import pathlib
import queue
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from PIL import Image

from devices import printer_protocol as pp
from devices.card_printer import CardPrinter
from devices.events import PrintedCardTaken, PrinterError, PrinterOp, PrinterResult, StatusChanged
from devices.serial_port import SerialPort
from devices.status import DeviceState, DeviceStatus, MediaPosition, SupplyLevel
from kiosk.cardface import CardFace, pack_bits, render, ticket
from sim.masking import mask_ticket
from sim.printer_emu import PrinterEmulator
from sim.pty_link import PtyLink

DEADLINE = 5.0


def make_face() -> CardFace:
    return CardFace(
        permit_number="31000020261122000001",
        name="王秀英",
        sex="F",
        nation="01",
        birth=date(1988, 5, 17),
        id_number="34010419880517252X",
        household_address="安徽省合肥市蜀山区长江西路123号",
        residence_address="上海市长宁区虹桥路1号",
        authority="上海市公安局长宁分局",
        issued=date(2026, 11, 22),
        valid_from=date(2026, 11, 22),
        valid_until=date(2027, 11, 22),
    )


class Rig:
    def __init__(self, tmp_path: pathlib.Path, emulator: type[PrinterEmulator] = PrinterEmulator, **emu: Any):
        self.tmp = tmp_path
        self.link = PtyLink(str(tmp_path / "ttyPRINTER"))
        self.emu = emulator(self.link, tmp_path / "cards", **emu)
        self.emu.start()
        self.events: queue.Queue[object] = queue.Queue()
        self.seen: list[object] = []
        self.printer: CardPrinter | None = None

    def connect(self, **kw: Any) -> CardPrinter:
        kw = {"poll_interval": 0.03, "response_timeout": 0.25, "retries": 2, **kw}
        self.printer = CardPrinter(self.link.path, self.events.put, **kw)
        self.printer.start()
        self.status(lambda s: s.state == DeviceState.ONLINE)
        return self.printer

    def close(self) -> None:
        if self.printer is not None:
            self.printer.stop()
        self.emu.stop()
        self.link.close()

    def next(self, want: Callable[[object], bool], what: str) -> Any:
        end = time.monotonic() + DEADLINE
        while True:
            try:
                event = self.events.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {what} within {DEADLINE}s; last events: {self.seen[-5:]}")
            self.seen.append(event)
            if want(event):
                return event

    def status(self, want: Callable[[DeviceStatus], bool]) -> DeviceStatus:
        event = self.next(lambda e: isinstance(e, StatusChanged) and want(e.status), "matching status")
        return event.status

    def result(self, op: PrinterOp) -> PrinterResult:
        r = self.next(lambda e: isinstance(e, PrinterResult), f"{op} result")
        assert r.op == op
        return r

    def do(self, op: PrinterOp, call: Callable[[], None]) -> PrinterResult:
        call()
        return self.result(op)


@pytest.fixture
def rig(tmp_path: pathlib.Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def ok(r: PrinterResult) -> bool:
    return r.ok and r.error is None


# --- the whole issuance ------------------------------------------------------------------------


def test_feed_ticket_print_present_take_writes_png_and_json(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    p = rig.connect()
    face = make_face()
    img = render(face)
    bits = pack_bits(img)
    assert len(pp.print_commands(0, 0, img.width, img.height, bits)) == 2  # a full face spans two frames

    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert p.status.media == MediaPosition.PRESENT
    assert ok(rig.do(PrinterOp.TICKET, lambda: p.ticket(ticket(face))))
    assert ok(rig.do(PrinterOp.PRINT, lambda: p.print_area(0, 0, img.width, img.height, bits)))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert p.status.media == MediaPosition.ENTERING
    assert rig.emu.take_card()
    rig.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")
    assert p.status.media == MediaPosition.NONE

    [record] = rig.emu.records
    assert record["outcome"] == "taken"
    assert record["fields"] == mask_ticket(ticket(face))  # SH-PRIV-1: the record is test output
    assert face.name not in json.dumps(record, ensure_ascii=False) and face.id_number not in json.dumps(record)
    assert record["job"] == 1
    printed = Image.open(record["face_png"])
    assert printed.size == (1012, 638)
    assert pack_bits(printed.convert("1")) == bits
    saved = json.loads(pathlib.Path(record["face_png"]).with_suffix(".json").read_text(encoding="utf-8"))
    assert saved == record
    assert (rig.emu.cards_issued, rig.emu.cards_retained, rig.emu.hopper_count) == (1, 0, 99)
    assert sum(isinstance(e, PrintedCardTaken) for e in rig.seen) == 1

    for secret in (face.name, face.id_number, face.household_address, face.residence_address):
        assert secret not in caplog.text  # SH-PRIV-1


def test_supplies_in_status(tmp_path: pathlib.Path) -> None:
    r = Rig(tmp_path, hopper=5, low_threshold=10, bin_capacity=10)
    try:
        p = r.connect()
        hopper, reject_bin = p.status.supply("hopper"), p.status.supply("reject_bin")
        assert hopper is not None and reject_bin is not None
        assert (hopper.level, hopper.count, hopper.threshold) == (SupplyLevel.LOW, 5, 10)
        assert (reject_bin.level, reject_bin.count) == (SupplyLevel.EMPTY, 0)
    finally:
        r.close()


def test_present_not_taken_then_retract_is_retained(rig: Rig) -> None:
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert p.status.media == MediaPosition.RETRACTED
    assert rig.do(PrinterOp.STATUS, p.refresh_status).ok
    assert not any(isinstance(e, PrintedCardTaken) for e in rig.seen)
    assert (rig.emu.cards_issued, rig.emu.cards_retained, rig.emu.bin_count) == (0, 1, 1)
    assert [r["outcome"] for r in rig.emu.records] == ["retained"]
    assert not rig.emu.take_card()


class SnatchingResident(PrinterEmulator):
    """The card is taken the instant it reaches the slot, before the driver looks again."""

    snatch = False

    def _move(self, pm: int) -> pp.ErrorCode | None:
        err = super()._move(pm)
        self.snatch = err is None and pm == pp.Move.PRESENT
        return err

    def _execute(self, f: pp.Frame) -> bytes:
        if self.snatch and f.cm == pp.Cmd.STATUS:
            self.snatch = False
            assert self.take_card()
        return super()._execute(f)


def test_a_card_at_the_slot_is_watched_closely_while_the_rest_poll_is_slow(tmp_path: pathlib.Path) -> None:
    """At rest the printer is polled once a minute here; a presented card is polled for every
    50 ms, so its take is reported long before the next rest poll would have seen it."""
    r = Rig(tmp_path)
    try:
        p = r.connect(poll_interval=60.0, take_poll_interval=0.05)
        assert ok(r.do(PrinterOp.FEED, p.feed))
        assert ok(r.do(PrinterOp.PRESENT, p.present))
        assert r.emu.take_card()
        r.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")  # DEADLINE is far below 60 s
        assert p.status.media == MediaPosition.NONE
    finally:
        r.close()


def test_a_card_pushed_in_is_looked_for_fast_while_a_screen_waits_for_one(tmp_path: pathlib.Path) -> None:
    """Issue 16: at rest the printer is polled once a minute here. While the core says a screen
    waits for a card at the front slot (`watch_slot(True)`), it is polled every 50 ms, so a card
    pushed in is reported long before the next rest poll would have seen it."""
    r = Rig(tmp_path)
    try:
        p = r.connect(poll_interval=60.0, slot_poll_interval=0.05)
        p.watch_slot(True)
        assert r.emu.insert_card()
        r.status(lambda s: s.media == MediaPosition.ENTERING)  # DEADLINE is far below 60 s
        assert ok(r.do(PrinterOp.TAKE_IN, p.take_in))
    finally:
        r.close()


def test_the_poll_interval_follows_the_slot(tmp_path: pathlib.Path) -> None:
    """The worker's rest between polls (its idle step, run here on the test's thread with no
    worker started): slow at rest, fast while a screen waits for a card at the slot, fastest
    while a card is at the slot (presented, or pushed in and not yet taken in), slow again after."""
    r = Rig(tmp_path)
    try:
        p = CardPrinter(r.link.path, r.events.put, poll_interval=60.0, slot_poll_interval=0.05,
                        take_poll_interval=0.02)
        assert p._idle() == 60.0
        p.watch_slot(True)
        assert p._idle() == 0.05
        assert r.emu.insert_card()
        assert p._idle() == 0.02
        p.watch_slot(False)
        assert p._idle() == 0.02  # still at the slot: the resident may take it back
        assert r.emu.take_card()
        assert p._idle() == 60.0
        p.stop()
    finally:
        r.close()


def test_card_taken_at_once_is_reported_after_the_present_result(tmp_path: pathlib.Path) -> None:
    r = Rig(tmp_path, emulator=SnatchingResident)
    try:
        p = r.connect()
        assert ok(r.do(PrinterOp.FEED, p.feed))
        p.present()
        r.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")
        order = [e for e in r.seen if isinstance(e, PrintedCardTaken | PrinterResult)]
        assert order[-2:] == [PrinterResult(PrinterOp.PRESENT, True, None), PrintedCardTaken()]
        assert r.emu.cards_issued == 1
    finally:
        r.close()


def takes_and_results(r: Rig) -> list[object]:
    return [e for e in r.seen if isinstance(e, PrintedCardTaken | PrinterResult)]


def test_card_taken_during_a_retract_is_reported_before_no_card(rig: Rig) -> None:
    """Issue 8, bug 2: the resident's hand beats the retract. The take is reported, then the
    retract ends with NO_CARD (never a jam); the card counts as handed out, not retained."""
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    rig.emu.inject_fault("take", "retract")
    p.retract()
    result = rig.result(PrinterOp.RETRACT)
    assert result == PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD)
    assert takes_and_results(rig)[-2:] == [PrintedCardTaken(), result]
    assert p.status.media == MediaPosition.NONE  # not RETRACTED: nothing went into the bin
    assert p.status.state == DeviceState.ONLINE
    assert (rig.emu.cards_issued, rig.emu.cards_retained, rig.emu.bin_count) == (1, 0, 0)
    assert [r["outcome"] for r in rig.emu.records] == ["taken"]
    assert rig.do(PrinterOp.STATUS, p.refresh_status).ok
    assert sum(isinstance(e, PrintedCardTaken) for e in rig.seen) == 1


def test_card_taken_during_a_present_is_reported_after_its_result(rig: Rig) -> None:
    """The emulator's "take at present": the hand takes the card right after the PRESENT's reply."""
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    rig.emu.inject_fault("take", "present")
    p.present()
    rig.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")
    assert takes_and_results(rig)[-2:] == [PrinterResult(PrinterOp.PRESENT, True, None), PrintedCardTaken()]
    assert (rig.emu.cards_issued, rig.emu.cards_retained) == (1, 0)
    # The control is one-shot: the next card stays at the slot until retracted.
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert sum(isinstance(e, PrintedCardTaken) for e in rig.seen) == 1
    assert (rig.emu.cards_issued, rig.emu.cards_retained) == (1, 1)


def test_a_card_left_at_the_slot_before_a_restart_is_reported_taken(tmp_path: pathlib.Path) -> None:
    """Recovery: an adapter that never presented the card (the kiosk rebooted since) still
    reports its take, by a hand at rest and by a hand during its retract alike."""
    r = Rig(tmp_path)

    def power_cut_with_a_card_at_the_slot() -> CardPrinter:
        before = r.connect()
        assert ok(r.do(PrinterOp.FEED, before.feed))
        assert ok(r.do(PrinterOp.PRESENT, before.present))
        before.stop()
        r.seen.clear()
        after = r.connect()
        assert after.status.media == MediaPosition.ENTERING
        return after

    try:
        p = power_cut_with_a_card_at_the_slot()
        assert r.emu.take_card()  # at rest: no command in flight, no session waiting
        r.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")
        p.stop()

        p = power_cut_with_a_card_at_the_slot()
        r.emu.inject_fault("take", "retract")
        p.retract()  # recovery retracts the card it finds at the slot; the hand is quicker
        result = r.result(PrinterOp.RETRACT)
        assert takes_and_results(r)[-2:] == [
            PrintedCardTaken(), PrinterResult(PrinterOp.RETRACT, False, PrinterError.NO_CARD)]
        assert result.error is PrinterError.NO_CARD
        assert (r.emu.cards_issued, r.emu.cards_retained) == (2, 0)
    finally:
        r.close()


def test_a_retract_of_a_card_inside_is_not_a_take(rig: Rig) -> None:
    """A card that never reached the slot goes to the bin; an armed "take at retract" waits for a
    card at the slot (the hand can reach no other)."""
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    rig.emu.inject_fault("take", "retract")
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert p.status.media == MediaPosition.RETRACTED
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert rig.do(PrinterOp.RETRACT, p.retract).error is PrinterError.NO_CARD
    assert sum(isinstance(e, PrintedCardTaken) for e in rig.seen) == 1
    assert (rig.emu.cards_issued, rig.emu.cards_retained) == (1, 1)


def test_take_control_is_checked(rig: Rig) -> None:
    with pytest.raises(ValueError):
        rig.emu.inject_fault("take", "print")
    rig.emu.inject_fault("take", "retract")
    rig.emu.clear_fault("take")
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert rig.emu.cards_retained == 1


def test_refresh_status_posts_status_then_result(rig: Rig) -> None:
    p = rig.connect()
    p.refresh_status()
    changed = rig.next(lambda e: isinstance(e, StatusChanged | PrinterResult), "status")
    assert isinstance(changed, StatusChanged) and changed.status.state == DeviceState.ONLINE
    assert rig.result(PrinterOp.STATUS) == PrinterResult(PrinterOp.STATUS, True, None)


def test_mechanics_are_honest(rig: Rig) -> None:
    p = rig.connect()
    assert rig.do(PrinterOp.PRESENT, p.present).error == PrinterError.NO_CARD
    assert rig.do(PrinterOp.TICKET, lambda: p.ticket({"a": "b"})).error == PrinterError.NO_CARD
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert rig.do(PrinterOp.FEED, p.feed).error == PrinterError.CARD_IN_PATH
    off_card = rig.do(PrinterOp.PRINT, lambda: p.print_area(1000, 0, 100, 1, bytes(13)))
    assert off_card.error == PrinterError.COMMAND_REFUSED
    short = rig.do(PrinterOp.PRINT, lambda: p.print_area(0, 0, 16, 2, bytes(3)))
    assert short.error == PrinterError.COMMAND_REFUSED
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert rig.do(PrinterOp.RETRACT, p.retract).error == PrinterError.NO_CARD
    assert rig.emu.hopper_count == 99


# --- faults ------------------------------------------------------------------------------------


def test_jam_at_print(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("jam", at="print")
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    r = rig.do(PrinterOp.PRINT, lambda: p.print_area(0, 0, 8, 1, b"\xff"))
    assert r == PrinterResult(PrinterOp.PRINT, False, PrinterError.JAM)
    s = p.status
    assert (s.state, s.detail, s.media) == (DeviceState.HARDWARE_ERROR, "jam", MediaPosition.JAMMED)
    assert rig.emu.cards_retained == 1
    assert rig.emu.records[-1]["outcome"] == "jammed"
    # A jammed card does not move until a technician clears it.
    assert rig.do(PrinterOp.RETRACT, p.retract).error == PrinterError.JAM
    rig.emu.clear_jam()
    rig.status(lambda s: s.state == DeviceState.ONLINE and s.media == MediaPosition.PRESENT)
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert (rig.emu.bin_count, rig.emu.cards_retained) == (1, 1)
    assert rig.emu.records[-1]["outcome"] == "retained"


def test_jam_at_feed_and_present(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("jam", at="feed")
    assert rig.do(PrinterOp.FEED, p.feed).error == PrinterError.JAM
    assert p.status.detail == "jam"
    rig.emu.clear_jam()
    rig.emu.inject_fault("jam", at="present")
    assert rig.do(PrinterOp.PRESENT, p.present).error == PrinterError.JAM
    assert p.status.media == MediaPosition.JAMMED


def test_hopper_empty_keeps_the_printer_online(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("hopper_empty")
    s = rig.status(lambda s: s.supply("hopper") is not None and s.supply("hopper").level == SupplyLevel.EMPTY)
    assert s.state == DeviceState.ONLINE
    assert rig.do(PrinterOp.FEED, p.feed).error == PrinterError.HOPPER_EMPTY
    rig.emu.refill(3)
    rig.status(lambda s: s.supply("hopper").count == 3 and s.supply("hopper").level == SupplyLevel.LOW)
    assert ok(rig.do(PrinterOp.FEED, p.feed))


def test_cover_open(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("cover_open")
    s = rig.status(lambda s: s.state == DeviceState.USER_ERROR)
    assert s.detail == "cover_open"
    assert rig.do(PrinterOp.FEED, p.feed).error == PrinterError.COVER_OPEN
    rig.emu.clear_fault("cover_open")
    rig.status(lambda s: s.state == DeviceState.ONLINE)
    assert ok(rig.do(PrinterOp.FEED, p.feed))


def test_cover_opened_at_take_in_refuses_it_with_the_card_still_at_the_slot(rig: Rig) -> None:
    """Issue 15 (fault matrix card_rewrite/printer/cover_open/take_in): the cover opens as the
    resident's card was to come in. The TAKE_IN gets the cover-open error, the card stays at the
    slot, and the status the driver publishes before that result says so (the kiosk gives the card
    back from it instead of counting it inside)."""
    from devices.events import StatusChanged

    p = rig.connect()
    rig.emu.inject_fault("cover_open", "take_in")
    assert rig.emu.insert_card()
    rig.status(lambda s: s.media == MediaPosition.ENTERING and s.state == DeviceState.ONLINE)
    result = rig.do(PrinterOp.TAKE_IN, p.take_in)
    assert result == PrinterResult(PrinterOp.TAKE_IN, False, PrinterError.COVER_OPEN)
    before = [e for e in rig.seen[:rig.seen.index(result)] if isinstance(e, StatusChanged)]
    assert (before[-1].status.state, before[-1].status.media) == (DeviceState.USER_ERROR, MediaPosition.ENTERING)
    assert rig.emu.take_card() and rig.emu.cards_retained == 0
    with pytest.raises(ValueError):
        rig.emu.inject_fault("cover_open", "print")


def test_bin_full(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("bin_full")
    s = rig.status(lambda s: s.supply("reject_bin").level == SupplyLevel.FULL)
    assert s.state == DeviceState.ONLINE
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert rig.do(PrinterOp.RETRACT, p.retract).error == PrinterError.BIN_FULL
    assert rig.emu.records[-1]["outcome"] == "in_printer"
    rig.emu.empty_bin()
    assert ok(rig.do(PrinterOp.RETRACT, p.retract))
    assert rig.emu.bin_count == 1


def test_silence_is_a_communication_failure_then_recovers(rig: Rig) -> None:
    p = rig.connect(response_timeout=0.15)
    rig.emu.inject_fault("silent")
    assert rig.do(PrinterOp.FEED, p.feed) == PrinterResult(PrinterOp.FEED, False, PrinterError.COMMUNICATION)
    assert (p.status.state, p.status.detail) == (DeviceState.OFFLINE, "no_response")
    assert rig.emu.hopper_count == 100  # a silent printer did nothing
    rig.emu.clear_fault("silent")
    rig.status(lambda s: s.state == DeviceState.ONLINE)
    assert ok(rig.do(PrinterOp.FEED, p.feed))


def test_garbage_before_a_reply_is_skipped(rig: Rig) -> None:
    p = rig.connect(retries=0)  # no retransmission to hide behind: the decoder must resync
    rig.emu.inject_fault("garbage")
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    rig.emu.inject_fault("garbage")
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert p.status.media == MediaPosition.ENTERING
    assert not any(isinstance(e, StatusChanged) and e.status.state == DeviceState.OFFLINE for e in rig.seen)


def test_lost_reply_is_retransmitted_without_feeding_twice(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("garbage", at="replace")
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert rig.emu.hopper_count == 99
    assert len(rig.emu.records) == 1


def test_port_vanishes_and_returns(rig: Rig) -> None:
    p = rig.connect()
    rig.emu.inject_fault("vanish")
    s = rig.status(lambda s: s.state == DeviceState.NO_DEVICE)
    assert s.detail == "port_gone"
    assert rig.do(PrinterOp.FEED, p.feed).error == PrinterError.NO_DEVICE
    rig.emu.reappear()
    rig.status(lambda s: s.state == DeviceState.ONLINE)
    assert ok(rig.do(PrinterOp.FEED, p.feed))


def test_card_taken_while_port_away_is_reported_on_return(rig: Rig) -> None:
    p = rig.connect()
    assert ok(rig.do(PrinterOp.FEED, p.feed))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    rig.emu.inject_fault("vanish")
    rig.status(lambda s: s.state == DeviceState.NO_DEVICE)
    assert rig.emu.take_card()
    rig.emu.reappear()
    rig.next(lambda e: isinstance(e, PrintedCardTaken), "PrintedCardTaken")


def test_stop_ends_both_threads(tmp_path: pathlib.Path) -> None:
    r = Rig(tmp_path)
    p = r.connect()
    r.close()
    assert p._worker._thread is None and r.emu._thread is None


# --- the wire itself, straight at the emulator --------------------------------------------------


class Wire:
    def __init__(self, path: str) -> None:
        self.port = SerialPort(path)
        assert self.port.open()
        self.decoder = pp.FrameDecoder(accept=b"PN")

    def send(self, raw: bytes) -> pp.Reply:
        self.port.write(raw)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            chunk = self.port.read(1, timeout=0.05)
            chunk += self.port.read(4096, timeout=0) if chunk else b""
            for item in self.decoder.feed(chunk):
                if isinstance(item, pp.Frame):
                    reply = pp.parse_reply(item)
                    assert reply is not None
                    return reply
        pytest.fail("no reply")

    def command(self, cm: int, pm: int, data: bytes = b"") -> pp.Reply:
        return self.send(pp.encode_command(cm, pm, data))


@pytest.fixture
def wire(rig: Rig) -> Iterator[Wire]:
    w = Wire(rig.link.path)
    yield w
    w.port.close()


def test_status_reply_layout(wire: Wire, rig: Rig) -> None:
    r = wire.command(pp.Cmd.STATUS, 0x30)
    assert r.ok and r.st == (0x30, 0x32, 0x30)
    s = pp.decode_status(r)
    assert s is not None
    assert (s.position, s.hopper_count, s.bin_count, s.cover_open, s.fault, s.job) == (
        pp.CardPosition.NONE, 100, 0, False, None, 0,
    )


def test_bad_checksum_and_bad_command_are_refused(wire: Wire, rig: Rig) -> None:
    good = pp.encode_command(pp.Cmd.MOVE, pp.Move.FEED)
    r = wire.send(good[:-1] + bytes((good[-1] ^ 1,)))
    assert (r.ok, r.error, r.cm, r.pm) == (False, pp.ErrorCode.BAD_CHECKSUM, pp.Cmd.MOVE, pp.Move.FEED)
    assert rig.emu.hopper_count == 100
    assert wire.command(0x7A, 0x30).error == pp.ErrorCode.BAD_COMMAND
    assert wire.command(pp.Cmd.MOVE, 0x39).error == pp.ErrorCode.BAD_COMMAND


def test_repeated_frame_is_answered_once(wire: Wire, rig: Rig) -> None:
    feed = pp.encode_command(pp.Cmd.MOVE, pp.Move.FEED)
    assert wire.send(feed).ok
    assert wire.send(feed).ok  # a retransmission: same answer, no second card
    assert rig.emu.hopper_count == 99
    assert wire.command(pp.Cmd.STATUS, 0x30).ok
    assert wire.send(feed).error == pp.ErrorCode.CARD_IN_PATH  # not a retransmission any more


def test_ticket_returns_job_and_refuses_bad_json(wire: Wire, rig: Rig) -> None:
    assert wire.command(pp.Cmd.MOVE, pp.Move.FEED).ok
    r = wire.command(pp.Cmd.TICKET, 0x30, pp.encode_ticket({"name": "x"}))
    assert r.ok and int.from_bytes(r.data, "big") == 1
    assert wire.command(pp.Cmd.TICKET, 0x30, b"{not json").error == pp.ErrorCode.BAD_PARAMETER
    assert wire.command(pp.Cmd.TICKET, 0x30, b'{"n": 1}').error == pp.ErrorCode.BAD_PARAMETER


def test_erase_area_and_banded_print_compose_the_face(wire: Wire, rig: Rig) -> None:
    assert wire.command(pp.Cmd.MOVE, pp.Move.FEED).ok
    black = b"\xff" * (pp.row_bytes(100) * 50)
    for raw in pp.print_commands(10, 10, 100, 50, black):
        assert wire.send(raw).ok
    r = wire.command(pp.Cmd.ERASE, 0x30, pp.encode_area(20, 20, 10, 10))
    assert r.ok and r.data == pp.encode_area(20, 20, 10, 10)
    off_card = wire.command(pp.Cmd.ERASE, 0x30, pp.encode_area(1000, 0, 20, 1))
    assert off_card.error == pp.ErrorCode.BAD_PARAMETER
    face = Image.open(rig.emu.records[-1]["face_png"])
    assert face.getpixel((10, 10)) == 0 and face.getpixel((109, 59)) == 0  # printed corners
    assert face.getpixel((25, 25)) != 0  # erased
    assert face.getpixel((110, 10)) != 0 and face.getpixel((9, 10)) != 0  # nothing outside


def test_band_without_last_prints_nothing(wire: Wire, rig: Rig) -> None:
    assert wire.command(pp.Cmd.MOVE, pp.Move.FEED).ok
    data = pp.encode_area(0, 0, 8, 1) + b"\xff"
    assert wire.command(pp.Cmd.PRINT, pp.PrintPm.BAND, data).ok
    assert Image.open(rig.emu.records[-1]["face_png"]).getpixel((0, 0)) != 0
    assert wire.command(pp.Cmd.PRINT, pp.PrintPm.LAST, pp.encode_area(8, 0, 8, 1) + b"\xff").ok
    face = Image.open(rig.emu.records[-1]["face_png"])
    assert face.getpixel((0, 0)) == 0 and face.getpixel((15, 0)) == 0


def test_card_from_the_front_slot_to_encoder_and_back(wire: Wire, rig: Rig) -> None:
    assert wire.command(pp.Cmd.MOVE, pp.Move.TAKE_IN).error == pp.ErrorCode.NO_CARD
    assert rig.emu.insert_card()
    assert wire.command(pp.Cmd.MOVE, pp.Move.FEED).error == pp.ErrorCode.CARD_IN_PATH
    assert wire.command(pp.Cmd.MOVE, pp.Move.TAKE_IN).ok
    r = wire.command(pp.Cmd.MOVE, pp.Move.TO_ENCODER)
    assert r.ok and r.st[0] == pp.CardPosition.ENCODER
    assert wire.command(pp.Cmd.MOVE, pp.Move.PRESENT).ok
    assert rig.emu.take_card()
    assert rig.emu.records[-1]["origin"] == "inserted"
    assert rig.emu.cards_issued == 0  # a returned permit is not a newly issued card


# --- framing ------------------------------------------------------------------------------------


def test_status_command_bytes() -> None:
    raw = pp.encode_command(pp.Cmd.STATUS, 0x30)
    assert raw[:7] == bytes([0xF2, 0x00, 0x03, 0x43, 0x31, 0x30, 0x03])
    assert raw[7] == 0xF2 ^ 0x00 ^ 0x03 ^ 0x43 ^ 0x31 ^ 0x30 ^ 0x03


def test_bcc_matches_a_plain_xor() -> None:
    for data in (b"", b"\x01", b"\x01\x02\x03", bytes(range(256)) * 300):
        want = 0
        for b in data:
            want ^= b
        assert pp.bcc(data) == want


def test_full_card_bands_fit_the_frame_limit() -> None:
    bits = bytes(pp.row_bytes(1012) * 638)
    frames = pp.print_commands(0, 0, 1012, 638, bits)
    assert all(len(f) - 6 <= pp.MAX_BODY for f in frames)
    decoded = pp.FrameDecoder().feed(b"".join(frames))
    assert [f.pm for f in decoded] == [pp.PrintPm.BAND, pp.PrintPm.LAST]
    areas = [pp.decode_area(f.payload) for f in decoded]
    assert areas == [(0, 0, 1012, 515), (0, 515, 1012, 123)]


def test_status_data_round_trip() -> None:
    report = pp.StatusReport(
        pp.CardPosition.JAMMED, pp.HopperState.LOW, True, 3, 200, 10, 50, 50, True, pp.ErrorCode.JAM, 42
    )
    raw = pp.encode_positive(0x31, 0x30, report.st(), report.data())
    reply = pp.parse_reply(pp.FrameDecoder().feed(raw)[0])
    assert reply is not None and pp.decode_status(reply) == report


# --- the card-face rewrite's operations: take in, to the encoder, erase ------------------------


def test_rewrite_operations_take_in_encoder_erase_and_return(rig: Rig) -> None:
    p = rig.connect()
    face = render(make_face())
    assert rig.emu.insert_card(face)  # the resident pushes their permit into the slot
    assert ok(rig.do(PrinterOp.TAKE_IN, p.take_in))
    assert ok(rig.do(PrinterOp.TO_ENCODER, p.to_encoder))
    x, y, w, h = 40, 540, 700, 56
    assert ok(rig.do(PrinterOp.ERASE, lambda: p.erase_area(x, y, w, h)))
    assert ok(rig.do(PrinterOp.PRESENT, p.present))
    assert rig.emu.take_card(), "the card waits at the slot"
    rig.next(lambda e: isinstance(e, PrintedCardTaken), "taken")
    record = rig.emu.records[-1]
    assert record["origin"] == "inserted" and record["outcome"] == "taken"
    erased = Image.open(record["face_png"]).convert("1").crop((x, y, x + w, y + h))
    assert erased.getextrema() == (255, 255), "the erased area is white"


def test_take_in_without_a_card_and_erase_outside_the_card_are_refused(rig: Rig) -> None:
    p = rig.connect()
    r = rig.do(PrinterOp.TAKE_IN, p.take_in)
    assert not r.ok and r.error is PrinterError.NO_CARD
    assert rig.emu.insert_card()
    assert ok(rig.do(PrinterOp.TAKE_IN, p.take_in))
    r = rig.do(PrinterOp.ERASE, lambda: p.erase_area(1000, 600, 100, 100))
    assert not r.ok
