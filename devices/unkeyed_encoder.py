"""The chip encoder of a terminal configured without chip keys (`devices.encoder.keys_file = ""`).

Without the issuer's keys no card can be personalised or rewritten, and no technician card's
PIN checked, so the encoder is reported unavailable (OFFLINE, detail `no_keys`) and never
opened: the core then offers exactly the services that need no chip (availability.py), and the
diagnostics board names the cause. Every operation answers at once with NO_DEVICE, so nothing
that asks anyway waits for a device operation's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from devices.events import ChipError, ChipOp, ChipResult, StatusChanged
from devices.permit_profile import PermitContents, TechnicianChipData
from devices.publish import post_safely
from devices.status import DeviceKind, DeviceState, DeviceStatus

NO_KEYS = "no_keys"


class UnkeyedEncoder:
    def __init__(self, sink: Callable[[object], None]) -> None:
        self._sink = sink
        self._status = DeviceStatus(DeviceKind.PERMIT_CARD, DeviceState.OFFLINE, detail=NO_KEYS)

    @property
    def status(self) -> DeviceStatus:
        return self._status

    def start(self) -> None:
        post_safely(self._sink, StatusChanged(self._status), DeviceKind.PERMIT_CARD)

    def stop(self) -> None:
        pass

    def check_now(self) -> None:
        post_safely(self._sink, StatusChanged(self._status), DeviceKind.PERMIT_CARD)

    def _refuse(self, op: ChipOp) -> None:
        post_safely(self._sink, ChipResult(op, False, ChipError.NO_DEVICE), DeviceKind.PERMIT_CARD)

    def read_card(self) -> None:
        self._refuse(ChipOp.READ)

    def read_technician_card(self) -> None:
        self._refuse(ChipOp.READ_TECHNICIAN)

    def personalise(self, data: PermitContents) -> None:
        self._refuse(ChipOp.PERSONALISE)

    def write_validity(self, valid_from: date, valid_until: date, endorsement_count: int) -> None:
        self._refuse(ChipOp.WRITE_VALIDITY)

    def pin_matches(self, card: TechnicianChipData, pin: str) -> bool:
        return False
