"""An emulated rewritable card printer on the far end of a pty, speaking devices/printer_protocol.

It keeps the mechanics honest (one card, in one place; hopper and reject bin counted and
bounded) and records every card it handled: the composed face as PNG and a JSON record,
so a scenario can check what was printed and where each card went.

Every public method and property may be called from any thread: state lives behind one
lock, the serial line behind another; neither is held across a wait on the line or a write.
"""

from __future__ import annotations

import json
import logging
import pathlib
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from devices.printer_protocol import (
    CARD_HEIGHT,
    CARD_WIDTH,
    INTER_CHAR_TIMEOUT,
    CardPosition,
    Cmd,
    Corrupt,
    ErrorCode,
    Frame,
    FrameDecoder,
    Move,
    PrintPm,
    StatusReport,
    area_on_card,
    decode_area,
    decode_ticket,
    encode_negative,
    encode_positive,
    hopper_state,
    row_bytes,
)
from sim.masking import mask_ticket
from sim.pty_link import PtyLink

_log = logging.getLogger(__name__)

FAULT_KINDS = ("jam", "hopper_empty", "cover_open", "bin_full", "silent", "garbage", "vanish", "take")
JAM_STEPS = ("feed", "take_in", "erase", "print", "present")
TAKE_STEPS = ("retract", "present")  # when a waiting resident's hand takes the card at the slot
COVER_STEPS = ("take_in",)  # cover_open armed for a moment: opened as that command arrives

_INSIDE = (CardPosition.IN_PATH, CardPosition.ENCODER)


@dataclass
class _Card:
    job: int
    origin: str  # "hopper" | "inserted"
    position: CardPosition
    face: Image.Image
    fields: dict[str, str] | None = None
    bands: list[tuple[tuple[int, int, int, int], bytes]] = field(default_factory=list)


class PrinterEmulator:
    def __init__(
        self,
        link: PtyLink,
        out_dir: pathlib.Path,
        *,
        hopper: int = 100,
        hopper_capacity: int = 200,
        low_threshold: int = 10,
        bin_capacity: int = 50,
    ) -> None:
        self._link = link
        self._out = pathlib.Path(out_dir)
        self._out.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # the printer's state
        self._io = threading.Lock()  # the line (held by the thread while it waits on select)
        self._hopper = min(hopper, hopper_capacity)
        self._hopper_capacity = hopper_capacity
        self._low = low_threshold
        self._bin = 0
        self._bin_capacity = bin_capacity
        self._card: _Card | None = None
        self._next_job = 1
        self._done: list[dict] = []
        self._cover_open = False
        self._silent = False
        self._garbage: str | None = None  # "before" | "replace", for the next reply
        self._jam_at: str | None = None
        self._take_at: str | None = None  # "retract" | "present": the resident's hand, armed
        self._cover_at: str | None = None  # "take_in": the cover opens as the next TAKE_IN arrives
        self._take_after_reply = False  # take the card at the slot once the current reply is out
        self._last_command: tuple[int, int, bytes] | None = None
        self._last_reply = b""
        self._rng = random.Random(571)
        self._decoder = FrameDecoder(accept=b"C")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Told of every card movement: (job, origin, position, or None once the card left the
        # printer). The device hub uses it to put a card's chip into the encoder's field.
        self.on_card_moved: Callable[[int, str, CardPosition | None], None] | None = None
        self._moves: list[tuple[int, str, CardPosition | None]] = []  # for on_card_moved, outside the locks

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="printer-emu", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # --- the resident and the technician ---------------------------------------------

    def take_card(self) -> bool:
        """The resident takes the card waiting at the front slot."""
        with self._lock:
            card = self._card
            if card is None or card.position != CardPosition.GATE:
                return False
            self._finish(card, "taken")
        if self.on_card_moved is not None:
            self.on_card_moved(card.job, card.origin, None)
        return True

    def insert_card(self, face: Image.Image | None = None) -> bool:
        """The resident pushes a card into the front slot (for a card-face rewrite)."""
        with self._lock:
            if self._card is not None:
                return False
            img = face.convert("1") if face is not None else Image.new("1", (CARD_WIDTH, CARD_HEIGHT), 255)
            self._card = _Card(self._new_job(), "inserted", CardPosition.GATE, img)
            job = self._card.job
        if self.on_card_moved is not None:
            self.on_card_moved(job, "inserted", CardPosition.GATE)
        return True

    def inject_fault(self, kind: str, at: str | None = None) -> None:
        """Make trouble (kinds: FAULT_KINDS).

        jam: `at` feed|take_in|erase|print|present, or None for the card inside now (else the next feed).
        cover_open: `at` None (open now) or "take_in" (opened as the next TAKE_IN arrives, which is
        refused with the card still at the slot). One-shot; armed until it fires.
        garbage: `at` "before" (default: noise precedes the next reply to a command other than
        STATUS) or "replace" (noise instead of that reply, so the driver must retransmit).
        take: `at` "retract" (the next RETRACT that finds a card at the slot finds the slot empty:
        the resident took the card just before, the card is "taken" and the RETRACT answers 50 no
        card) or "present" (right after answering the next successful PRESENT, before any other
        command is read, the resident takes the card). One-shot; armed until it fires.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown printer fault {kind!r}")
        if kind == "vanish":
            with self._io:
                self._link.vanish()
                self._decoder.reset()
            return
        with self._lock:
            if kind == "jam":
                if at is not None and at not in JAM_STEPS:
                    raise ValueError(f"jam step must be one of {JAM_STEPS}")
                if at is None and self._card is not None and self._card.position in _INSIDE:
                    self._card.position = CardPosition.JAMMED
                else:
                    self._jam_at = at or "feed"
            elif kind == "hopper_empty":
                self._hopper = 0
            elif kind == "cover_open":
                if at is not None and at not in COVER_STEPS:
                    raise ValueError(f"cover_open: at must be one of {COVER_STEPS} or none")
                if at is None:
                    self._cover_open = True
                self._cover_at = at
            elif kind == "bin_full":
                self._bin = self._bin_capacity
            elif kind == "silent":
                self._silent = True
            elif kind == "garbage":
                if at not in (None, "before", "replace"):
                    raise ValueError("garbage: at must be 'before' or 'replace'")
                self._garbage = at or "before"
            elif kind == "take":
                if at not in TAKE_STEPS:
                    raise ValueError(f"take: at must be one of {TAKE_STEPS}")
                self._take_at = at

    def clear_fault(self, kind: str) -> None:
        """Undo a fault: jam (as clear_jam), cover_open, silent, garbage, take (disarm), vanish (as reappear)."""
        if kind == "jam":
            self.clear_jam()
        elif kind == "vanish":
            self.reappear()
        else:
            with self._lock:
                if kind == "cover_open":
                    self._cover_open, self._cover_at = False, None
                elif kind == "silent":
                    self._silent = False
                elif kind == "garbage":
                    self._garbage = None
                elif kind == "take":
                    self._take_at = None
                else:
                    raise ValueError(f"{kind!r} is cleared by refill() or empty_bin(), or not at all")

    def clear_jam(self) -> None:
        """A technician frees the jammed card: it is back at the print station and can move."""
        with self._lock:
            self._jam_at = None
            if self._card is not None and self._card.position == CardPosition.JAMMED:
                self._card.position = CardPosition.IN_PATH

    def reappear(self) -> None:
        with self._io:
            self._link.reappear()
            self._decoder.reset()

    def refill(self, count: int | None = None) -> None:
        with self._lock:
            self._hopper = self._hopper_capacity if count is None else min(count, self._hopper_capacity)

    def empty_bin(self) -> None:
        with self._lock:
            self._bin = 0

    # --- what happened ---------------------------------------------------------------

    @property
    def records(self) -> list[dict]:
        """Every card handled; a card still inside is saved now with outcome in_printer/jammed."""
        with self._lock:
            out = [dict(r) for r in self._done]
            if self._card is not None:
                out.append(self._save(self._card, self._outcome_inside(self._card)))
            return out

    @property
    def cards_issued(self) -> int:
        with self._lock:
            return sum(1 for r in self._done if r["outcome"] == "taken" and r["origin"] == "hopper")

    @property
    def cards_retained(self) -> int:
        with self._lock:
            jammed = self._card is not None and self._card.position == CardPosition.JAMMED
            return sum(1 for r in self._done if r["outcome"] == "retained") + int(jammed)

    @property
    def hopper_count(self) -> int:
        with self._lock:
            return self._hopper

    @property
    def bin_count(self) -> int:
        with self._lock:
            return self._bin

    # --- the line -------------------------------------------------------------------

    def _run(self) -> None:
        # The wait for the driver's bytes and the write of each reply hold no lock: `_io` (the
        # decoder, against vanish/reappear) is taken only between them, so the hub's control
        # calls never queue behind a select() or a driver that stopped reading.
        last_rx = time.monotonic()
        while not self._stop.is_set():
            if self._link.master < 0:
                self._stop.wait(0.05)  # unplugged: nothing to listen to
                continue
            generation = self._link.generation
            data = self._link.read(65536, timeout=0.05)
            with self._io:
                if self._link.generation != generation:
                    continue  # vanished or replugged meanwhile: those bytes went with the old port
                items: list[Frame | Corrupt] = []
                now = time.monotonic()
                if data:
                    last_rx = now
                    items = self._decoder.feed(data)
                elif self._decoder.pending and now - last_rx >= INTER_CHAR_TIMEOUT:
                    items = self._decoder.flush()
            for item in items:
                with self._io:
                    if self._link.generation != generation:
                        break
                    reply = self._answer(item)
                self._tell_moves()
                if reply:
                    self._link.write(reply, generation=generation)
                if self._take_after_reply:
                    # The resident's hand, between this reply and the next command.
                    self._take_after_reply = False
                    self.take_card()

    def _answer(self, item: Frame | Corrupt) -> bytes:
        with self._lock:
            if self._silent:
                return b""
            if isinstance(item, Corrupt):
                self._last_command = None
                return encode_negative(item.cm, item.pm, ErrorCode.BAD_CHECKSUM)
            key = (item.cm, item.pm, item.payload)
            if item.cm != Cmd.STATUS and key == self._last_command:
                # The driver's retransmission after a lost reply: answer again, act once.
                reply = self._last_reply
            else:
                reply = self._execute(item)
                self._last_command = key if item.cm != Cmd.STATUS else None
                self._last_reply = reply
            if item.cm == Cmd.STATUS:
                return reply  # garbage lands on a command's reply, so a scenario can aim it
            return self._noisy(reply)

    def _noisy(self, reply: bytes) -> bytes:
        mode, self._garbage = self._garbage, None
        if mode is None:
            return reply
        noise = bytes(self._rng.randrange(256) for _ in range(24))
        broken = reply[:-1] + bytes((reply[-1] ^ 0x5A,))
        # A stray STX claiming a long body stalls a receiver until its inter-character timeout.
        stray = b"\xf2\x01\x00P"
        if mode == "replace":
            return noise + broken
        return noise + stray + broken + noise[:8] + reply

    # --- the mechanics ------------------------------------------------------------------

    def _execute(self, f: Frame) -> bytes:
        before = (self._card.job, self._card.position) if self._card is not None else None
        reply = self._execute_frame(f)
        after = (self._card.job, self._card.position) if self._card is not None else None
        if before != after:
            self._moved(before, after)
        return reply

    def _moved(self, before: tuple[int, CardPosition] | None, after: tuple[int, CardPosition] | None) -> None:
        # Told by _run once the locks are released, before the reply goes out (the hook may wait
        # on pcscd and vpcd: the chip is in the encoder's field when the move is answered).
        if before is not None and (after is None or after[0] != before[0]):
            self._moves.append((before[0], "", None))
        if after is not None and self._card is not None:
            self._moves.append((after[0], self._card.origin, after[1]))

    def _tell_moves(self) -> None:
        with self._lock:
            moves, self._moves = self._moves, []
        hook = self.on_card_moved
        if hook is not None:
            for move in moves:
                hook(*move)

    def _execute_frame(self, f: Frame) -> bytes:
        if f.cm == Cmd.STATUS:
            return self._positive(f)
        if self._cover_at == "take_in" and f.cm == Cmd.MOVE and f.pm == Move.TAKE_IN:
            self._cover_at, self._cover_open = None, True  # opened just as the card was to come in
        if self._cover_open:
            return encode_negative(f.cm, f.pm, ErrorCode.COVER_OPEN)
        if self._card is not None and self._card.position == CardPosition.JAMMED:
            return encode_negative(f.cm, f.pm, ErrorCode.JAM)
        if f.cm == Cmd.MOVE:
            err = self._move(f.pm)
        elif f.cm == Cmd.ERASE:
            err = self._erase(f.payload)
            if err is None:
                return self._positive(f, f.payload[:8])
        elif f.cm == Cmd.PRINT:
            err = self._print(f.pm, f.payload)
            if err is None:
                # Echo the area: a late reply cannot pass for the next band's.
                return self._positive(f, f.payload[:8])
        elif f.cm == Cmd.TICKET:
            err = self._ticket(f.payload)
            if err is None and self._card is not None:
                return self._positive(f, self._card.job.to_bytes(4, "big"))
        else:
            err = ErrorCode.BAD_COMMAND
        if err is not None:
            return encode_negative(f.cm, f.pm, err)
        return self._positive(f)

    def _positive(self, f: Frame, data: bytes | None = None) -> bytes:
        report = self._report()
        return encode_positive(f.cm, f.pm, report.st(), report.data() if data is None else data)

    def _report(self) -> StatusReport:
        card = self._card
        position = CardPosition.NONE if card is None else card.position
        fault = None
        if position == CardPosition.JAMMED:
            fault = ErrorCode.JAM
        elif self._cover_open:
            fault = ErrorCode.COVER_OPEN
        return StatusReport(
            position=position,
            hopper=hopper_state(self._hopper, self._low),
            bin_full=self._bin >= self._bin_capacity,
            hopper_count=self._hopper,
            hopper_capacity=self._hopper_capacity,
            low_threshold=self._low,
            bin_count=self._bin,
            bin_capacity=self._bin_capacity,
            cover_open=self._cover_open,
            fault=fault,
            job=0 if card is None else card.job,
        )

    def _jams(self, step: str) -> bool:
        if self._jam_at != step or self._card is None:
            return False
        self._jam_at = None
        self._card.position = CardPosition.JAMMED
        self._card.bands.clear()
        return True

    def _move(self, pm: int) -> ErrorCode | None:
        if pm not in Move.__members__.values():
            return ErrorCode.BAD_COMMAND
        card = self._card
        if pm == Move.FEED:
            if card is not None:
                return ErrorCode.CARD_IN_PATH
            if self._hopper <= 0:
                return ErrorCode.HOPPER_EMPTY
            self._hopper -= 1
            blank = Image.new("1", (CARD_WIDTH, CARD_HEIGHT), 255)
            self._card = _Card(self._new_job(), "hopper", CardPosition.IN_PATH, blank)
            return ErrorCode.JAM if self._jams("feed") else None
        if pm == Move.TAKE_IN:
            if card is None or card.position != CardPosition.GATE:
                return ErrorCode.CARD_IN_PATH if card is not None else ErrorCode.NO_CARD
            card.position = CardPosition.IN_PATH
            return ErrorCode.JAM if self._jams("take_in") else None
        if card is None:
            return ErrorCode.NO_CARD
        card.bands.clear()  # stored print bands do not survive a move
        if pm == Move.PRESENT:
            if card.position != CardPosition.GATE:
                if self._jams("present"):
                    return ErrorCode.JAM
                card.position = CardPosition.GATE
            if self._take_at == "present":
                self._take_at = None
                self._take_after_reply = True
            return None
        if pm == Move.TO_ENCODER:
            if card.position not in _INSIDE:
                return ErrorCode.NO_CARD
            card.position = CardPosition.ENCODER
            return None
        if pm == Move.RETRACT:
            if self._take_at == "retract" and card.position == CardPosition.GATE:
                # The resident's hand was quicker than the rollers: the slot is empty on arrival.
                self._take_at = None
                self._finish(card, "taken")
                return ErrorCode.NO_CARD
            if self._bin >= self._bin_capacity:
                return ErrorCode.BIN_FULL
            self._bin += 1
            self._finish(card, "retained")
            return None
        return ErrorCode.BAD_COMMAND  # not reached: every Move is handled above

    def _card_at_head(self) -> _Card | None:
        card = self._card
        if card is None or card.position not in _INSIDE:
            return None
        card.position = CardPosition.IN_PATH  # the printer brings it back under the head
        return card

    def _erase(self, payload: bytes) -> ErrorCode | None:
        area = decode_area(payload)
        if area is None or len(payload) != 8 or not area_on_card(*area):
            return ErrorCode.BAD_PARAMETER
        card = self._card_at_head()
        if card is None:
            return ErrorCode.NO_CARD
        if self._jams("erase"):
            return ErrorCode.JAM
        x, y, w, h = area
        card.face.paste(255, (x, y, x + w, y + h))
        return None

    def _print(self, pm: int, payload: bytes) -> ErrorCode | None:
        area = decode_area(payload)
        if pm not in (PrintPm.BAND, PrintPm.LAST) or area is None or not area_on_card(*area):
            return ErrorCode.BAD_PARAMETER
        w, h = area[2], area[3]
        bits = payload[8:]
        if len(bits) != row_bytes(w) * h:
            return ErrorCode.BAD_PARAMETER
        card = self._card_at_head()
        if card is None:
            return ErrorCode.NO_CARD
        card.bands.append((area, bits))
        if pm == PrintPm.BAND:
            return None
        if self._jams("print"):
            return ErrorCode.JAM
        for (bx, by, bw, bh), b in card.bands:
            # In PIL's mode "1" a set bit is white; on the wire a set bit is a black dot.
            dots = Image.frombytes("1", (bw, bh), b)
            card.face.paste(0, (bx, by, bx + bw, by + bh), mask=dots)
        card.bands.clear()
        return None

    def _ticket(self, payload: bytes) -> ErrorCode | None:
        fields = decode_ticket(payload)
        if fields is None:
            return ErrorCode.BAD_PARAMETER
        card = self._card
        if card is None or card.position not in _INSIDE:
            return ErrorCode.NO_CARD
        card.fields = mask_ticket(fields)  # the record is test output: the holder masked (sim/masking.py)
        return None

    # --- records -------------------------------------------------------------------------

    def _new_job(self) -> int:
        job = self._next_job
        self._next_job += 1
        return job

    @staticmethod
    def _outcome_inside(card: _Card) -> str:
        return "jammed" if card.position == CardPosition.JAMMED else "in_printer"

    def _finish(self, card: _Card, outcome: str) -> None:
        self._done.append(self._save(card, outcome))
        self._card = None

    def _save(self, card: _Card, outcome: str) -> dict:
        png = self._out / f"card-{card.job:04d}.png"
        card.face.save(png)
        record = {
            "job": card.job,
            "origin": card.origin,
            "fields": dict(card.fields) if card.fields is not None else None,
            "face_png": str(png),
            "outcome": outcome,
        }
        (self._out / f"card-{card.job:04d}.json").write_text(
            json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        _log.debug("printer emulator: card job %d %s", card.job, outcome)
        return record

