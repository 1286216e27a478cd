"""Which services the kiosk can offer: device statuses, supplies and the backend's health in,
the set of services out. The backend's up/down is kept here, once.

A service declares what it needs (`Needs`); it is offered exactly when every required device
is up, the printer has blank cards where the service feeds one, and the reject bin has room
where the service may have to retract a card (a card that cannot be retracted would stay at
the open slot with a resident's data on it). A card the kiosk could not retract blocks every
service that uses the printer until a technician clears it.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition, SupplyLevel
from kiosk.reasons import Service


@dataclass(frozen=True)
class Needs:
    devices: tuple[DeviceKind, ...]
    blank_cards: bool = False  # feeds a card from the hopper
    may_retract: bool = False  # may have to retract a card to the reject bin
    journals: bool = False  # writes the issuance journal: not offered while it cannot be written (issue 15)


class Availability:
    def __init__(self, needs: dict[Service, Needs]) -> None:
        self.needs = needs
        self.status: dict[DeviceKind, DeviceStatus] = {}
        self.backend_up: bool | None = None
        self.card_stuck = False  # a retract failed: a technician must clear the printer
        self.held_out = False  # a technician took the terminal out of service (diagnostics)
        self.storage: str | None = None  # the journal's storage problem (kiosk/journal_health.py), if any

    # --- facts in -------------------------------------------------------------------------

    def update(self, status: DeviceStatus) -> bool:
        """Keeps a device's status; True when it changed."""
        changed = self.status.get(status.device) != status
        self.status[status.device] = status
        if self.card_stuck and status.device is DeviceKind.PRINTER and changed and self._printer_clear(status):
            self.card_stuck = False  # a technician cleared it: recovery may try again
        return changed

    def mark_card_stuck(self) -> None:
        self.card_stuck = True

    @staticmethod
    def _printer_clear(status: DeviceStatus) -> bool:
        bin_ = status.supply("reject_bin")
        return (status.is_up and status.media is not MediaPosition.JAMMED
                and (bin_ is None or bin_.level is not SupplyLevel.FULL))

    def set_backend(self, up: bool) -> bool:
        """The backend's health; True when it changed."""
        if up == self.backend_up:
            return False
        self.backend_up = up
        self.status[DeviceKind.BACKEND] = DeviceStatus(DeviceKind.BACKEND,
                                                       DeviceState.ONLINE if up else DeviceState.OFFLINE)
        return True

    # --- answers out ----------------------------------------------------------------------

    def is_up(self, device: DeviceKind) -> bool:
        if device is DeviceKind.BACKEND:
            return bool(self.backend_up)
        st = self.status.get(device)
        return st is not None and st.is_up

    def heard_from(self, devices: tuple[DeviceKind, ...]) -> bool:
        """Every device has reported once and the backend answered a health check."""
        return all(d in self.status for d in devices) and self.backend_up is not None

    def supply_level(self, name: str) -> SupplyLevel:
        printer = self.status.get(DeviceKind.PRINTER)
        supply = printer.supply(name) if printer is not None else None
        return supply.level if supply is not None else SupplyLevel.UNKNOWN

    def problems(self, service: Service) -> list[str]:
        """Why a service is not offered, as fixed codes (empty: it is offered)."""
        needs = self.needs.get(service)
        if needs is None:
            return ["not_installed"]
        found = [f"{d.value}_down" for d in needs.devices if not self.is_up(d)]
        if self.held_out:
            found.append("technician_hold")
        uses_printer = DeviceKind.PRINTER in needs.devices
        if uses_printer and self.card_stuck:
            found.append("card_stuck")
        if needs.blank_cards and self.supply_level("hopper") is SupplyLevel.EMPTY:
            found.append("hopper_empty")
        if needs.may_retract and self.supply_level("reject_bin") is SupplyLevel.FULL:
            found.append("reject_bin_full")
        if needs.journals and self.storage is not None:
            found.append(self.storage)
        return found

    def offers(self, service: Service) -> bool:
        return not self.problems(service)

    def offered(self) -> tuple[Service, ...]:
        return tuple(s for s in self.needs if self.offers(s))

    def any_offered(self) -> bool:
        return bool(self.offered())

    def down(self) -> list[DeviceKind]:
        """The devices an out-of-service screen lists."""
        kinds = (DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PRINTER, DeviceKind.BACKEND)
        return [d for d in kinds if not self.is_up(d)]

    def supply_problems(self) -> list[str]:
        found = []
        if self.supply_level("hopper") is SupplyLevel.EMPTY:
            found.append("hopper_empty")
        if self.supply_level("reject_bin") is SupplyLevel.FULL:
            found.append("reject_bin_full")
        if self.card_stuck:
            found.append("card_stuck")
        if self.held_out:
            found.append("technician_hold")
        if self.storage is not None:
            found.append(self.storage)
        return found
