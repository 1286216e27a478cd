"""How every adapter reports: a status only when it changed, and never let a broken sink stop the worker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from devices.events import StatusChanged
from devices.status import DeviceStatus

_log = logging.getLogger(__name__)


def post_safely(sink: Callable[[object], None], event: object, device: str) -> None:
    try:
        sink(event)
    except Exception:  # the kiosk's queue failing must not take the device's worker down with it
        _log.exception("%s: event sink failed", device)


def publish(current: DeviceStatus, updated: DeviceStatus, sink: Callable[[object], None],
            device: str) -> DeviceStatus:
    """Posts StatusChanged when `updated` differs from `current`; returns the status to keep."""
    if updated == current:
        return current
    if (updated.state, updated.detail) != (current.state, current.detail):
        _log.info("%s: %s (%s)", device, updated.state.value, updated.detail or "-")
    post_safely(sink, StatusChanged(updated), device)
    return updated
