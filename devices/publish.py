"""How every adapter reports: a status only when it changed, and never let a broken sink stop the worker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from devices.events import DeviceLogged, DeviceNote, StatusChanged
from devices.status import DeviceKind, DeviceStatus

# The labels adapters used before they passed their DeviceKind.
_LABELS: dict[str, DeviceKind] = {
    "id reader": DeviceKind.ID_READER,
    "card printer": DeviceKind.PRINTER,
    "permit card": DeviceKind.PERMIT_CARD,
    "camera": DeviceKind.CAMERA,
}


def device_kind(device: DeviceKind | str) -> DeviceKind | None:
    if isinstance(device, DeviceKind):
        return device
    try:
        return DeviceKind(device)
    except ValueError:
        return _LABELS.get(device)


def post_safely(sink: Callable[[object], None], event: object, device: DeviceKind | str) -> bool:
    """Posts `event`; True when the sink took it. A sink that raises is told so once more, as a
    DeviceLogged(SINK_FAILED) note naming the event's type, if it takes that; else nothing is said."""
    try:
        sink(event)
    except Exception as exc:  # the kiosk's queue failing must not take the device's worker down with it
        kind = device_kind(device)
        if kind is not None and not isinstance(event, DeviceLogged):
            with contextlib.suppress(Exception):
                sink(DeviceLogged(kind, DeviceNote.SINK_FAILED, f"{type(event).__name__}:{type(exc).__name__}"))
        return False
    return True


def publish(current: DeviceStatus, updated: DeviceStatus, sink: Callable[[object], None],
            device: DeviceKind | str) -> DeviceStatus:
    """Posts StatusChanged when `updated` differs from `current`; returns the status to keep.

    The core logs every StatusChanged (DEVICE_STATUS), so nothing else is said here."""
    if updated == current:
        return current
    post_safely(sink, StatusChanged(updated), device)
    return updated
