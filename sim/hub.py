"""The device hub: one process hosting the serial-device emulators behind pty pairs.

`python -m sim.hub --dir DIR --residents residents.json [--faults faults.json] [--pace]`
creates DIR/ttyIDR, DIR/ttyPRN and DIR/ttyQRS (symlinks to pty slaves the kiosk's drivers open by
path), starts the emulators, serves JSON-line commands on the Unix socket DIR/hub.sock
(present or lift an ID card, take the presented card now or at the next retract/present,
inject faults, read the printer's records, hold a code under the QR scanner), prints one ready line
`{"id_reader": ..., "printer": ..., "qr_scanner": ..., "control": ..., "pid": ...}` and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

from devices.permit_profile import (
    CardKind,
    Fid,
    PermitContents,
    PermitValidity,
    decode_card_info,
    decode_holder,
    decode_validity_ef,
)
from devices.printer_protocol import CardPosition
from kiosk import cardface
from kiosk.dates import add_months
from sim import faces
from sim.id_card_data import (
    SIM_FOREIGN_AUTHORITY,
    encode_card,
    simulated_country,
    simulated_pass_number,
    stand_in_photo,
)
from sim.id_reader_emu import IdReaderEmulator
from sim.pcscd import VIRTUAL_READER
from sim.permit_card_emu import CardSlot, PullMode, VirtualPermitCard
from sim.printer_emu import PrinterEmulator
from sim.pty_link import PtyLink
from sim.qr_scanner_emu import HUB_COMMANDS as QR_COMMANDS
from sim.qr_scanner_emu import QrScannerEmulator
from sim.qr_scanner_emu import hub_command as qr_command

ENCODER_READER = f"{VIRTUAL_READER} 00 00"  # vpcd's first slot: the encoder inside the printer


class Hub:
    def __init__(self, directory: Path, residents: dict[str, Any], *, pace: bool, baudrate: int,
                 printer_opts: dict[str, int], with_chip: bool = True, vpcd_port: int | None = None,
                 qr_max_line: int = 512) -> None:
        self.directory = directory
        self.residents = residents
        rate = baudrate if pace else None
        self.id_link = PtyLink(str(directory / "ttyIDR"), baudrate=rate)
        self.printer_link = PtyLink(str(directory / "ttyPRN"), baudrate=rate)
        self.id_reader = IdReaderEmulator(self.id_link)
        (directory / "printed").mkdir(parents=True, exist_ok=True)
        self.printer = PrinterEmulator(self.printer_link, directory / "printed", **printer_opts)
        self.qr_link = PtyLink(str(directory / "ttyQRS"))
        self.qr_scanner = QrScannerEmulator(self.qr_link, max_line=qr_max_line)
        self.lock = threading.Lock()
        # The chip encoder inside the printer: a vpcd slot (needs a running pcscd); each card in
        # the printer has its chip, put into the field while the card is at the encoder.
        self.with_chip = with_chip
        # `vpcd_port`: the encoder's slot, "Virtual PCD 00 00" (default: config/sim.toml's [pcsc]).
        self.slot = CardSlot(vpcd_port, reader=ENCODER_READER) if with_chip else None
        self.chips: dict[int, VirtualPermitCard] = {}
        self._pending_chip: VirtualPermitCard | None = None
        self._absent = 0  # moves to the encoder that leave the chip out of the field (fault "absent")
        self.printer.on_card_moved = self._card_moved

    def start(self) -> None:
        self.id_reader.start()
        self.printer.start()

    def stop(self) -> None:
        self.id_reader.stop()
        self.printer.stop()
        if self.slot is not None and self.slot.inserted:
            self.slot.remove()
        self.id_link.close()
        self.printer_link.close()
        self.qr_link.close()

    def permit_card_for(self, key: str) -> tuple[Any, VirtualPermitCard]:
        """A resident's own permit card: its face as printed then, and its chip (card_valid_until)."""
        r, p = self.residents[key], self.residents[key]["permit"]
        card_until = date.fromisoformat(p.get("card_valid_until", p["valid_until"]))
        validity = PermitValidity(date.fromisoformat(p["issued"]), add_months(card_until, -12), card_until, 0)
        reg = r.get("registration") or {}
        contents = PermitContents(
            permit_number=p["number"], name=r["name"], sex=r["sex"], nation=r["nation"],
            birth=date.fromisoformat(r["birth"]), id_number=r["id_number"], household_address=r["id_address"],
            residence_address=reg.get("address", ""), validity=validity, photo=self._chip_photo(key),
        )
        face = cardface.render(cardface.CardFace(
            permit_number=p["number"], name=r["name"], sex=r["sex"], nation=r["nation"],
            birth=contents.birth, id_number=r["id_number"], household_address=r["id_address"],
            residence_address=contents.residence_address, authority="上海市公安局", issued=validity.issue_date,
            valid_from=validity.valid_from, valid_until=validity.valid_until, photo=None,
        ))
        serial = f"{0x5B00000000000000 + sum(p['number'].encode()):016X}"
        return face, VirtualPermitCard.permit(serial, contents)

    @staticmethod
    def _chip_photo(key: str) -> bytes:
        import io

        buf = io.BytesIO()
        faces.reference_portrait(key).convert("RGB").resize((102, 126)).save(buf, "JPEG", quality=70)
        return buf.getvalue()

    def _card_moved(self, job: int, origin: str, position: CardPosition | None) -> None:
        """The printer emulator's call (its thread, no lock of it held) after a move, before its answer."""
        if self.slot is None:
            return
        if job not in self.chips and origin == "hopper":
            self.chips[job] = VirtualPermitCard.blank(f"{0x5A00000000000000 + job:016X}")
        if job not in self.chips and origin == "inserted" and self._pending_chip is not None:
            self.chips[job] = self._pending_chip
        at_encoder = position == CardPosition.ENCODER
        chip = self.chips.get(job)
        if at_encoder and chip is not None and not self.slot.inserted:
            if self._absent > 0:  # a dead contact: the chip never reaches the encoder's field
                self._absent -= 1
                return
            self.slot.insert(chip)
        elif not at_encoder and self.slot.inserted and self.slot.card is chip:
            self.slot.remove()

    def chip_summary(self, job: int) -> dict[str, Any] | None:
        """What a scenario may check of a card's chip: its kind, permit number and validity (no names)."""
        chip = self.chips.get(job)
        if chip is None:
            return None
        info = decode_card_info(chip.file(Fid.CARD_INFO))
        out: dict[str, Any] = {"serial": info.serial, "kind": info.kind.value}
        if info.kind is CardKind.PERMIT:
            state = decode_validity_ef(chip.file(Fid.VALIDITY))
            if state.current is not None:
                v = state.current.validity
                out.update(valid_from=v.valid_from.isoformat(), valid_until=v.valid_until.isoformat(),
                           endorsement_count=v.endorsement_count)
            out["permit_number"] = decode_holder(chip.file(Fid.HOLDER)).permit_number
        return out

    def card_for(self, key: str) -> Any:
        """The resident's ID card, with their authority portrait as its stand-in photo.

        The scenario format describes every resident with a citizen's fields; a foreigner's or
        HK/Macao/Taiwan card gets what its layout needs instead (docs/protocols/id-reader.md,
        "Simulated residents' cards"): a GB 3304 nation becomes a country code, a long
        authority name the 2017 card's 4-character code, and a permit card gets a pass number."""
        r = self.residents[key]
        card_type = r["card_type"]
        valid_to = None if r["id_valid_to"] == "长期" else date.fromisoformat(r["id_valid_to"])
        nation, authority = r["nation"], r["id_authority"]
        extra: dict[str, str] = {}
        if card_type in ("foreign_permanent", "foreign_permanent_2023"):
            nation = simulated_country(nation)
            if card_type == "foreign_permanent" and len(authority) > 4:
                authority = SIM_FOREIGN_AUTHORITY
        elif card_type == "hk_mo_tw_residence":
            extra["pass_number"] = simulated_pass_number(r["id_number"])
        return encode_card(
            card_type=card_type, name=r["name"], sex=r["sex"], nation=nation,
            birth=date.fromisoformat(r["birth"]), id_number=r["id_number"], address=r["id_address"],
            authority=authority, valid_from=date.fromisoformat(r["id_valid_from"]), valid_to=valid_to,
            photo=stand_in_photo(key), **extra,
        )

    def fault(self, device: str, kind: str, at: str | None, count: int) -> dict[str, Any]:
        if device == "id_reader":
            self.id_reader.inject_fault(kind, at, count)
        elif device == "printer":
            self.printer.inject_fault(kind, at)
        elif device == "qr_scanner":
            try:
                self.qr_scanner.inject_fault(kind, at, count)
            except ValueError as exc:
                return {"ok": False, "error": str(exc)}
        elif device == "permit_card" and self.slot is not None:
            # "pull" (the card leaves the field at the next write), "fail:6581" (an error status)
            if kind == "pull":
                self.slot.pull_at(ins=0xD6, after=count - 1, mode=PullMode.TEAR)
            elif kind.startswith("fail:"):
                self.slot.fail_next(int(kind.split(":", 1)[1], 16), ins=0xD6)
            elif kind == "absent":
                # The next `count` moves to the encoder never bring the chip into the field.
                self._absent = count
            else:
                return {"ok": False, "error": f"unknown permit_card fault {kind!r}"}
        else:
            return {"ok": False, "error": f"no emulator for {device} in the hub"}
        return {"ok": True}

    def power_cycle(self) -> dict[str, Any]:
        """The kiosk was switched off and on (sim/faultmatrix.py): the devices' armed faults and a
        vanished USB port are gone, as a power cycle re-enumerates them; what is physical stays
        (a jammed card, the cover, the hopper's and the bin's contents)."""
        self.id_reader.clear_faults()
        self.id_reader.reappear()
        for kind in ("silent", "garbage", "take", "vanish"):
            self.printer.clear_fault(kind)
        self.qr_scanner.clear_faults()
        self.qr_scanner.reappear()
        if self.slot is not None:
            self.slot.clear_faults()
        self._absent = 0
        return {"ok": True}

    def insert_technician(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """A technician pushes their card into the printer's front slot: the chip as the card
        factory wrote it (the PIN's verification value, never the PIN), the face left blank."""
        from devices.permit_profile import TechnicianStatus

        card_id = cmd.get("card_id")
        pin = cmd.get("pin")
        if not isinstance(card_id, str) or not card_id or not isinstance(pin, str):
            return {"ok": False, "error": "insert_technician needs card_id and pin"}
        try:
            status = TechnicianStatus(cmd.get("status", "active"))
            until = cmd.get("valid_until")
            valid_until = date.fromisoformat(until) if until else None
        except ValueError as exc:
            return {"ok": False, "error": f"bad technician card: {exc}"}
        serial = f"{0x5D00000000000000 + sum(card_id.encode()):016X}"
        self._pending_chip = VirtualPermitCard.technician(serial, card_id, pin, role=str(cmd.get("role", "")),
                                                          valid_until=valid_until, status=status)
        ok = self.printer.insert_card(None)
        self._pending_chip = None
        return {"ok": bool(ok)}

    def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            op = cmd.get("cmd")
            if op == "present_id":
                key = cmd.get("resident")
                if key not in self.residents:
                    return {"ok": False, "error": "unknown resident"}
                try:
                    card = self.card_for(key)
                except ValueError as exc:  # a resident the card layout cannot hold
                    return {"ok": False, "error": f"cannot encode this card: {exc}"}
                self.id_reader.place_card(card)
                return {"ok": True}
            if op == "insert_permit":
                key = cmd.get("resident")
                if key not in self.residents:
                    return {"ok": False, "error": "unknown resident"}
                if "permit" in self.residents[key]:
                    face, chip = self.permit_card_for(key)
                else:
                    # A resident without a permit pushes in some other card: an unpersonalised one.
                    face, chip = None, VirtualPermitCard.blank(f"{0x5C00000000000000 + len(self.chips):016X}")
                self._pending_chip = chip
                ok = self.printer.insert_card(face)
                self._pending_chip = None
                return {"ok": bool(ok)}
            if op in QR_COMMANDS:
                return qr_command(self.qr_scanner, cmd)
            if op == "insert_technician":
                return self.insert_technician(cmd)
            if op in ("refill", "empty_bin"):
                # The technician's hands: blank cards into the hopper, the reject bin emptied.
                if op == "refill":
                    count = cmd.get("count")
                    self.printer.refill(int(count) if count is not None else None)
                else:
                    self.printer.empty_bin()
                return {"ok": True}
            if op == "clear_fault":
                if cmd.get("device", "printer") != "printer":
                    return {"ok": False, "error": "only the printer's faults are cleared here"}
                try:
                    self.printer.clear_fault(str(cmd.get("kind", "")))
                except ValueError as exc:
                    return {"ok": False, "error": str(exc)}
                return {"ok": True}
            if op == "lift_id":
                self.id_reader.lift_card()
                return {"ok": True}
            if op == "take_card":
                at = cmd.get("at")
                if at is None:  # now: the card waiting at the slot, if there is one
                    return {"ok": bool(self.printer.take_card())}
                # Later, at a given moment of the printer's (sim/printer_emu.TAKE_STEPS): armed, one-shot.
                try:
                    self.printer.inject_fault("take", at)
                except ValueError as exc:
                    return {"ok": False, "error": str(exc)}
                return {"ok": True}
            if op == "power_cycle":
                return self.power_cycle()
            if op == "fault":
                return self.fault(cmd.get("device", ""), cmd.get("kind", ""), cmd.get("at"), int(cmd.get("count", 1)))
            if op == "state":
                records = self.printer.records
                for record in records:
                    summary = self.chip_summary(int(record.get("job", 0)))
                    if summary is not None:
                        record["chip"] = summary
                return {
                    "ok": True,
                    "printer": {
                        "records": records,
                        "cards_issued": self.printer.cards_issued,
                        "cards_retained": self.printer.cards_retained,
                        "hopper": self.printer.hopper_count,
                        "bin": self.printer.bin_count,
                    },
                }
            return {"ok": False, "error": f"unknown command {op!r}"}


def serve(hub: Hub, sock_path: Path) -> socketserver.UnixStreamServer:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                try:
                    cmd = json.loads(line)
                    reply = hub.handle(cmd) if isinstance(cmd, dict) else {"ok": False, "error": "not an object"}
                except (ValueError, TypeError) as exc:
                    reply = {"ok": False, "error": f"bad command: {type(exc).__name__}"}
                self.wfile.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
                self.wfile.flush()

    class Server(socketserver.ThreadingUnixStreamServer):
        daemon_threads = True
        request_queue_size = 64  # socketserver's backlog of 5 refused clients that connected at once

    sock_path.unlink(missing_ok=True)
    server = Server(str(sock_path), Handler)
    # A short poll: shutdown() waits for the loop to look, and the runner waits for shutdown().
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-control",
                     daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--residents", required=True, type=Path)
    ap.add_argument("--faults", type=Path)
    ap.add_argument("--pace", action="store_true")
    ap.add_argument("--baudrate", type=int, default=115200)
    ap.add_argument("--hopper", type=int, default=100)
    ap.add_argument("--hopper-capacity", type=int, default=200)
    ap.add_argument("--low-threshold", type=int, default=10)
    ap.add_argument("--bin-capacity", type=int, default=50)
    ap.add_argument("--no-chip", action="store_true", help="no chip encoder (no pcscd running)")
    ap.add_argument("--vpcd-port", type=int, help="vpcd's port of the encoder (default: config/sim.toml [pcsc])")
    ap.add_argument("--qr-max-line", type=int, default=512, help="the emulated QR scanner's line limit")
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    residents = json.loads(args.residents.read_text(encoding="utf-8"))["residents"]
    hub = Hub(args.dir, residents, pace=args.pace, baudrate=args.baudrate, printer_opts={
        "hopper": args.hopper, "hopper_capacity": args.hopper_capacity,
        "low_threshold": args.low_threshold, "bin_capacity": args.bin_capacity,
    }, with_chip=not args.no_chip, vpcd_port=args.vpcd_port, qr_max_line=args.qr_max_line)
    if args.faults is not None:
        for f in json.loads(args.faults.read_text(encoding="utf-8")):
            hub.fault(f["device"], f["kind"], f.get("at"), int(f.get("count", 1)))
    hub.start()
    server = serve(hub, args.dir / "hub.sock")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(json.dumps({"id_reader": hub.id_link.path, "printer": hub.printer_link.path, "qr_scanner": hub.qr_link.path,
                      "control": str(args.dir / "hub.sock"), "pid": os.getpid()}), flush=True)
    stop.wait()
    server.shutdown()
    server.server_close()
    hub.stop()
    return 0


class HubClient:
    """The runner's and the developer panel's end of the hub's control socket."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(path)
        self._file = self._sock.makefile("rwb")

    def call(self, cmd: str, **kw: Any) -> dict[str, Any]:
        self._file.write(json.dumps({"cmd": cmd, **kw}, ensure_ascii=False).encode() + b"\n")
        self._file.flush()
        line = self._file.readline()
        if not line:
            raise ConnectionError("the device hub closed its control socket")
        return json.loads(line)

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._sock.close()


if __name__ == "__main__":
    sys.exit(main())
