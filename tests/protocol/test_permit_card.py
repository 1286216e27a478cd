"""The permit card chip end to end: PermitCardEncoder -> pyscard -> a real pcscd -> vpcd -> the virtual card.

pcscd is started here (or a running one offering the vpcd readers is used); if neither works
the tests fail with pcscd's own words, they are never skipped. No sleeps: every wait is on the
encoder's event queue (get with a timeout) or on pcscd's own blocking status call.
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from smartcard import scard
from smartcard.System import readers

from devices.apdu import (
    CommandApdu,
    Response,
    StatusWord,
    auth_cryptogram,
    command_mac,
    external_authenticate,
    get_challenge,
    read_binary,
    select_aid,
    select_ef,
    sm_update_binary,
    sm_update_mac_input,
    update_binary,
)
from devices.chip_keys import CardKeys, own_keys
from devices.events import (
    ChipCardPresent,
    ChipCardRemoved,
    ChipError,
    ChipOp,
    ChipResult,
    DeviceLogged,
    StatusChanged,
)
from devices.permit_card import PermitCardEncoder
from devices.permit_profile import (
    AID,
    CardKind,
    ChipCardInfo,
    Fid,
    KeyRef,
    PermitChipData,
    PermitContents,
    PermitValidity,
    TechnicianChipData,
    decode_card_info,
    decode_validity_ef,
)
from devices.status import DeviceState, MediaPosition
from sim.pcscd import (
    ForeignPcscd,
    Pcscd,
    PcscdError,
    VpcdPortError,
    check_port,
    configured_port,
    reuse_running,
    start_pcscd,
    vpcd_ports,
    vpcd_ports_in,
    write_reader_conf,
)
from sim.permit_card_emu import TEST_KEYS, CardSlot, PullMode, VirtualPermitCard, VpcdUnreachable

READER = "Virtual PCD 00 00"
# vpcd's two slots, on the ports of config/sim.toml ([pcsc] vpcd_port and the next one, below the
# ephemeral range). Tests take turns, so that pcscd's 0.4 s poll notices one slot's card leave
# while the next test already runs on the other.
VPCD_PORT = configured_port()
LANES = tuple(zip(("Virtual PCD 00 00", "Virtual PCD 00 01"), vpcd_ports(VPCD_PORT), strict=True))
WAIT = 3.0  # upper bound for one expected event; pcscd notices a card within 0.4 s
SERIAL = "5250000000000001"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes((i * 31) % 256 for i in range(6000))
VALIDITY = PermitValidity(issue_date=date(2024, 3, 1), valid_from=date(2024, 3, 1), valid_until=date(2025, 3, 1),
                          endorsement_count=0)
CONTENTS = PermitContents(
    permit_number="310000202400017", name="陈静", sex="F", nation="01", birth=date(1992, 8, 15),
    id_number="340102199208150046", household_address="安徽省黄山市屯溪区新安路8号",
    residence_address="上海市徐汇区漕溪北路88弄3号1201室", validity=VALIDITY, photo=PHOTO,
)
WRONG_KEYS = CardKeys(issuer=bytes(range(16)), write=bytes(range(1, 17)), pin=bytes(range(2, 18)))


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    log = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
    try:
        daemon = start_pcscd(log, ready_timeout=10.0, vpcd_port=VPCD_PORT, reader_prefix="Virtual PCD")
    except PcscdError as exc:
        pytest.fail(f"pcscd with the vpcd reader could not be started: {exc}")
    if not all(any(r.startswith(name) for r in daemon.readers) for name, _ in LANES):
        pytest.fail(f"pcscd offers {daemon.readers}, not both vpcd slots")
    yield daemon
    daemon.stop()


_lanes = itertools.cycle(LANES)


def wait_reader_empty(reader: str, timeout: float = WAIT) -> None:
    """Until pcscd reports no card in `reader` (blocking in pcscd, not polling here)."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        state = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{reader} still shows a card after {timeout}s")
            hresult, states = scard.SCardGetStatusChange(context, int(left * 1000), [(reader, state)])
            if hresult == scard.SCARD_S_SUCCESS:
                state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                if not state & scard.SCARD_STATE_PRESENT:
                    return
    finally:
        scard.SCardReleaseContext(context)


class Rig:
    def __init__(self, slot: CardSlot, keys: CardKeys, reader: str, poll_interval: float = 0.05,
                 watch: bool = True) -> None:
        self.slot = slot
        self.reader = reader
        self.events: queue.Queue[object] = queue.Queue()
        self.seen: list[object] = []
        self.encoder = PermitCardEncoder(reader, self.events.put, keys=keys, poll_interval=poll_interval,
                                         watch=watch)

    def expect(self, kind: type, timeout: float = WAIT) -> object:
        """The next event of `kind`; status changes on the way are skipped, anything else fails."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                history = "\n".join(_brief(e) for e in self.seen[-8:])
                pytest.fail(f"no {kind.__name__} within {timeout}s; last events:\n{history}")
            self.seen.append(event)
            if isinstance(event, kind):
                return event
            if not isinstance(event, StatusChanged | DeviceLogged):
                history = "\n".join(_brief(e) for e in self.seen[-8:])
                pytest.fail(f"unexpected {event!r} while waiting for {kind.__name__}; last events:\n{history}")

    def expect_status(self, state: DeviceState, media: MediaPosition | None = None) -> StatusChanged:
        while True:
            event = self.expect(StatusChanged)
            assert isinstance(event, StatusChanged)
            if event.status.state is state and (media is None or event.status.media is media):
                return event

    def result(self, op: ChipOp, timeout: float = WAIT) -> ChipResult:
        event = self.expect(ChipResult, timeout)
        assert isinstance(event, ChipResult)
        assert event.op is op
        return event

    def insert(self, card: VirtualPermitCard) -> ChipCardPresent:
        self.slot.insert(card)
        event = self.expect(ChipCardPresent)
        assert isinstance(event, ChipCardPresent)
        return event

    def remove(self) -> None:
        self.slot.remove()
        self.expect(ChipCardRemoved)

    def close(self) -> None:
        self.encoder.stop()
        self.slot.remove()

    def reinsert_after_pull(self) -> None:
        """The card was pulled by a fault: wait until the encoder saw it go, then put it back."""
        assert self.slot.wait_removed(WAIT)
        self.expect(ChipCardRemoved)
        card = self.slot.card
        assert card is not None
        self.insert(card)


def _brief(event: object) -> str:
    if isinstance(event, StatusChanged):
        return f"status {event.status.state} media={event.status.media} detail={event.status.detail!r}"
    return repr(event)


@pytest.fixture
def make_rig(pcscd: Pcscd) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    reader, port = next(_lanes)
    # A card taken out by the last test on this slot must be gone for pcscd too, or pcscd would
    # take this test's card for that one.
    wait_reader_empty(reader)

    def make(keys: CardKeys = TEST_KEYS, prefix: str | None = None, poll_interval: float = 0.05,
             watch: bool = True) -> Rig:
        rig = Rig(CardSlot(port, reader=reader), keys, prefix or reader, poll_interval, watch)
        made.append(rig)
        rig.encoder.start()
        return rig

    yield make
    for rig in made:
        rig.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def permit_card(serial: str = SERIAL) -> VirtualPermitCard:
    return VirtualPermitCard.permit(serial, CONTENTS)


# --- status and presence ----------------------------------------------------------------------


def test_no_reader_is_no_device(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(prefix="No Such Reader")
    event = rig.expect_status(DeviceState.NO_DEVICE)
    assert event.status.detail == "no_reader"
    rig.encoder.read_card()
    assert rig.result(ChipOp.READ).error is ChipError.NO_DEVICE


def test_reader_online_and_card_presence(rig: Rig) -> None:
    online = rig.expect_status(DeviceState.ONLINE, MediaPosition.NONE)
    assert online.status.info.model == rig.reader
    rig.encoder.read_card()
    assert rig.result(ChipOp.READ).error is ChipError.NO_CARD
    rig.insert(permit_card())
    assert rig.encoder.status.media is MediaPosition.PRESENT
    rig.remove()
    assert rig.encoder.status.media is MediaPosition.NONE
    assert rig.encoder.status.state is DeviceState.ONLINE


def reader_event_counter(reader: str, above: int | None = None, timeout: float = WAIT) -> int:
    """pcscd's event counter of `reader` once it shows a card (and, with `above`, has counted past
    it): blocking in pcscd's SCardGetStatusChange, not polling here."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        state = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{reader}: pcscd did not count a new card within {timeout}s")
            hresult, states = scard.SCardGetStatusChange(context, int(left * 1000), [(reader, state)])
            if hresult == scard.SCARD_S_SUCCESS:
                state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                counter = (state >> 16) & 0xFFFF
                if state & scard.SCARD_STATE_PRESENT and (above is None or counter > above):
                    return counter
    finally:
        scard.SCardReleaseContext(context)


def test_back_to_back_cards_are_each_a_fresh_insertion(rig: Rig) -> None:
    """Issue 8, bug 4: cards moved in and out as fast as the printer can, each reported once, each
    with a number higher than any before, and a ChipCardRemoved between two of them."""
    rig.expect_status(DeviceState.ONLINE, MediaPosition.NONE)
    numbers = [rig.insert(VirtualPermitCard.blank(f"52500000000001{0:02X}")).insertion]
    assert rig.encoder.insertion == numbers[0]
    for i in range(1, 5):
        rig.slot.remove()  # and the next card at once: no wait for anyone to see this one leave
        rig.slot.insert(VirtualPermitCard.blank(f"52500000000001{i:02X}"))
        rig.expect(ChipCardRemoved)
        present = rig.expect(ChipCardPresent)
        assert isinstance(present, ChipCardPresent)
        numbers.append(present.insertion)
        assert rig.encoder.insertion == present.insertion
        rig.encoder.read_card()  # the card now in the field is the new one
        result = rig.result(ChipOp.READ)
        assert isinstance(result.data, ChipCardInfo) and result.data.serial.endswith(f"{i:02X}")
    assert numbers == sorted(set(numbers)) and numbers[0] >= 1, numbers
    rig.remove()
    assert rig.encoder.insertion == 0


def test_a_swap_between_two_polls_is_not_missed(make_rig: Callable[..., Rig]) -> None:
    """The encoder looks only when asked (a poll interval of a minute, no watcher): the card was
    swapped in between, and pcscd saw both the removal and the insertion. The status said "present"
    before and after; the reader's event counter tells, and the swap is reported as removal + insertion."""
    rig = make_rig(poll_interval=60.0, watch=False)
    rig.expect_status(DeviceState.ONLINE, MediaPosition.NONE)
    rig.slot.insert(VirtualPermitCard.blank("5250000000000201"))
    counter = reader_event_counter(rig.reader)
    rig.encoder.check_now()
    first = rig.expect(ChipCardPresent)
    assert isinstance(first, ChipCardPresent)
    for serial in ("5250000000000202", "5250000000000203"):
        rig.slot.remove()
        rig.slot.insert(VirtualPermitCard.blank(serial))
        counter = reader_event_counter(rig.reader, above=counter + 1)  # a removal and an insertion
        rig.encoder.check_now()
        rig.expect(ChipCardRemoved)
        fresh = rig.expect(ChipCardPresent)
        assert isinstance(fresh, ChipCardPresent) and fresh.insertion > first.insertion
        first = fresh
    rig.encoder.check_now()
    rig.encoder.read_card()  # nothing else was posted between: the same card, still there
    result = rig.result(ChipOp.READ)
    assert isinstance(result.data, ChipCardInfo) and result.data.serial == "5250000000000203"


def test_cards_are_seen_without_polling(make_rig: Callable[..., Rig]) -> None:
    """The worker looks by itself only once a minute here: every insertion and removal is reported
    because the watcher waits in pcscd's SCardGetStatusChange and wakes the worker when the reader's
    state changes. A command does not wait for the watcher, and stop ends its wait in pcscd."""
    rig = make_rig(poll_interval=60.0)
    rig.expect_status(DeviceState.ONLINE, MediaPosition.NONE)
    for i in range(3):
        present = rig.insert(VirtualPermitCard.blank(f"52500000000003{i:02X}"))
        rig.encoder.read_card()
        assert rig.result(ChipOp.READ).error is ChipError.NOT_A_PERMIT_CARD
        assert rig.encoder.insertion == present.insertion
        rig.remove()
    rig.encoder.stop()
    assert rig.encoder.status.state is DeviceState.OFFLINE


# --- vpcd's ports (issue 8, bug 6) -----------------------------------------------------------


def test_vpcd_listens_below_the_ephemeral_range(pcscd: Pcscd) -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert pcscd.port == VPCD_PORT and all(p < low for p in vpcd_ports(pcscd.port))
    for port in vpcd_ports(VPCD_PORT):  # held by vpcd's own listeners now
        with pytest.raises(VpcdPortError, match=f"TCP port {port}: already in use.*LISTEN") as caught:
            check_port(port)
        assert caught.value.port == port
    conf = write_reader_conf(VPCD_PORT)
    assert vpcd_ports_in(conf) == (VPCD_PORT,)
    assert f"/dev/null:{VPCD_PORT}" in (conf / "vpcd").read_text()
    if Path("/etc/reader.conf.d/vpcd").exists():  # Debian's: a pcscd started with it is not reused
        assert vpcd_ports_in(Path("/etc/reader.conf.d")) == (35963,)


def test_a_port_in_the_ephemeral_range_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(VpcdPortError, match=r"35963.*ephemeral range") as caught:
        start_pcscd(tmp_path / "pcscd.log", vpcd_port=35963, lock_timeout=0.1)
    assert caught.value.port == 35963


def test_a_port_taken_by_another_socket_is_a_plain_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(VpcdPortError, match=f"port {port}"):
            check_port(port)
    with socket.socket() as holder:  # a fixed port of our own range, held by a listener
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("0.0.0.0", VPCD_PORT + 100))
        holder.listen()
        with pytest.raises(VpcdPortError, match=f"TCP port {VPCD_PORT + 100}: already in use"):
            check_port(VPCD_PORT + 99)


def test_a_running_pcscd_is_reused_only_on_our_ports(pcscd: Pcscd) -> None:
    same = reuse_running(VPCD_PORT, "Virtual PCD")
    assert not same.owned and same.port == VPCD_PORT and len(same.readers) == 2
    with pytest.raises(ForeignPcscd, match=f"port\\(s\\) {VPCD_PORT}, {VPCD_PORT + 1}, not on {VPCD_PORT + 10}"):
        reuse_running(VPCD_PORT + 10, "Virtual PCD")


def test_a_card_for_a_port_nobody_listens_on_names_it() -> None:
    slot = CardSlot(VPCD_PORT + 200)
    with pytest.raises(VpcdUnreachable, match=f":{VPCD_PORT + 200}"):
        slot.insert(VirtualPermitCard.blank(SERIAL))
    assert not slot.inserted


# --- reading --------------------------------------------------------------------------------


def test_read_permit_card(rig: Rig) -> None:
    rig.insert(permit_card())
    rig.encoder.read_card()
    result = rig.result(ChipOp.READ)
    assert result.ok, result
    data = result.data
    assert isinstance(data, PermitChipData)
    assert data.card == ChipCardInfo(SERIAL, 1, CardKind.PERMIT)
    assert data.contents == CONTENTS
    assert data.validity_sequence == 1
    text = repr(result)
    for secret in (CONTENTS.name, CONTENTS.id_number, "新安路", "漕溪北路"):
        assert secret not in text


def test_read_blank_and_technician_cards(rig: Rig) -> None:
    rig.insert(VirtualPermitCard.blank(SERIAL))
    rig.encoder.read_card()
    result = rig.result(ChipOp.READ)
    assert result.error is ChipError.NOT_A_PERMIT_CARD
    assert result.data == ChipCardInfo(SERIAL, 1, CardKind.BLANK)
    rig.remove()

    rig.insert(VirtualPermitCard.technician("5254000000000009", "T-0042", "271828"))
    rig.encoder.read_card()
    assert rig.result(ChipOp.READ).error is ChipError.NOT_A_PERMIT_CARD
    rig.encoder.read_technician_card()
    result = rig.result(ChipOp.READ_TECHNICIAN)
    assert result.ok, result
    assert isinstance(result.data, TechnicianChipData)
    assert result.data.technician_id == "T-0042"
    assert rig.encoder.pin_matches(result.data, "271828")
    assert not rig.encoder.pin_matches(result.data, "271829")


# --- personalisation ------------------------------------------------------------------------


def test_personalise_blank_card_then_read_back(rig: Rig) -> None:
    rig.insert(VirtualPermitCard.blank(SERIAL))
    rig.encoder.personalise(CONTENTS)
    result = rig.result(ChipOp.PERSONALISE)
    assert result.ok, result
    assert isinstance(result.data, PermitChipData)
    rig.encoder.read_card()
    read = rig.result(ChipOp.READ)
    assert read.ok, read
    assert read.data == result.data
    assert isinstance(read.data, PermitChipData)
    assert read.data.contents == CONTENTS
    assert read.data.card == ChipCardInfo(SERIAL, 1, CardKind.PERMIT)


def test_personalise_refuses_an_issued_card(rig: Rig) -> None:
    card = permit_card()
    before = {fid: card.file(fid) for fid in Fid}
    rig.insert(card)
    other = dataclasses.replace(CONTENTS, permit_number="310000202400099")
    rig.encoder.personalise(other)
    result = rig.result(ChipOp.PERSONALISE)
    assert result.error is ChipError.NOT_A_BLANK_CARD
    assert {fid: card.file(fid) for fid in Fid} == before


def test_personalise_refuses_data_that_does_not_fit(rig: Rig) -> None:
    card = VirtualPermitCard.blank(SERIAL)
    rig.insert(card)
    rig.encoder.personalise(dataclasses.replace(CONTENTS, photo=b"\xff\xd8\xff" + bytes(9000)))
    assert rig.result(ChipOp.PERSONALISE).error is ChipError.INVALID_DATA
    assert decode_card_info(card.file(Fid.CARD_INFO)).kind is CardKind.BLANK


def test_card_pulled_mid_personalisation_stays_blank(rig: Rig) -> None:
    card = VirtualPermitCard.blank(SERIAL)
    rig.insert(card)
    rig.slot.pull_at(ins=0xD6, after=4, mode=PullMode.TEAR)  # inside the photo
    rig.encoder.personalise(CONTENTS)
    assert rig.result(ChipOp.PERSONALISE).error is ChipError.CARD_REMOVED
    rig.reinsert_after_pull()
    rig.encoder.read_card()
    result = rig.result(ChipOp.READ)
    assert result.error is ChipError.NOT_A_PERMIT_CARD
    assert result.data == ChipCardInfo(SERIAL, 1, CardKind.BLANK)
    rig.encoder.personalise(CONTENTS)  # the same card can be personalised again
    assert rig.result(ChipOp.PERSONALISE).ok


# --- validity writes ------------------------------------------------------------------------

NEW_FROM, NEW_UNTIL = date(2025, 3, 1), date(2026, 3, 1)
NEW_VALIDITY = PermitValidity(VALIDITY.issue_date, NEW_FROM, NEW_UNTIL, 1)


def test_write_validity_with_the_right_key(rig: Rig) -> None:
    rig.insert(permit_card())
    rig.encoder.write_validity(NEW_FROM, NEW_UNTIL, 1)
    result = rig.result(ChipOp.WRITE_VALIDITY)
    assert result.ok, result
    assert result.data == NEW_VALIDITY
    rig.encoder.write_validity(date(2026, 3, 1), date(2027, 3, 1), 2)
    assert rig.result(ChipOp.WRITE_VALIDITY).ok
    rig.encoder.read_card()
    read = rig.result(ChipOp.READ)
    assert isinstance(read.data, PermitChipData)
    assert read.data.contents.validity == PermitValidity(VALIDITY.issue_date, date(2026, 3, 1), date(2027, 3, 1), 2)
    assert read.data.validity_sequence == 3
    assert dataclasses.replace(read.data.contents, validity=VALIDITY) == CONTENTS


def test_wrong_key_is_refused(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(keys=WRONG_KEYS)
    card = permit_card()
    before = card.file(Fid.VALIDITY)
    rig.insert(card)
    rig.encoder.write_validity(NEW_FROM, NEW_UNTIL, 1)
    result = rig.result(ChipOp.WRITE_VALIDITY)
    assert result.error is ChipError.AUTH_FAILED
    assert result.sw == StatusWord.AUTH_FAILED
    assert card.file(Fid.VALIDITY) == before


def test_refused_mac_is_a_write_failure(rig: Rig) -> None:
    card = permit_card()
    before = card.file(Fid.VALIDITY)
    rig.insert(card)
    rig.slot.fail_next(StatusWord.SM_DATA_INCORRECT, ins=0xD6)
    rig.encoder.write_validity(NEW_FROM, NEW_UNTIL, 1)
    result = rig.result(ChipOp.WRITE_VALIDITY)
    assert result.error is ChipError.WRITE_FAILED
    assert result.sw == StatusWord.SM_DATA_INCORRECT
    assert card.file(Fid.VALIDITY) == before


@pytest.mark.parametrize("mode", [PullMode.BEFORE, PullMode.TEAR, PullMode.AFTER])
def test_card_pulled_mid_write(rig: Rig, mode: PullMode) -> None:
    card = permit_card()
    rig.insert(card)
    rig.slot.pull_at(ins=0xD6, mode=mode)
    rig.encoder.write_validity(NEW_FROM, NEW_UNTIL, 1)
    assert rig.result(ChipOp.WRITE_VALIDITY).error is ChipError.CARD_REMOVED

    state = decode_validity_ef(card.file(Fid.VALIDITY))
    assert state.torn_slots == ((1,) if mode is PullMode.TEAR else ())  # detectable, and not the current one
    rig.reinsert_after_pull()
    rig.encoder.read_card()
    read = rig.result(ChipOp.READ)
    assert read.ok, read
    assert isinstance(read.data, PermitChipData)
    expected = NEW_VALIDITY if mode is PullMode.AFTER else VALIDITY  # consistently new or consistently old
    assert read.data.contents.validity == expected
    rig.encoder.write_validity(NEW_FROM, NEW_UNTIL, 1)  # and the card takes the write again
    assert rig.result(ChipOp.WRITE_VALIDITY).ok


# --- the card's security, APDU by APDU through pcscd -----------------------------------------


class Raw:
    """A plain pyscard connection to the card, for the refusals the driver never provokes."""

    def __init__(self, name: str) -> None:
        reader = next(r for r in readers() if str(r).startswith(name))
        self.connection = reader.createConnection()
        self.connection.connect()
        self.keys = own_keys(TEST_KEYS, bytes.fromhex(SERIAL))

    def send(self, cmd: CommandApdu) -> Response:
        data, sw1, sw2 = self.connection.transmit(list(cmd.encode()))
        return Response(bytes(data), sw1, sw2)

    def sw(self, cmd: CommandApdu) -> int:
        return self.send(cmd).sw

    def challenge(self) -> bytes:
        response = self.send(get_challenge())
        assert response.ok and len(response.data) == 8
        return response.data

    def authenticate(self, ref: KeyRef = KeyRef.WRITE) -> bytes:
        challenge = self.challenge()
        assert self.sw(external_authenticate(ref, auth_cryptogram(self.keys.for_ref(ref), challenge))) == 0x9000
        return challenge

    def close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
            self.connection.release()
            self.connection = None


@pytest.fixture
def raw(rig: Rig) -> Iterator[Raw]:
    rig.insert(permit_card())
    raw = Raw(rig.reader)
    assert raw.sw(select_aid(AID)) == 0x9000
    yield raw
    raw.close()


def _slot_update(raw: Raw, challenge: bytes, counter: int, *, key: bytes | None = None) -> CommandApdu:
    data = bytes(64)
    mac = command_mac(key or raw.keys.write, sm_update_mac_input(challenge, counter, 64, data))
    return sm_update_binary(64, data, mac)


def test_card_refuses_wrong_cryptogram(raw: Raw) -> None:
    challenge = raw.challenge()
    assert raw.sw(external_authenticate(KeyRef.WRITE, auth_cryptogram(bytes(16), challenge))) == 0x6300
    assert raw.sw(select_ef(Fid.VALIDITY)) == 0x9000
    assert raw.sw(_slot_update(raw, challenge, 0)) == 0x6982  # not authenticated


def test_card_refuses_wrong_mac(raw: Raw) -> None:
    challenge = raw.authenticate()
    assert raw.sw(select_ef(Fid.VALIDITY)) == 0x9000
    assert raw.sw(_slot_update(raw, challenge, 0, key=bytes(16))) == 0x6988
    assert raw.sw(_slot_update(raw, challenge, 0)) == 0x6982  # a forged MAC ended the session


def test_card_refuses_replayed_or_stale_challenge(raw: Raw) -> None:
    challenge = raw.challenge()
    cryptogram = auth_cryptogram(raw.keys.write, challenge)
    assert raw.sw(external_authenticate(KeyRef.WRITE, cryptogram)) == 0x9000
    assert raw.sw(external_authenticate(KeyRef.WRITE, cryptogram)) == 0x6985  # replayed: challenge used
    assert raw.sw(external_authenticate(KeyRef.WRITE, cryptogram)) == 0x6985  # no challenge at all
    stale = raw.challenge()
    assert raw.sw(select_ef(Fid.VALIDITY)) == 0x9000  # anything between makes the challenge stale
    assert raw.sw(external_authenticate(KeyRef.WRITE, auth_cryptogram(raw.keys.write, stale))) == 0x6985


def test_card_refuses_replayed_command(raw: Raw) -> None:
    challenge = raw.authenticate()
    assert raw.sw(select_ef(Fid.VALIDITY)) == 0x9000
    command = _slot_update(raw, challenge, 0)
    assert raw.sw(command) == 0x9000
    assert raw.sw(command) == 0x6988  # the counter moved on


def test_card_refuses_write_without_auth(raw: Raw) -> None:
    assert raw.sw(select_ef(Fid.VALIDITY)) == 0x9000
    assert raw.sw(update_binary(64, bytes(64))) == 0x6982
    assert raw.sw(_slot_update(raw, bytes(8), 0)) == 0x6982
    raw.authenticate(KeyRef.WRITE)
    assert raw.sw(select_ef(Fid.HOLDER)) == 0x9000
    assert raw.sw(update_binary(0, bytes(8))) == 0x6982  # plain updates never
    challenge = raw.authenticate(KeyRef.WRITE)
    assert raw.sw(select_ef(Fid.HOLDER)) == 0x9000
    assert raw.sw(_slot_update(raw, challenge, 0)) == 0x6982  # the write key may not touch the holder


def test_apdu_round_trip_time(raw: Raw, rig: Rig) -> None:
    assert raw.sw(select_ef(Fid.HOLDER)) == 0x9000
    times = []
    for _ in range(300):
        started = time.perf_counter()
        response = raw.send(read_binary(0, 16))
        times.append((time.perf_counter() - started) * 1000)
        assert response.ok
    times.sort()
    raw.close()  # the encoder connects exclusively
    started = time.perf_counter()
    rig.encoder.read_card()
    assert rig.result(ChipOp.READ).ok
    whole = (time.perf_counter() - started) * 1000
    print(f"\nAPDU round trip through pyscard/pcscd/vpcd (READ BINARY 16 bytes, n={len(times)}): "
          f"mean {statistics.fmean(times):.3f} ms, median {times[len(times) // 2]:.3f} ms, "
          f"p95 {times[int(len(times) * 0.95)]:.3f} ms, max {times[-1]:.3f} ms; "
          f"read_card with a {len(PHOTO)}-byte photo: {whole:.1f} ms")
