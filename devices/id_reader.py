"""The ID card reader adapter: a GA 467 SAM on a serial port, polled from its own worker thread.

Every method returns at once; results reach the sink as events (devices.events). The worker
owns the port: it opens it, notices when it vanishes and reopens it by itself. Every wait is
bounded (response_timeout per attempt, retries + 1 attempts), and the worker sleeps between
polls on its job queue, so a new command wakes it at once.

One read per placement: after a successful read the real SAM refuses `find` for that card
until it has been lifted and placed again. After a failed read the card still answers `find`,
and the SAM cannot say whether it is the same placement or the card was lifted and put back
between two polls; so the driver does not wait for a lift it may never see: it reads the card
again, silently, every `reread_interval` seconds while the failure may be transient (read
failed, select failed, a damaged line), and posts the outcome only when it succeeds. One
failing card thus gives one IdReadFailed per placement, never one per poll. A card the SAM
rejects outright (unknown card) waits for a lift.

Transient faults are confirmed before anyone hears of them (issue 15): a "reader fault" answer
(a SAM or communication status such as 21, 33 or one GA 467 lacks; no valid reply after every
resend) is asked again, the whole select+read, status request or find, up to `fault_confirm`
operations in all (3). Only when all fail: a read posts HARDWARE_ERROR (held until a lift or a
good status reply), then IdReadFailed; a status request or find, HARDWARE_ERROR or OFFLINE. A
cured fault is one TRANSIENT_FAULT note. Worst case before a fault shows: fault_confirm x
(retries + 1) x response_timeout of silence (3 x 3 x 0.5 s = 4.5 s); a wrong status, 3 round trips.
"""

from __future__ import annotations

import termios
import time
from collections.abc import Callable

from devices.events import (
    DeviceLogged,
    DeviceNote,
    IdCardLifted,
    IdCardPlaced,
    IdCardRead,
    IdReaderError,
    IdReadFailed,
)
from devices.ga467 import (
    MAX_FRAME,
    PHOTO_LEN,
    TEXT_LEN,
    Command,
    FrameError,
    Reply,
    ReplyDecoder,
    Sw3,
    build_command,
    format_sam_id,
    parse_read_data,
)
from devices.publish import post_safely, publish
from devices.serial_port import PortGone, SerialPort
from devices.status import DeviceInfo, DeviceKind, DeviceState, DeviceStatus, MediaPosition
from devices.worker import Worker, crash_reporter

# Consecutive failed finds before a present card counts as lifted: one miss can be the card
# sliding on the reader's surface.
LIFT_DEBOUNCE = 2

# What a select/read status means to the kiosk. Statuses absent here are COMMUNICATION.
_READ_ERRORS: dict[Sw3, IdReaderError] = {
    Sw3.FIND_FAILED: IdReaderError.NO_CARD,
    Sw3.SELECT_FAILED: IdReaderError.NO_CARD,
    Sw3.READ_FAILED: IdReaderError.READ_FAILED,
    Sw3.NO_CONTENT: IdReaderError.READ_FAILED,
    Sw3.INFO_LENGTH_ERROR: IdReaderError.READ_FAILED,
    Sw3.UNKNOWN_CARD: IdReaderError.UNKNOWN_CARD,
    Sw3.UNAUTHORISED_OPERATION: IdReaderError.SAM_FAULT,
    Sw3.CARD_AUTH_SAM_FAILED: IdReaderError.SAM_FAULT,
    Sw3.SAM_AUTH_CARD_FAILED: IdReaderError.SAM_FAULT,
    Sw3.VERIFY_FAILED: IdReaderError.SAM_FAULT,
    Sw3.FINGERPRINT_VERIFY_FAILED: IdReaderError.SAM_FAULT,
    Sw3.RANDOM_FAILED: IdReaderError.SAM_FAULT,
    Sw3.SAM_SELF_TEST_FAILED: IdReaderError.SAM_FAULT,
    Sw3.SAM_NOT_AUTHORISED: IdReaderError.SAM_FAULT,
}

# Statuses that mean the SAM itself is unusable, whatever command they answer.
_SAM_DOWN: dict[Sw3, str] = {
    Sw3.SAM_SELF_TEST_FAILED: "sam_self_test",
    Sw3.SAM_NOT_AUTHORISED: "sam_not_authorised",
}

# The SAM says it received our frame damaged: sending it again is the cure.
_RESEND = (Sw3.CHECKSUM_ERROR, Sw3.LENGTH_ERROR)

# Read failures that look like a reader fault: confirmed by fault_confirm attempts first.
_FAULTY = (IdReaderError.COMMUNICATION, IdReaderError.SAM_FAULT)

# Failures worth reading the same placement again for: the card moved in the field or the
# line was noisy. An unknown card or a failed authentication will not get better by itself.
_TRANSIENT = (IdReaderError.READ_FAILED, IdReaderError.NO_CARD, IdReaderError.COMMUNICATION)


def error_for(sw3: int) -> IdReaderError:
    try:
        return _READ_ERRORS.get(Sw3(sw3), IdReaderError.COMMUNICATION)
    except ValueError:
        return IdReaderError.COMMUNICATION


class IdReader:
    def __init__(
        self,
        port_path: str,
        sink: Callable[[object], None],
        *,
        baudrate: int = 115200,
        poll_interval: float = 0.2,
        response_timeout: float = 0.5,
        retries: int = 2,
        health_interval: float = 3.0,
        reread_interval: float = 1.0,
        fault_confirm: int = 3,
    ) -> None:
        self._port = SerialPort(port_path, baudrate)
        self._baudrate = baudrate
        self._sink = sink
        self._poll_interval = poll_interval
        self._response_timeout = response_timeout
        self._retries = max(0, retries)
        self._health_interval = health_interval
        self._reread_interval = reread_interval
        self._fault_confirm = max(1, fault_confirm)
        self._worker = Worker("id-reader", idle=self._tick, on_crash=crash_reporter(sink, DeviceKind.ID_READER))
        self._decoder = ReplyDecoder()
        self._status = DeviceStatus(DeviceKind.ID_READER, DeviceState.OFFLINE, detail="not_started")
        # Worker-thread state only.
        self._reading = False
        self._card_present = False
        self._awaiting_lift = False  # a read attempt failed: no new placement until it is lifted
        self._reread_due: float | None = None  # when to read that card again (None: wait for the lift)
        self._misses = 0
        self._bad_finds = 0  # consecutive finds without a valid reply or with a SAM-down status
        self._last_fail = ""  # the step and status of the last failed select/read, for the fault detail
        self._read_fault = ""  # a confirmed read fault, held until a lift or a good status reply
        self._next_health = 0.0
        self._need_info = True

    # --- public, any thread -----------------------------------------------------------------

    @property
    def status(self) -> DeviceStatus:
        return self._status

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._port.release()
        self._set_status(state=DeviceState.OFFLINE, detail="stopped", media=MediaPosition.NONE)

    def set_reading(self, enabled: bool) -> None:
        self._worker.submit(lambda: self._set_reading(enabled))

    # --- worker -----------------------------------------------------------------------------

    def _set_reading(self, enabled: bool) -> None:
        self._reading = enabled
        self._next_health = 0.0  # check the SAM as soon as polling stops

    def _tick(self) -> float:
        try:
            if not self._port.is_open and not self._connect():
                return self._poll_interval
            if self._reading:
                self._poll_card()
                return self._poll_interval
            if time.monotonic() >= self._next_health:
                self._health_check()
                self._next_health = time.monotonic() + self._health_interval
            return max(0.01, self._next_health - time.monotonic())
        except PortGone:
            self._port_lost()
            return self._poll_interval

    def _connect(self) -> bool:
        if not self._port.open():
            self._set_status(state=DeviceState.NO_DEVICE, detail="port_gone", media=MediaPosition.NONE)
            return False
        self._note(DeviceNote.PORT_OPENED)
        self._decoder.reset()
        self._need_info = True
        self._health_check()
        self._next_health = time.monotonic() + self._health_interval
        return True

    def _port_lost(self) -> None:
        self._note(DeviceNote.PORT_GONE)
        self._port.close()
        self._card_present = self._awaiting_lift = False
        self._reread_due = None
        self._misses = 0
        self._set_status(state=DeviceState.NO_DEVICE, detail="port_gone", media=MediaPosition.NONE)

    def _health_check(self) -> None:
        reply = None
        for attempt in range(self._fault_confirm):
            reply = self._transact(Command.SAM_STATUS)
            if reply is not None and reply.status is Sw3.OK:
                if attempt:
                    self._note(DeviceNote.TRANSIENT_FAULT, f"status:{attempt}")
                self._read_fault = ""
                break
        if reply is None:
            self._set_status(state=DeviceState.OFFLINE, detail="no_response")
        elif reply.status is Sw3.OK:
            self._online()
        else:
            self._sam_trouble(reply)

    def _online(self) -> None:
        if self._read_fault:
            return  # the SAM answers find, but it could not read: stay faulty until lift or status OK
        info: DeviceInfo | None = None
        if self._need_info:
            # Once per connection, answered or not: a reader without SAM ID must not slow every poll.
            self._need_info = False
            reply = self._transact(Command.SAM_ID)
            if reply is not None and reply.status is Sw3.OK:
                info = DeviceInfo(model="GA 467 SAM", serial=format_sam_id(reply.data))
        self._set_status(state=DeviceState.ONLINE, detail="", info=info)

    def _sam_trouble(self, reply: Reply) -> None:
        status = reply.status
        if status in _SAM_DOWN:
            self._set_status(state=DeviceState.HARDWARE_ERROR, detail=_SAM_DOWN[status])
        else:
            # Any other status to a status request: the SAM answers, but not sensibly.
            self._set_status(state=DeviceState.HARDWARE_ERROR, detail=f"sw3_{reply.sw3:02x}")

    def _poll_card(self) -> None:
        reply = self._transact(Command.FIND)
        if reply is None or reply.status in _SAM_DOWN:
            self._bad_finds += 1
            if self._bad_finds < self._fault_confirm:
                return
            if reply is None:
                self._set_status(state=DeviceState.OFFLINE, detail="no_response")
            else:
                self._sam_trouble(reply)
            return
        if self._bad_finds:
            self._note(DeviceNote.TRANSIENT_FAULT, f"find:{self._bad_finds}")
            self._bad_finds = 0
        if reply.status is Sw3.FOUND:
            self._online()
            self._misses = 0
            if self._card_present and self._awaiting_lift:
                if self._reread_due is not None and time.monotonic() >= self._reread_due:
                    self._awaiting_lift = not self._read_card(again=True)
                return
            if self._card_present:
                # The SAM refuses find for a card it has read: this is a new placement whose
                # lift we polled past.
                self._post(IdCardLifted())
            self._card_present = True
            self._set_status(media=MediaPosition.PRESENT)
            self._post(IdCardPlaced())
            self._awaiting_lift = not self._read_card()
            return
        if reply.status is Sw3.FIND_FAILED:
            self._online()
            if self._card_present:
                self._misses += 1
                if self._misses >= LIFT_DEBOUNCE:
                    self._card_present = self._awaiting_lift = False
                    self._reread_due = None
                    self._misses = 0
                    self._read_fault = ""
                    self._online()
                    self._set_status(media=MediaPosition.NONE)
                    self._post(IdCardLifted())
            return
        self._note(DeviceNote.UNEXPECTED_STATUS, f"find:sw3_{reply.sw3:02x}")

    def _read_card(self, *, again: bool = False) -> bool:
        """Select and read; posts IdCardRead, or IdReadFailed unless `again`. True when the card was read.

        `again`: a silent re-read of a placement that failed already; the kiosk was told then.
        """
        try:
            error = self._select_and_read(again)
            for attempt in range(1, self._fault_confirm):
                if error not in _FAULTY:
                    break
                error = self._select_and_read(True)
                if error is None:
                    self._note(DeviceNote.TRANSIENT_FAULT, f"read:{attempt}")
        except PortGone:
            self._post(IdReadFailed(IdReaderError.NO_DEVICE))
            raise
        if error is None:
            self._reread_due = None
            return True
        if error in _FAULTY:
            # Confirmed: the kiosk hears it as a device fault, before the failed read.
            self._read_fault = self._last_fail
            self._set_status(state=DeviceState.HARDWARE_ERROR, detail=self._read_fault)
        if not again:
            self._post(IdReadFailed(error))
        self._reread_due = time.monotonic() + self._reread_interval if error in _TRANSIENT else None
        return False

    def _select_and_read(self, again: bool) -> IdReaderError | None:
        reply = self._transact(Command.SELECT)
        if reply is None or reply.status is not Sw3.OK:
            return self._fail(reply, "select", again)
        reply = self._transact(Command.READ)
        if reply is None or reply.status is not Sw3.OK:
            return self._fail(reply, "read", again)
        card = parse_read_data(reply.data)
        if card is None or len(card.text) != TEXT_LEN or len(card.photo) != PHOTO_LEN:
            self._note(DeviceNote.MALFORMED_REPLY, "read")
            self._last_fail = "read_malformed"
            return IdReaderError.COMMUNICATION
        self._post(IdCardRead(text=card.text, photo=card.photo))
        return None

    def _fail(self, reply: Reply | None, step: str, again: bool) -> IdReaderError:
        # A re-read of a card that keeps failing would note once a second: those are debug notes.
        if reply is None:
            self._last_fail = f"{step}_no_reply"
            self._note(DeviceNote.REREAD_FAILED if again else DeviceNote.NO_VALID_REPLY, step)
            return IdReaderError.COMMUNICATION
        self._last_fail = f"{step}_sw3_{reply.sw3:02x}"
        self._note(DeviceNote.REREAD_FAILED if again else DeviceNote.OPERATION_FAILED, f"{step}:sw3_{reply.sw3:02x}")
        return error_for(reply.sw3)

    def _transact(self, command: Command) -> Reply | None:
        """One command, resent after silence or a damaged reply; None when every attempt failed."""
        frame = build_command(command)
        last: Reply | None = None
        for _ in range(self._retries + 1):
            if self._worker.stopping:
                return None
            self._decoder.reset()
            try:
                # Request/response: whatever is still on the line belongs to an earlier exchange.
                self._port.reset_input()
                self._port.write(frame)
            except termios.error as exc:
                # pyserial lets tcflush/tcdrain failures of a vanished port through untranslated.
                self._port.close()
                raise PortGone(self._port.path) from exc
            reply = self._await_reply()
            if reply is None:
                continue
            if reply.status in _RESEND:
                last = reply
                continue
            return reply
        return last

    def _await_reply(self) -> Reply | None:
        # response_timeout bounds the wait for the first byte and every gap after it, so a long
        # reply on a slow line is not cut short; the hard limit adds the wire time of the
        # longest frame, so a line that trickles noise cannot hold the worker either.
        now = time.monotonic()
        hard_limit = now + self._response_timeout + MAX_FRAME * 10 / self._baudrate
        deadline = now + self._response_timeout
        while True:
            now = time.monotonic()
            remaining = min(deadline, hard_limit) - now
            if remaining <= 0:
                return None
            # Block for one byte, then take whatever else has arrived without waiting.
            chunk = self._port.read(1, timeout=remaining)
            if not chunk:
                return None
            deadline = time.monotonic() + self._response_timeout
            chunk += self._port.read(MAX_FRAME, timeout=0)
            for item in self._decoder.feed(chunk):
                if isinstance(item, Reply):
                    return item
                if isinstance(item, FrameError):
                    self._note(DeviceNote.FRAME_ERROR, str(item.kind))

    # --- status and events ------------------------------------------------------------------

    def _set_status(
        self,
        *,
        state: DeviceState | None = None,
        detail: str | None = None,
        media: MediaPosition | None = None,
        info: DeviceInfo | None = None,
    ) -> None:
        updated = self._status.changed(state=state, detail=detail, media=media, info=info)
        self._status = publish(self._status, updated, self._sink, DeviceKind.ID_READER)

    def _post(self, event: object) -> None:
        post_safely(self._sink, event, DeviceKind.ID_READER)

    def _note(self, note: DeviceNote, detail: str = "") -> None:
        self._post(DeviceLogged(DeviceKind.ID_READER, note, detail))
