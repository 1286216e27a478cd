"""The one status model shared by every device adapter (after CEN/XFS4IoT and IATA CUSS).

A device's condition is a closed set of states, never free text: screens, diagnostics,
logs and the scenario report all read these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DeviceKind(StrEnum):
    ID_READER = "id_reader"
    PRINTER = "printer"
    PERMIT_CARD = "permit_card"  # the chip encoder inside the printer
    CAMERA = "camera"
    QR_SCANNER = "qr_scanner"
    BACKEND = "backend"


class DeviceState(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    NO_DEVICE = "no_device"
    HARDWARE_ERROR = "hardware_error"
    USER_ERROR = "user_error"
    BUSY = "busy"


class MediaPosition(StrEnum):
    NONE = "none"
    ENTERING = "entering"
    PRESENT = "present"
    JAMMED = "jammed"
    LATCHED = "latched"
    RETRACTED = "retracted"


class SupplyLevel(StrEnum):
    FULL = "full"
    HIGH = "high"
    LOW = "low"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Supply:
    name: str  # "hopper" (blank cards) or "reject_bin"
    level: SupplyLevel
    count: int | None = None
    threshold: int | None = None


@dataclass(frozen=True)
class DeviceInfo:
    model: str = ""
    serial: str = ""
    firmware: str = ""


@dataclass(frozen=True)
class DeviceStatus:
    device: DeviceKind
    state: DeviceState
    media: MediaPosition = MediaPosition.NONE
    supplies: tuple[Supply, ...] = ()
    info: DeviceInfo = field(default_factory=DeviceInfo)
    # A fixed machine-readable code ("jam", "cover_open", "port_closed"); never resident data.
    detail: str = ""

    @property
    def is_up(self) -> bool:
        return self.state in (DeviceState.ONLINE, DeviceState.BUSY)

    def changed(self, *, state: DeviceState | None = None, detail: str | None = None,
                media: MediaPosition | None = None, info: DeviceInfo | None = None) -> DeviceStatus:
        """This status with the given parts replaced (None: unchanged)."""
        return DeviceStatus(
            self.device,
            state if state is not None else self.state,
            media if media is not None else self.media,
            self.supplies,
            info if info is not None else self.info,
            detail if detail is not None else self.detail,
        )

    def supply(self, name: str) -> Supply | None:
        for s in self.supplies:
            if s.name == name:
                return s
        return None


def level_for(count: int, capacity: int, low_threshold: int) -> SupplyLevel:
    """Supply level of a counted supply (blank cards) from its count."""
    if count <= 0:
        return SupplyLevel.EMPTY
    if count <= low_threshold:
        return SupplyLevel.LOW
    if count >= capacity:
        return SupplyLevel.FULL
    return SupplyLevel.HIGH
