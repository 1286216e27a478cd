"""The permit card encoder's adapter: the chip reader inside the card printer, over PC/SC.

Commands return at once; the worker thread talks to pcscd through pyscard and posts exactly
one ChipResult per command. Between commands it looks at the reader's state (no connection, so
the card is never powered up just to be looked at) and posts ChipCardPresent/ChipCardRemoved
and StatusChanged. Each operation connects exclusively, runs, and disconnects with the card
unpowered, so an authentication never outlives the operation that made it.

The card may leave the field at any APDU: pyscard raises, the adapter waits (bounded) for
pcscd to see the reader empty, and the result is CARD_REMOVED; the profile's write order
(commit record last, validity in two slots) keeps the card's files consistent. Nothing here
knows whether the card is real or virtual, and nothing personal is logged: the adapter posts
DeviceLogged notes (fixed codes: op, error, status word, milliseconds) to its sink instead of
logging, and never names the card's holder.

The adapter does not poll for cards: a watcher thread blocks in pcscd's SCardGetStatusChange
(on a context of its own, with a timeout so that it can stop) and, whenever the reader's state
changes, has the worker look at once. The worker itself looks again only every `poll_interval`
seconds, as a backstop and to find a reader that is not there yet; a command never waits for the
watcher, which has its own context.

Every card that enters the field is a fresh insertion with a number higher than any before it
(ChipCardPresent.insertion, counted by the adapter from 1). pcscd's per-reader event counter
(high word of SCardGetStatusChange's dwEventState) tells a card swapped between two polls from
the same card still there, so no remove+insert pair is ever missed; a stale "present" of the
previous card is never taken for the card just moved in.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time
from collections.abc import Callable
from datetime import date

from smartcard import scard
from smartcard.Exceptions import CardConnectionException, NoCardException, SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.reader.Reader import Reader
from smartcard.System import readers as pcsc_readers

from devices import chip_operations as ops
from devices.chip_keys import CardKeys, KeyService, KeyServiceError, SoftwareKeyService
from devices.chip_operations import CardLink, ChipLost, ChipRefused
from devices.events import (
    ChipCardPresent,
    ChipCardRemoved,
    ChipError,
    ChipOp,
    ChipResult,
    DeviceLogged,
    DeviceNote,
)
from devices.pcsc_watch import ReaderWatcher
from devices.permit_profile import PermitContents, ProfileError, TechnicianChipData, parse_serial
from devices.publish import post_safely, publish
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus, MediaPosition
from devices.worker import Worker, crash_reporter

UNANSWERED_LIMIT = 3
WATCHED_POLL = 2.0  # seconds between the worker's own looks while the watcher waits in pcscd


# Context errors after which the context is useless: pcscd stopped or restarted.
_SERVICE_GONE = {
    scard.SCARD_E_NO_SERVICE,
    scard.SCARD_E_SERVICE_STOPPED,
    scard.SCARD_E_INVALID_HANDLE,
    scard.SCARD_F_COMM_ERROR,
}
_READER_GONE = {scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE, scard.SCARD_E_NO_READERS_AVAILABLE}



class PermitCardEncoder:
    def __init__(
        self,
        reader_name_prefix: str,
        sink: Callable[[object], None],
        *,
        keys: CardKeys | KeyService,
        poll_interval: float = 0.2,
        removal_grace: float = 1.5,
        watch: bool = True,
        watch_timeout: float = 0.5,
    ) -> None:
        """`keys`: master keys (a SoftwareKeyService is made of them) or any KeyService, e.g. a PSAM's.
        `removal_grace`: how long a failed exchange waits for pcscd to report the card gone
        before it counts as a communication fault (pcscd polls some readers every 0.4 s).
        `watch`: a watcher thread waits in pcscd for the reader's changes (False: the worker
        only polls, every `poll_interval`). `watch_timeout`: the longest one wait in pcscd lasts,
        which bounds how long `stop` may take when pcscd misses the cancel."""
        self._prefix = reader_name_prefix
        self._sink = sink
        self._keys: KeyService = SoftwareKeyService(keys) if isinstance(keys, CardKeys) else keys
        self._poll_interval = poll_interval
        self._removal_grace = removal_grace
        self._watch = watch
        self._reader_found = threading.Event()  # set by the worker while it knows the reader
        self._watcher = ReaderWatcher(
            "permit-card-watch", lambda: self._reader, lambda: self._worker.submit(self._poll),
            found=self._reader_found, timeout_ms=max(1, int(watch_timeout * 1000)), backoff=min(poll_interval, 0.5))
        self._worker = Worker("permit-card", idle=self._tick, on_crash=crash_reporter(sink, DeviceKind.PERMIT_CARD))
        self._status = DeviceStatus(DeviceKind.PERMIT_CARD, DeviceState.OFFLINE, detail="not_started")
        # Worker-thread state only.
        self._context: int | None = None
        self._reader: str | None = None
        self._present = False
        self._events = -1  # pcsc-lite's insertion/removal counter of the reader, -1 unknown
        self._insertions = 0  # fresh insertions seen since start: ChipCardPresent.insertion
        self._insertion = 0  # the number of the card in the field now, 0 when none
        self._unanswered = 0  # polls in a row where the listed reader reported no usable state

    # --- public, any thread -------------------------------------------------------------------

    @property
    def status(self) -> DeviceStatus:
        return self._status

    def start(self) -> None:
        self._worker.start()
        if self._watch and not self._watcher.running:
            if self._reader is None:
                self._reader_found.clear()
            self._watcher.start()

    def stop(self) -> None:
        self._watcher.stop()
        self._worker.stop()
        self._release_context()
        self._set_status(state=DeviceState.OFFLINE, detail="stopped", media=MediaPosition.NONE)

    @property
    def insertion(self) -> int:
        """The insertion number of the card in the field now (as its ChipCardPresent said), 0 when none."""
        return self._insertion

    def check_now(self) -> None:
        """Poll the reader at once (as the worker's next job) instead of at the next poll interval;
        posts only what changed (StatusChanged, ChipCardPresent, ChipCardRemoved)."""
        self._worker.submit(self._poll)

    def read_card(self) -> None:
        """Posts ChipResult(READ) with PermitChipData."""
        self._submit(ChipOp.READ, ops.read_permit)

    def read_technician_card(self) -> None:
        """Posts ChipResult(READ_TECHNICIAN) with TechnicianChipData."""
        self._submit(ChipOp.READ_TECHNICIAN, ops.read_technician)

    def personalise(self, data: PermitContents) -> None:
        """Blank card -> permit. Posts ChipResult(PERSONALISE) with the PermitChipData read back."""
        self._submit(ChipOp.PERSONALISE, lambda card: ops.personalise(card, self._keys, data))

    def write_validity(self, valid_from: date, valid_until: date, endorsement_count: int) -> None:
        """Authenticated validity update. Posts ChipResult(WRITE_VALIDITY) with the PermitValidity read back."""
        self._submit(ChipOp.WRITE_VALIDITY,
                     lambda card: ops.write_validity(card, self._keys, valid_from, valid_until, endorsement_count))

    def pin_matches(self, card: TechnicianChipData, pin: str) -> bool:
        """Whether `pin` is the PIN of this technician card (compares verification values)."""
        try:
            expected = self._keys.pin_verification_value(parse_serial(card.card.serial), card.technician_id, pin)
        except (KeyServiceError, ProfileError):
            return False
        return hmac.compare_digest(expected, card.pin_verification_value)

    def _submit(self, op: ChipOp, body: Callable[[CardLink], ChipResult]) -> None:
        self._worker.submit(lambda: self._post(self._run(op, body)))

    def _run(self, op: ChipOp, body: Callable[[CardLink], ChipResult]) -> ChipResult:
        self._note(DeviceNote.OPERATION_STARTED, f"op={op.value}")
        started = time.monotonic()
        try:
            result = self._connected(op, body)
        except Exception as exc:  # a bug here must still end in one typed result
            self._note(DeviceNote.JOB_CRASHED, f"op={op.value} exception={type(exc).__name__}")
            result = ChipResult(op, False, ChipError.COMMUNICATION)
        elapsed = round((time.monotonic() - started) * 1000)
        if result.ok:
            self._note(DeviceNote.OPERATION_ENDED, f"op={op.value} ms={elapsed}")
        else:
            sw = f"{result.sw:04X}" if result.sw is not None else "-"
            error = result.error.value if result.error is not None else "-"
            self._note(DeviceNote.OPERATION_FAILED, f"op={op.value} error={error} sw={sw} ms={elapsed}")
        return result

    def _connected(self, op: ChipOp, body: Callable[[CardLink], ChipResult]) -> ChipResult:
        reader = self._find_reader_object()
        if reader is None:
            return ChipResult(op, False, ChipError.NO_DEVICE)
        self._reader = self._reader or str(reader)  # a command can run before the first poll
        connection = reader.createConnection()
        try:
            try:
                connection.connect(mode=scard.SCARD_SHARE_EXCLUSIVE, disposition=scard.SCARD_UNPOWER_CARD)
            except NoCardException:
                return ChipResult(op, False, ChipError.NO_CARD)
            except CardConnectionException as exc:
                lost = self._classify_loss(exc.hresult, None)
                return ChipResult(op, False, ChipError.NO_CARD if lost is ChipError.CARD_REMOVED else lost)
            connected = self._reader_state(timeout_ms=0)
            insertions = _counter(connected) if connected is not None else None
            try:
                return body(CardLink(connection))
            except ChipRefused as refused:
                return ChipResult(op, False, refused.error, data=refused.data, sw=refused.sw)
            except ProfileError as exc:
                self._note(DeviceNote.RECORD_CORRUPT, f"op={op.value} code={exc.code}")
                return ChipResult(op, False, ChipError.CORRUPT_DATA)
            except KeyServiceError:
                return ChipResult(op, False, ChipError.SECURITY_MODULE)
            except ChipLost as lost:
                return ChipResult(op, False, self._classify_loss(lost.hresult, insertions))
        finally:
            # The card, reader or service may be gone: there is nothing left to hand back then.
            with contextlib.suppress(SmartcardException):
                connection.disconnect()
            with contextlib.suppress(SmartcardException):
                connection.release()

    def _find_reader_object(self) -> Reader | None:
        try:
            found = [r for r in pcsc_readers() if str(r).startswith(self._prefix)]
        except (SmartcardException, BaseSCardException):  # no pcscd: the second family is pyscard's
            return None
        return found[0] if found else None

    def _classify_loss(self, hresult: int, insertions: int | None) -> ChipError:
        """Why an exchange failed: the card left (pcscd sees the reader empty, or counts another
        insertion, within the grace period), the reader or service went away, or neither (a
        communication fault). `insertions`: the reader's event counter when the card was connected."""
        if hresult in _SERVICE_GONE or hresult in _READER_GONE:
            return ChipError.NO_DEVICE
        if hresult in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD):
            return ChipError.CARD_REMOVED
        deadline = time.monotonic() + self._removal_grace
        state = self._reader_state(timeout_ms=0)
        while True:
            if state is None:
                return ChipError.NO_DEVICE
            swapped = insertions is not None and _counter(state) != insertions
            if swapped or not state & scard.SCARD_STATE_PRESENT:
                return ChipError.CARD_REMOVED
            left = deadline - time.monotonic()
            if left <= 0:
                return ChipError.COMMUNICATION
            # Blocks in pcscd until the reader's state changes or the time is up: no polling here.
            state = self._reader_state(timeout_ms=int(left * 1000) + 1, current=state)

    # --- polling (worker) ---------------------------------------------------------------------

    def _tick(self) -> float:
        self._poll()
        if self._watcher.running and self._reader is not None:
            return max(self._poll_interval, WATCHED_POLL)  # the watcher reports changes; this is a backstop
        return self._poll_interval

    def _poll(self) -> None:
        if not self._ensure_context():
            self._lose_reader("no_pcsc_service")
            return
        reader = self._find_reader_name()
        if reader is None:
            self._lose_reader("no_reader")
            return
        if reader != self._reader:
            self._note(DeviceNote.READER_FOUND)
            self._reader, self._events = reader, -1
            self._reader_found.set()
        state = self._reader_state(timeout_ms=0)
        if state is None:
            # Listed but without a usable state: one such answer can be a hiccup, several are not.
            self._unanswered += 1
            if self._unanswered >= UNANSWERED_LIMIT:
                self._lose_reader("reader_unavailable")
            return
        self._unanswered = 0
        self._set_status(state=DeviceState.ONLINE, detail="", info=DeviceInfo(model=reader))
        present = bool(state & scard.SCARD_STATE_PRESENT)
        events = _counter(state)
        # The counter moved while we saw "present" both times: the card was swapped between polls.
        swapped = present and self._present and self._events >= 0 and events != self._events
        self._events = events
        if swapped:
            self._card_left()
        if present and not self._present:
            self._present = True
            self._insertions += 1
            self._insertion = self._insertions
            self._set_status(media=MediaPosition.PRESENT)
            self._post(ChipCardPresent(insertion=self._insertions))
        elif not present and self._present:
            self._card_left()

    def _card_left(self) -> None:
        self._present = False
        self._insertion = 0
        self._set_status(media=MediaPosition.NONE)
        self._post(ChipCardRemoved())

    def _lose_reader(self, detail: str) -> None:
        if self._present:
            self._card_left()
        self._reader = None
        if not self._watcher.stopping:
            self._reader_found.clear()
        self._set_status(state=DeviceState.NO_DEVICE, detail=detail, media=MediaPosition.NONE)

    def _ensure_context(self) -> bool:
        if self._context is not None:
            return True
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            return False
        self._context = context
        return True

    def _release_context(self) -> None:
        if self._context is not None:
            scard.SCardReleaseContext(self._context)
            self._context = None

    def _find_reader_name(self) -> str | None:
        assert self._context is not None
        hresult, names = scard.SCardListReaders(self._context, [])
        if hresult in _SERVICE_GONE:
            self._release_context()
            return None
        if hresult != scard.SCARD_S_SUCCESS:
            return None
        return next((n for n in names if n.startswith(self._prefix)), None)

    def _reader_state(self, timeout_ms: int, current: int = scard.SCARD_STATE_UNAWARE) -> int | None:
        """The reader's event state (SCARD_STATE_* bits; counter in the high word), None when the
        reader or service is gone. With `current`, waits up to `timeout_ms` for a change."""
        if self._reader is None or not self._ensure_context():
            return None
        hresult, states = scard.SCardGetStatusChange(self._context, timeout_ms, [(self._reader, current)])
        if hresult == scard.SCARD_E_TIMEOUT:
            return current if current != scard.SCARD_STATE_UNAWARE else None
        if hresult in _SERVICE_GONE:
            self._release_context()
            return None
        if hresult != scard.SCARD_S_SUCCESS or not states:
            return None
        state = int(states[0][1])
        if state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            return None
        return state & ~scard.SCARD_STATE_CHANGED

    # --- status and events --------------------------------------------------------------------

    def _set_status(self, *, state: DeviceState | None = None, detail: str | None = None,
                    media: MediaPosition | None = None, info: DeviceInfo | None = None) -> None:
        updated = self._status.changed(state=state, detail=detail, media=media, info=info)
        self._status = publish(self._status, updated, self._sink, "permit card")

    def _post(self, event: object) -> None:
        post_safely(self._sink, event, "permit card")

    def _note(self, note: DeviceNote, detail: str = "") -> None:
        self._post(DeviceLogged(DeviceKind.PERMIT_CARD, note, detail))


def _counter(state: int) -> int:
    """pcsc-lite counts card insertions and removals in the high word of a reader's event state."""
    return (state >> 16) & 0xFFFF
