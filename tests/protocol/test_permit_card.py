"""The permit card chip end to end: PermitCardEncoder -> pyscard -> a real pcscd -> vpcd -> the virtual card.

pcscd is started here (or a running one offering the vpcd readers is used); if neither works
the tests fail with pcscd's own words, they are never skipped. No sleeps: every wait is on the
encoder's event queue (get with a timeout) or on pcscd's own blocking status call.
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import date

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
from sim.pcscd import Pcscd, PcscdError, start_pcscd
from sim.permit_card_emu import TEST_KEYS, CardSlot, PullMode, VirtualPermitCard

READER = "Virtual PCD 00 00"
# vpcd's two slots. Tests take turns, so that pcscd's 0.4 s poll notices one slot's card leave
# while the next test already runs on the other.
LANES = (("Virtual PCD 00 00", 35963), ("Virtual PCD 00 01", 35964))
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
        daemon = start_pcscd(log, ready_timeout=10.0, reader_prefix="Virtual PCD")
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
    def __init__(self, slot: CardSlot, keys: CardKeys, reader: str) -> None:
        self.slot = slot
        self.reader = reader
        self.events: queue.Queue[object] = queue.Queue()
        self.seen: list[object] = []
        self.encoder = PermitCardEncoder(reader, self.events.put, keys=keys, poll_interval=0.05)

    def expect(self, kind: type, timeout: float = WAIT) -> object:
        """The next event of `kind`; status changes on the way are skipped, anything else fails."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {kind.__name__} within {timeout}s")
            self.seen.append(event)
            if isinstance(event, kind):
                return event
            if not isinstance(event, StatusChanged):
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

    def insert(self, card: VirtualPermitCard) -> None:
        self.slot.insert(card)
        self.expect(ChipCardPresent)

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

    def make(keys: CardKeys = TEST_KEYS, prefix: str | None = None) -> Rig:
        rig = Rig(CardSlot(port), keys, prefix or reader)
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
