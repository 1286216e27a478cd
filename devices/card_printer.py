"""The rewritable card printer's adapter: commands in, typed results and status out.

Every command returns at once; its worker thread talks to the printer and posts exactly
one PrinterResult. Between commands the worker polls status, so jams, an opened cover,
supplies and a card taken from the slot reach the kiosk as events: slowly at rest, fast while
a card waits at the front slot to be taken or a screen waits for one to be pushed in. Nothing here raises
into the caller, and nothing about the resident (ticket fields, bitmaps) is ever logged:
the adapter posts DeviceLogged notes with fixed codes to its sink instead.

A card taken from the front slot is reported whenever it happens (PrintedCardTaken): the
adapter remembers that a card was at the slot, and any later status showing no card that
its own successful RETRACT did not explain is a take by a hand, whether a session waits for
it or not (recovery), and whatever command is in flight. A RETRACT that finds the slot empty
ends with NO_CARD, the take posted before that result; after a PRESENT the take follows the
PRESENT's result, so the kiosk always hears "presented" before "taken".
"""

from __future__ import annotations

import termios
import threading
import time
from collections.abc import Callable

from devices.events import (
    DeviceLogged,
    DeviceNote,
    PrintedCardTaken,
    PrinterError,
    PrinterOp,
    PrinterResult,
    StatusChanged,
)
from devices.printer_protocol import (
    AREA_SIZE,
    INTER_CHAR_TIMEOUT,
    MAX_BODY,
    CardPosition,
    Cmd,
    ErrorCode,
    Frame,
    FrameDecoder,
    Move,
    Reply,
    StatusReport,
    decode_status,
    encode_area,
    encode_command,
    encode_ticket,
    parse_reply,
    print_commands,
)
from devices.publish import post_safely, publish
from devices.serial_port import PortGone, SerialPort
from devices.status import (
    DeviceKind,
    DeviceState,
    DeviceStatus,
    MediaPosition,
    Supply,
    SupplyLevel,
    level_for,
)
from devices.worker import Worker, crash_reporter

_ERRORS: dict[ErrorCode, PrinterError] = {
    ErrorCode.JAM: PrinterError.JAM,
    ErrorCode.HOPPER_EMPTY: PrinterError.HOPPER_EMPTY,
    ErrorCode.BIN_FULL: PrinterError.BIN_FULL,
    ErrorCode.COVER_OPEN: PrinterError.COVER_OPEN,
    ErrorCode.NO_CARD: PrinterError.NO_CARD,
    ErrorCode.CARD_IN_PATH: PrinterError.CARD_IN_PATH,
    ErrorCode.BAD_COMMAND: PrinterError.COMMAND_REFUSED,
    ErrorCode.BAD_PARAMETER: PrinterError.COMMAND_REFUSED,
    ErrorCode.BAD_CHECKSUM: PrinterError.COMMUNICATION,
}

_MEDIA: dict[CardPosition, MediaPosition] = {
    CardPosition.NONE: MediaPosition.NONE,
    CardPosition.GATE: MediaPosition.ENTERING,  # XFS: at the entry/exit slot
    CardPosition.IN_PATH: MediaPosition.PRESENT,  # XFS: inside the device
    CardPosition.ENCODER: MediaPosition.PRESENT,
    CardPosition.JAMMED: MediaPosition.JAMMED,
}

_STATUS_COMMAND = encode_command(Cmd.STATUS, 0x30)
_BIN_HIGH = 0.8  # a reject bin this full is reported HIGH, so an operator empties it in time


def to_device_status(report: StatusReport, retracted: bool = False) -> DeviceStatus:
    """The shared status model from a printer status reply."""
    if report.position == CardPosition.JAMMED or report.fault == ErrorCode.JAM:
        state, detail = DeviceState.HARDWARE_ERROR, "jam"
    elif report.cover_open:
        state, detail = DeviceState.USER_ERROR, "cover_open"
    else:
        state, detail = DeviceState.ONLINE, ""
    media = _MEDIA[report.position]
    if media == MediaPosition.NONE and retracted:
        media = MediaPosition.RETRACTED
    hopper = Supply(
        "hopper",
        level_for(report.hopper_count, report.hopper_capacity, report.low_threshold),
        report.hopper_count,
        report.low_threshold,
    )
    if report.bin_full:
        bin_level = SupplyLevel.FULL
    elif report.bin_count == 0:
        bin_level = SupplyLevel.EMPTY
    elif report.bin_count >= _BIN_HIGH * report.bin_capacity:
        bin_level = SupplyLevel.HIGH
    else:
        bin_level = SupplyLevel.LOW
    reject_bin = Supply("reject_bin", bin_level, report.bin_count, report.bin_capacity)
    return DeviceStatus(DeviceKind.PRINTER, state, media, (hopper, reject_bin), detail=detail)


class CardPrinter:
    def __init__(
        self,
        port_path: str,
        sink: Callable[[object], None],
        *,
        baudrate: int = 115200,
        poll_interval: float = 0.2,
        response_timeout: float = 2.0,
        retries: int = 2,
        slot_poll_interval: float = 0.05,
        take_poll_interval: float = 0.02,
    ) -> None:
        """`poll_interval`: seconds between status polls at rest (jams, the cover, supplies);
        `slot_poll_interval` instead while a screen waits for a card pushed into the front slot
        (`watch_slot`), and `take_poll_interval` while a card the printer put there waits to be
        taken, so a hand taking it is seen at once. The protocol has no events: polls only."""
        self._port = SerialPort(port_path, baudrate)
        self._sink = sink
        self._poll_interval = poll_interval
        self._slot_poll_interval = min(poll_interval, slot_poll_interval)
        self._take_poll_interval = min(poll_interval, take_poll_interval)
        self._watching_slot = threading.Event()
        self._timeout = response_timeout
        self._retries = max(0, retries)
        self._worker = Worker("card-printer", idle=self._idle, on_crash=crash_reporter(sink, DeviceKind.PRINTER))
        self._decoder = FrameDecoder(accept=b"PN")
        self._lock = threading.Lock()
        self._status = DeviceStatus(DeviceKind.PRINTER, DeviceState.OFFLINE, detail="not_started")
        # Worker-thread state only:
        self._missed_polls = 0
        self._polled = False  # a status reply was seen since start: _at_slot is known
        # The last status showed a card at the front slot: if it goes and no RETRACT of ours
        # took it in, a hand took it. Kept while the port is away, so a take then is still seen.
        self._at_slot = False
        self._hold_take = False  # inside a PRESENT: a take seen now is posted after its result
        self._take_pending = False
        self._bin_seen: int | None = None  # the reject bin's count in the last status
        self._retracted = False

    # --- lifecycle and status ---------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()
        self._port.release()

    @property
    def status(self) -> DeviceStatus:
        with self._lock:
            return self._status

    # --- commands: return at once, one PrinterResult each -------------------------------

    def feed(self) -> None:
        self._submit(PrinterOp.FEED, lambda: self._move(PrinterOp.FEED, Move.FEED))

    def present(self) -> None:
        self._submit(PrinterOp.PRESENT, lambda: self._move(PrinterOp.PRESENT, Move.PRESENT))

    def retract(self) -> None:
        self._submit(PrinterOp.RETRACT, lambda: self._move(PrinterOp.RETRACT, Move.RETRACT))

    def to_encoder(self) -> None:
        self._submit(PrinterOp.TO_ENCODER, lambda: self._move(PrinterOp.TO_ENCODER, Move.TO_ENCODER))

    def take_in(self) -> None:
        self._submit(PrinterOp.TAKE_IN, lambda: self._move(PrinterOp.TAKE_IN, Move.TAKE_IN))

    def erase_area(self, x: int, y: int, width: int, height: int) -> None:
        self._submit(PrinterOp.ERASE, lambda: self._erase(x, y, width, height))

    def ticket(self, fields: dict[str, str]) -> None:
        fields = dict(fields)  # the caller may reuse its dict; the worker sends what was asked
        self._submit(PrinterOp.TICKET, lambda: self._ticket(fields))

    def print_area(self, x: int, y: int, width: int, height: int, bits: bytes) -> None:
        bits = bytes(bits)
        self._submit(PrinterOp.PRINT, lambda: self._print(x, y, width, height, bits))

    def refresh_status(self) -> None:
        self._submit(PrinterOp.STATUS, self._refresh)

    def watch_slot(self, on: bool) -> None:
        """A screen waits (on) or no longer waits (off) for a card pushed into the front slot:
        the status is polled every `slot_poll_interval` meanwhile. A flag, not a job, so that a
        card pushed in at once is looked for at the fast rate; the worker is woken to look now."""
        if on:
            self._watching_slot.set()
            self._worker.submit(lambda: None)  # the worker polls as soon as a job is done
        else:
            self._watching_slot.clear()

    # --- jobs (worker thread) ---------------------------------------------------------------

    def _submit(self, op: PrinterOp, job: Callable[[], None]) -> None:
        def run() -> None:
            try:
                if not self._polled:
                    self._poll(1)  # know where the card is before moving it (a take is judged from it)
                job()
            except Exception as exc:  # a bug must still end in a result, not a silent kiosk
                self._note(DeviceNote.JOB_CRASHED, f"op={op.value} exception={type(exc).__name__}")
                self._hold_take = False
                self._post(PrinterResult(op, False, PrinterError.COMMUNICATION))
                self._flush_take()

        self._worker.submit(run)

    def _move(self, op: PrinterOp, pm: Move) -> None:
        # The kiosk must hear "presented" before "taken", even when the card is snatched before
        # the poll inside _finish: a take seen during a PRESENT waits for its result.
        self._hold_take = pm == Move.PRESENT
        try:
            out = self._transact(encode_command(Cmd.MOVE, pm), Cmd.MOVE, pm)
            if isinstance(out, Reply) and out.ok:
                if pm == Move.RETRACT:
                    self._retracted = True
                    self._at_slot = False  # gone into the bin, not into a hand
                elif pm == Move.TAKE_IN:
                    self._at_slot = False
                elif pm == Move.PRESENT:
                    self._at_slot = True  # the reply says so, whatever the next poll finds
            self._finish(op, out)
        finally:
            self._hold_take = False
        self._flush_take()

    def _ticket(self, fields: dict[str, str]) -> None:
        data = encode_ticket(fields)
        if len(data) > MAX_BODY - 3:
            self._finish(PrinterOp.TICKET, PrinterError.COMMAND_REFUSED)
            return
        out = self._transact(encode_command(Cmd.TICKET, 0x30, data), Cmd.TICKET, 0x30)
        self._finish(PrinterOp.TICKET, out)

    def _erase(self, x: int, y: int, width: int, height: int) -> None:
        if not all(0 <= v <= 0xFFFF for v in (x, y, width, height)):
            self._finish(PrinterOp.ERASE, PrinterError.COMMAND_REFUSED)
            return
        area = encode_area(x, y, width, height)
        out = self._transact(encode_command(Cmd.ERASE, 0x30, area), Cmd.ERASE, 0x30, echo=area)
        self._finish(PrinterOp.ERASE, out)

    def _print(self, x: int, y: int, width: int, height: int, bits: bytes) -> None:
        if not all(0 <= v <= 0xFFFF for v in (x, y, width, height)):
            self._finish(PrinterOp.PRINT, PrinterError.COMMAND_REFUSED)
            return
        try:
            frames = print_commands(x, y, width, height, bits)
        except ValueError:
            self._finish(PrinterOp.PRINT, PrinterError.COMMAND_REFUSED)
            return
        out: Reply | PrinterError = PrinterError.COMMAND_REFUSED
        for f in frames:
            # Bytes 6.. of a PRINT frame are its area; the printer echoes them back.
            out = self._transact(f, Cmd.PRINT, f[5], echo=f[6 : 6 + AREA_SIZE])
            if not (isinstance(out, Reply) and out.ok):
                break
        self._finish(PrinterOp.PRINT, out)

    def _refresh(self) -> None:
        error = self._poll(self._retries + 1)
        self._post(StatusChanged(self.status))
        self._post(PrinterResult(PrinterOp.STATUS, error is None, error))

    def _finish(self, op: PrinterOp, out: Reply | PrinterError) -> None:
        if isinstance(out, Reply):
            error = None
            if not out.ok:
                error = _ERRORS[out.error] if out.error is not None else PrinterError.COMMAND_REFUSED
            self._poll(1)  # the kiosk sees the new status before the result
        else:
            error = out
        if error is not None:
            self._note(DeviceNote.OPERATION_FAILED, f"op={op.value} error={error.value}")
        self._post(PrinterResult(op, error is None, error))

    def _idle(self) -> float:
        if self._ensure_open():
            self._poll(1)
        if self._at_slot:
            return self._take_poll_interval
        return self._slot_poll_interval if self._watching_slot.is_set() else self._poll_interval

    # --- status ---------------------------------------------------------------------------

    def _poll(self, attempts: int) -> PrinterError | None:
        out = self._transact(_STATUS_COMMAND, Cmd.STATUS, 0x30, attempts=attempts)
        report = decode_status(out) if isinstance(out, Reply) else None
        if report is not None:
            self._missed_polls = 0
            self._apply(report)
            return None
        if out is PrinterError.NO_DEVICE:
            return PrinterError.NO_DEVICE
        # One lost poll is line noise; a run of them (or a command that exhausted its
        # retries) is a printer that stopped answering.
        self._missed_polls += attempts
        if self._missed_polls > self._retries:
            self._no_response()
        return PrinterError.COMMUNICATION

    def _apply(self, report: StatusReport) -> None:
        self._polled = True
        # Only a hand empties the slot: our RETRACT and TAKE_IN clear _at_slot when they succeed,
        # and a card that went into the reject bin (a RETRACT whose reply was lost) adds to its count.
        binned = self._bin_seen is not None and report.bin_count > self._bin_seen
        taken = self._at_slot and report.position == CardPosition.NONE and not binned
        self._at_slot = report.position == CardPosition.GATE
        self._bin_seen = report.bin_count
        if report.position != CardPosition.NONE:
            self._retracted = False
        self._publish(to_device_status(report, self._retracted))
        if taken:
            self._take_pending = True
            if not self._hold_take:
                self._flush_take()

    def _flush_take(self) -> None:
        if self._take_pending:
            self._take_pending = False
            self._post(PrintedCardTaken())

    def _no_response(self) -> None:
        self._publish(DeviceStatus(DeviceKind.PRINTER, DeviceState.OFFLINE, detail="no_response"))

    def _publish(self, status: DeviceStatus) -> None:
        with self._lock:
            old, self._status = self._status, status
        publish(old, status, self._sink, "card printer")

    def _post(self, event: object) -> None:
        post_safely(self._sink, event, "card printer")

    def _note(self, note: DeviceNote, detail: str = "") -> None:
        self._post(DeviceLogged(DeviceKind.PRINTER, note, detail))

    # --- the line ---------------------------------------------------------------------------

    def _ensure_open(self) -> bool:
        if self._port.is_open:
            return True
        if self._port.open():
            self._decoder.reset()
            self._missed_polls = 0
            return True
        self._port_gone()
        return False

    def _port_gone(self) -> None:
        # _at_slot stays: a card taken while the port was away is reported on reconnect.
        self._port.close()
        self._publish(DeviceStatus(DeviceKind.PRINTER, DeviceState.NO_DEVICE, detail="port_gone"))

    def _transact(
        self, command: bytes, cm: int, pm: int, attempts: int | None = None, echo: bytes | None = None
    ) -> Reply | PrinterError:
        """Send, await the matching reply; retransmit on silence or a checksum complaint.

        A retransmission is safe: the printer answers a repeated frame from its last reply
        without acting twice (docs/protocols/card-printer.md, Retransmission).
        """
        if not self._ensure_open():
            return PrinterError.NO_DEVICE
        tries = self._retries + 1 if attempts is None else attempts
        try:
            for _ in range(tries):
                if self._worker.stopping:
                    break
                self._port.reset_input()
                self._decoder.reset()
                self._port.write(command)
                reply = self._await(cm, pm, echo)
                if reply is None or (not reply.ok and reply.error == ErrorCode.BAD_CHECKSUM):
                    continue
                return reply
        except (PortGone, termios.error):
            # termios.error: tcflush on a vanished tty, which SerialPort does not translate.
            self._port_gone()
            return PrinterError.NO_DEVICE
        if attempts is None:
            self._no_response()
        return PrinterError.COMMUNICATION

    def _await(self, cm: int, pm: int, echo: bytes | None) -> Reply | None:
        deadline = time.monotonic() + self._timeout
        last_rx = time.monotonic()
        while not self._worker.stopping:
            now = time.monotonic()
            if now >= deadline:
                break
            chunk = self._port.read(1, timeout=min(0.05, deadline - now))
            if chunk:
                chunk += self._port.read(MAX_BODY, timeout=0)
                last_rx = time.monotonic()
                items = self._decoder.feed(chunk)
            elif self._decoder.pending and time.monotonic() - last_rx >= INTER_CHAR_TIMEOUT:
                items = self._decoder.flush()
            else:
                continue
            reply = self._match(items, cm, pm, echo)
            if reply is not None:
                return reply
        return self._match(self._decoder.flush(), cm, pm, echo)

    @staticmethod
    def _match(items: list, cm: int, pm: int, echo: bytes | None) -> Reply | None:
        for item in items:
            if not isinstance(item, Frame) or item.cm != cm or item.pm != pm:
                continue  # noise, a corrupted copy, or a late reply to something else
            reply = parse_reply(item)
            if reply is None:
                continue
            if reply.ok and echo is not None and reply.data != echo:
                continue
            return reply
        return None

