"""The real IdReader against the IdReaderEmulator over a pty: what the kiosk sees, event by event.

No sleeps: every wait is on the event queue (get with a timeout) or on the emulator's count of
commands it has answered.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from devices.events import (
    NOTE_SEVERITY,
    DeviceLogged,
    DeviceNote,
    IdCardLifted,
    IdCardPlaced,
    IdCardRead,
    IdReaderError,
    IdReadFailed,
    NoteSeverity,
    StatusChanged,
)
from devices.id_reader import IdReader
from devices.status import DeviceKind, DeviceState, MediaPosition
from kiosk.idcard import parse_card
from kiosk.identity import CardType, Sex
from sim.id_card_data import EmulatedIdCard, encode_card
from sim.id_reader_emu import IdReaderEmulator
from sim.pty_link import PtyLink

WAIT = 3.0  # generous upper bound for one expected event; tests pass in milliseconds
PHOTO = bytes((i * 7) % 256 for i in range(1024))

CARD = encode_card(
    card_type="citizen", name="陈静", sex="F", nation="01", birth=date(1992, 8, 15),
    id_number="310105199208150046", address="安徽省黄山市屯溪区新安路8号", authority="黄山市公安局屯溪分局",
    valid_from=date(2018, 2, 1), valid_to=None, photo=PHOTO,
)


@dataclass
class Rig:
    link: PtyLink
    emu: IdReaderEmulator
    reader: IdReader
    events: queue.Queue[object]
    notes: list[DeviceLogged] = field(default_factory=list)  # the adapter's log notes, as they came

    def expect(self, kind: type, timeout: float = WAIT, **fields: object) -> object:
        """The next event of `kind` (matching `fields`); fails on timeout or on an unwanted card event."""
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no {kind.__name__} {fields or ''} within {timeout}s")
            if isinstance(event, kind) and all(_field(event, k) == v for k, v in fields.items()):
                return event
            if isinstance(event, DeviceLogged):
                self.notes.append(event)
            elif not isinstance(event, StatusChanged):
                pytest.fail(f"unexpected {event!r} while waiting for {kind.__name__}")

    def expect_state(self, state: DeviceState, **fields: object) -> StatusChanged:
        event = self.expect(StatusChanged, state=state, **fields)
        assert isinstance(event, StatusChanged)
        return event

    def card_events(self) -> list[object]:
        """Card events queued so far (status changes and log notes set aside), without waiting."""
        found = []
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return found
            if isinstance(event, DeviceLogged):
                self.notes.append(event)
            elif not isinstance(event, StatusChanged):
                found.append(event)

    def polls(self, n: int) -> None:
        """Let the reader poll `find` n more times (a fixed amount of driver progress, not time)."""
        target = self.emu.command_count("find") + n
        assert self.emu.wait_for_commands("find", target, WAIT), "reader stopped polling"


def _field(event: object, name: str) -> object:
    if name in ("state", "detail", "media"):
        return getattr(event.status, name)  # type: ignore[attr-defined]
    return getattr(event, name)


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    link = PtyLink(str(tmp_path / "ttyIDR"))
    emu = IdReaderEmulator(link)
    emu.start()
    events: queue.Queue[object] = queue.Queue()
    # Re-reads of a failed placement are off (an hour away) unless a test asks for them by
    # parametrising the fixture indirectly with an interval.
    reread = getattr(request, "param", 3600.0)
    reader = IdReader(link.path, events.put, poll_interval=0.01, response_timeout=0.1, retries=2,
                      health_interval=0.02, reread_interval=reread)
    reader.start()
    r = Rig(link, emu, reader, events)
    r.expect_state(DeviceState.ONLINE)
    try:
        yield r
    finally:
        reader.stop()
        emu.stop()
        link.close()


def read_card(rig: Rig, card: EmulatedIdCard = CARD) -> IdCardRead:
    rig.emu.place_card(card)
    rig.expect(IdCardPlaced)
    event = rig.expect(IdCardRead)
    assert isinstance(event, IdCardRead)
    return event


def test_online_with_the_sam_id_as_serial(rig: Rig) -> None:
    status = rig.reader.status
    assert status.state is DeviceState.ONLINE and status.media is MediaPosition.NONE
    assert status.info.serial == "05.01-20230101-0000123456-0000654321"


def test_citizen_card_read_end_to_end_and_parsed(rig: Rig) -> None:
    rig.reader.set_reading(True)
    event = read_card(rig)
    assert event.text == CARD.text and event.photo == PHOTO
    who = parse_card(event.text, event.photo)
    assert who.card_type is CardType.CITIZEN
    assert (who.name, who.sex, who.valid_to) == ("陈静", Sex.FEMALE, None)
    assert who.id_number == "310105199208150046"
    assert who.photo == PHOTO
    assert rig.reader.status.media is MediaPosition.PRESENT


def test_foreign_2023_card_reads_through_the_same_path(rig: Rig) -> None:
    card = encode_card(
        card_type="foreign_permanent_2023", name="ANNA MARIA KOWALSKA", sex="F", nation="POL",
        birth=date(1988, 4, 30), id_number="961586198804300026", address="", authority="",
        valid_from=date(2024, 1, 10), valid_to=date(2034, 1, 10))
    rig.reader.set_reading(True)
    who = parse_card(read_card(rig, card).text)
    assert who.card_type is CardType.FOREIGN_PERMANENT_2023
    assert (who.name, who.nation) == ("ANNA MARIA KOWALSKA", "POL")


def test_no_card_no_card_events(rig: Rig) -> None:
    rig.reader.set_reading(True)
    rig.polls(5)
    assert rig.card_events() == []
    assert rig.reader.status.state is DeviceState.ONLINE
    assert rig.reader.status.media is MediaPosition.NONE


def test_not_reading_means_no_find_at_all(rig: Rig) -> None:
    rig.emu.place_card(CARD)
    target = rig.emu.command_count("status") + 3
    assert rig.emu.wait_for_commands("status", target, WAIT)  # health checks go on meanwhile
    assert rig.emu.command_count("find") == 0
    assert rig.card_events() == []


@pytest.mark.parametrize(
    ("at", "sw3", "error"),
    [
        ("read", "41", IdReaderError.READ_FAILED),
        ("read", "91", IdReaderError.READ_FAILED),
        ("read", "40", IdReaderError.UNKNOWN_CARD),
        ("select", "81", IdReaderError.NO_CARD),
    ],
)
def test_failed_statuses_are_typed_failures(rig: Rig, at: str, sw3: str, error: IdReaderError) -> None:
    rig.emu.inject_fault(f"sw3:{sw3}", at=at)
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=error)
    assert rig.reader.status.state is DeviceState.ONLINE
    # The log hears of it as a fixed note: the step and the status byte, nothing of the card.
    failed = [n for n in rig.notes if n.note is DeviceNote.OPERATION_FAILED]
    assert [(n.device, n.detail) for n in failed] == [(DeviceKind.ID_READER, f"{at}:sw3_{sw3}")]


# --- transient faults are confirmed first (issue 15): fault_confirm=3 select+read attempts --------

FAULT_STATUSES = [("read", "31"), ("read", "33"), ("read", "21"), ("read", "ff"), ("select", "32"),
                  ("select", "21"), ("select", "33"), ("select", "ff")]


@pytest.mark.parametrize(("at", "sw3"), FAULT_STATUSES)
def test_a_single_fault_status_is_retried_and_the_card_read(rig: Rig, at: str, sw3: str) -> None:
    rig.emu.inject_fault(f"sw3:{sw3}", at=at)
    rig.reader.set_reading(True)
    assert read_card(rig).text == CARD.text  # no IdReadFailed, no status change on the way
    note = rig.expect(DeviceLogged, note=DeviceNote.TRANSIENT_FAULT)  # posted after the read
    assert isinstance(note, DeviceLogged) and note.detail == "read:1"
    assert rig.reader.status.state is DeviceState.ONLINE


@pytest.mark.parametrize(("at", "sw3"), FAULT_STATUSES)
def test_two_fault_statuses_are_still_transient(rig: Rig, at: str, sw3: str) -> None:
    rig.emu.inject_fault(f"sw3:{sw3}", at=at, count=2)
    rig.reader.set_reading(True)
    assert read_card(rig).text == CARD.text
    assert rig.emu.command_count(at) == 3


@pytest.mark.parametrize(
    ("at", "sw3", "error"),
    [("read", "31", IdReaderError.SAM_FAULT), ("read", "33", IdReaderError.SAM_FAULT),
     ("read", "21", IdReaderError.COMMUNICATION), ("read", "ff", IdReaderError.COMMUNICATION),
     ("select", "32", IdReaderError.SAM_FAULT), ("select", "60", IdReaderError.SAM_FAULT)],
)
def test_a_fault_status_that_stays_is_a_hardware_error(rig: Rig, at: str, sw3: str, error: IdReaderError) -> None:
    rig.emu.inject_fault(f"sw3:{sw3}", at=at, count=1000)
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    # The status comes first, so the kiosk shows its fault screen rather than "read failed".
    rig.expect_state(DeviceState.HARDWARE_ERROR, detail=f"{at}_sw3_{sw3}")
    rig.expect(IdReadFailed, error=error)
    assert rig.emu.command_count(at) == 3
    rig.polls(5)  # the SAM still answers find: the fault holds while the card lies there
    assert rig.reader.status.state is DeviceState.HARDWARE_ERROR
    assert rig.card_events() == []
    rig.emu.clear_faults()
    rig.emu.lift_card()
    rig.expect(IdCardLifted)
    assert rig.reader.status.state is DeviceState.ONLINE
    read_card(rig)


def test_three_truncated_replies_are_retried_and_the_card_read(rig: Rig) -> None:
    rig.emu.inject_fault("truncate", at="read", count=3)  # one whole transact (retries=2) lost
    rig.reader.set_reading(True)
    assert read_card(rig).text == CARD.text
    assert rig.emu.command_count("read") == 4


def test_a_fault_status_when_not_reading_is_confirmed_before_a_hardware_error(rig: Rig) -> None:
    target = rig.emu.command_count("status") + 5
    rig.emu.inject_fault("sw3:ff", at="status", count=2)
    assert rig.emu.wait_for_commands("status", target, WAIT)
    assert rig.reader.status.state is DeviceState.ONLINE
    assert [e for e in rig.card_events()] == []
    assert any(n.note is DeviceNote.TRANSIENT_FAULT and n.detail == "status:2" for n in rig.notes)
    rig.emu.inject_fault("sw3:ff", at="status", count=3)
    rig.expect_state(DeviceState.HARDWARE_ERROR, detail="sw3_ff")
    rig.expect_state(DeviceState.ONLINE)


def test_after_a_failure_the_card_is_not_retried_until_placed_again(rig: Rig) -> None:
    rig.emu.inject_fault("sw3:41", at="read")
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=IdReaderError.READ_FAILED)
    rig.polls(5)  # the card still answers find, but the reader leaves it alone
    assert rig.card_events() == []
    assert rig.emu.command_count("read") == 1
    rig.emu.lift_card()
    rig.expect(IdCardLifted)
    read_card(rig)


@pytest.mark.parametrize("rig", [0.05], indirect=True)
def test_a_failed_card_left_on_the_reader_is_read_again_silently(rig: Rig) -> None:
    # A lift and place faster than the lift debounce looks like the card never moved: the
    # driver must not wait for a lift it cannot see.
    rig.emu.inject_fault("sw3:41", at="read", count=2)
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=IdReaderError.READ_FAILED)
    event = rig.expect(IdCardRead)  # the second failure is silent; the third read succeeds
    assert isinstance(event, IdCardRead) and event.text == CARD.text
    assert rig.emu.command_count("read") == 3
    # ... for the kiosk; the log has it as a debug note.
    assert [n.note for n in rig.notes if n.note in (DeviceNote.OPERATION_FAILED, DeviceNote.REREAD_FAILED)] == [
        DeviceNote.OPERATION_FAILED, DeviceNote.REREAD_FAILED]
    assert NOTE_SEVERITY[DeviceNote.REREAD_FAILED] is NoteSeverity.DEBUG


@pytest.mark.parametrize("rig", [0.05], indirect=True)
def test_a_card_the_sam_rejects_is_not_read_again_until_placed_again(rig: Rig) -> None:
    rig.emu.inject_fault("sw3:40", at="read")
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=IdReaderError.UNKNOWN_CARD)
    rig.polls(20)  # 0.2 s at least: four re-read intervals
    assert rig.card_events() == []
    assert rig.emu.command_count("read") == 1


def test_one_missed_find_is_not_a_lift(rig: Rig) -> None:
    rig.emu.inject_fault("sw3:41", at="read")
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)  # placed and failed: the card stays and keeps answering find
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed)
    rig.emu.inject_fault("sw3:80", at="find")  # one poll where the card slid out of the field
    rig.polls(4)
    assert rig.card_events() == []
    assert rig.reader.status.media is MediaPosition.PRESENT


@pytest.mark.parametrize("kind", ["garbage", "corrupt", "truncate", "silent"])
@pytest.mark.parametrize("at", ["find", "select", "read"])
def test_one_bad_reply_is_recovered_by_a_retry(rig: Rig, kind: str, at: str) -> None:
    rig.emu.inject_fault(kind, at=at)
    rig.reader.set_reading(True)
    assert read_card(rig).text == CARD.text


@pytest.mark.parametrize("kind", ["corrupt", "truncate", "silent"])
def test_bad_replies_beyond_the_confirmations_are_a_communication_fault(rig: Rig, kind: str) -> None:
    rig.emu.inject_fault(kind, at="read", count=9)  # retries=2 x fault_confirm=3: every attempt fails
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect_state(DeviceState.HARDWARE_ERROR, detail="read_no_reply")
    rig.expect(IdReadFailed, error=IdReaderError.COMMUNICATION)
    assert rig.emu.command_count("read") == 9


def test_a_reader_silent_for_one_status_request_stays_online(rig: Rig) -> None:
    target = rig.emu.command_count("status") + 6
    rig.emu.inject_fault("silent", count=3)  # one whole status transact lost
    assert rig.emu.wait_for_commands("status", target, WAIT)
    assert rig.reader.status.state is DeviceState.ONLINE
    assert rig.card_events() == []


def test_a_reader_gone_silent_goes_offline_and_comes_back(rig: Rig) -> None:
    rig.emu.inject_fault("silent", count=9)  # three status requests, each resent twice
    rig.expect_state(DeviceState.OFFLINE, detail="no_response")
    rig.expect_state(DeviceState.ONLINE)


def test_card_lifted_mid_read(rig: Rig) -> None:
    rig.emu.inject_fault("lift_mid_read")
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=IdReaderError.READ_FAILED)
    rig.expect(IdCardLifted)
    assert not rig.emu.card_present


def test_sam_self_test_failure_is_a_hardware_error(rig: Rig) -> None:
    rig.emu.inject_fault("sw3:60", at="status", count=1000)
    rig.expect_state(DeviceState.HARDWARE_ERROR, detail="sam_self_test")
    rig.emu.clear_faults()
    rig.expect_state(DeviceState.ONLINE)


def test_port_vanishing_while_reading_and_coming_back(rig: Rig) -> None:
    rig.reader.set_reading(True)
    rig.polls(1)
    rig.emu.inject_fault("vanish")
    rig.expect_state(DeviceState.NO_DEVICE, detail="port_gone")
    assert rig.reader.status.state is DeviceState.NO_DEVICE
    rig.emu.reappear()
    rig.expect_state(DeviceState.ONLINE)
    read_card(rig)  # no restart needed
    notes = [n.note for n in rig.notes if n.note in (DeviceNote.PORT_OPENED, DeviceNote.PORT_GONE)]
    assert notes == [DeviceNote.PORT_OPENED, DeviceNote.PORT_GONE, DeviceNote.PORT_OPENED]


def test_port_vanishing_while_idle_is_noticed_by_the_health_check(rig: Rig) -> None:
    rig.emu.inject_fault("vanish")
    rig.expect_state(DeviceState.NO_DEVICE, detail="port_gone")
    rig.emu.reappear()
    rig.expect_state(DeviceState.ONLINE)


def test_port_vanishing_mid_read_fails_the_read_as_no_device(rig: Rig) -> None:
    rig.emu.inject_fault("vanish", at="read")
    rig.reader.set_reading(True)
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdReadFailed, error=IdReaderError.NO_DEVICE)
    rig.expect_state(DeviceState.NO_DEVICE, detail="port_gone")
    rig.emu.reappear()
    rig.expect_state(DeviceState.ONLINE)


def test_a_read_card_must_be_lifted_and_placed_again(rig: Rig) -> None:
    rig.reader.set_reading(True)
    read_card(rig)
    rig.polls(6)  # the card stays on the reader, but the SAM refuses find for a card it has read
    # ... so to the reader it looks lifted (debounced), and it is never read twice.
    assert rig.card_events() == [IdCardLifted()]
    assert rig.emu.command_count("read") == 1
    rig.emu.lift_card()
    rig.emu.place_card(CARD)
    rig.expect(IdCardPlaced)
    rig.expect(IdCardRead)
    assert rig.emu.command_count("read") == 2


def test_reading_stops_when_disabled(rig: Rig) -> None:
    rig.reader.set_reading(True)
    rig.polls(1)
    rig.reader.set_reading(False)
    target = rig.emu.command_count("status") + 2
    assert rig.emu.wait_for_commands("status", target, WAIT)  # back to health checks
    finds = rig.emu.command_count("find")
    rig.emu.place_card(CARD)
    assert rig.emu.wait_for_commands("status", target + 3, WAIT)
    assert rig.emu.command_count("find") == finds
    assert rig.card_events() == []


def test_paced_line_reply_longer_than_the_response_timeout(tmp_path: Path) -> None:
    # At 115200 baud the 1295-byte read reply takes 112 ms on the wire: the timeout is for
    # silence, not for the whole reply.
    link = PtyLink(str(tmp_path / "ttyPACED"), baudrate=115200)
    emu = IdReaderEmulator(link)
    emu.start()
    events: queue.Queue[object] = queue.Queue()
    reader = IdReader(link.path, events.put, poll_interval=0.01, response_timeout=0.05)
    reader.start()
    rig = Rig(link, emu, reader, events)
    try:
        rig.expect_state(DeviceState.ONLINE)
        reader.set_reading(True)
        assert read_card(rig).photo == PHOTO
        assert emu.command_count("read") == 1  # no retry was needed
    finally:
        reader.stop()
        emu.stop()
        link.close()


def test_missing_port_at_start_is_no_device_until_it_appears(tmp_path: Path) -> None:
    events: queue.Queue[object] = queue.Queue()
    path = tmp_path / "ttyLATE"
    reader = IdReader(str(path), events.put, poll_interval=0.01, response_timeout=0.1)
    reader.start()
    link = emu = None
    try:
        rig = Rig(None, None, reader, events)  # type: ignore[arg-type]
        rig.expect_state(DeviceState.NO_DEVICE, detail="port_gone")
        link = PtyLink(str(path))
        emu = IdReaderEmulator(link)
        emu.start()
        rig.expect_state(DeviceState.ONLINE)
    finally:
        reader.stop()
        if emu is not None:
            emu.stop()
        if link is not None:
            link.close()
