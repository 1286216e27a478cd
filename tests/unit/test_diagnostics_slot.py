"""A card in the front slot at rest (kiosk/flows/diagnostics.py `look_at_slot`): taken in as a
technician's when a status says it came, and when a technician left it there (after
`technician_card_back`, no status will say so) only if the printer can take it: a card the
printer could not take in would otherwise go round card_in, card_out and back for ever.
The whole visit runs in tests/scenarios/cases/diagnostics_card_left_at_slot_taken_in_at_rest.toml."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition
from kiosk.availability import Availability
from kiosk.flows.diagnostics import DG, Diagnostics


def core_at_rest(media: MediaPosition, state: DeviceState = DeviceState.ONLINE) -> Any:
    availability = Availability({})
    availability.update(DeviceStatus(DeviceKind.PRINTER, state, media))
    fired: list[Any] = []
    core = SimpleNamespace(state="ready.attract", card_job=None, availability=availability, fired=fired)
    core.fire = lambda trigger: fired.append(trigger) or True
    return core


def test_a_card_left_at_the_slot_is_taken_in_at_rest() -> None:
    core = core_at_rest(MediaPosition.ENTERING)
    assert Diagnostics(core).look_at_slot() is True
    assert core.fired == [DG.CARD_AT_SLOT]


@pytest.mark.parametrize("why", ["card_stuck", "printer_down"])
def test_untold_a_card_is_not_taken_in_by_a_printer_that_cannot(why: str) -> None:
    core = core_at_rest(MediaPosition.ENTERING,
                        DeviceState.HARDWARE_ERROR if why == "printer_down" else DeviceState.ONLINE)
    core.availability.card_stuck = why == "card_stuck"
    assert Diagnostics(core).look_at_slot() is False
    assert core.fired == []
    # Told by a status, the card is a technician's whatever the printer's state (one who comes
    # to clear a stuck card must get in).
    assert Diagnostics(core).look_at_slot(status=True) is True


@pytest.mark.parametrize("media", [MediaPosition.NONE, MediaPosition.RETRACTED, MediaPosition.PRESENT])
def test_nothing_in_the_slot_takes_nothing_in(media: MediaPosition) -> None:
    core = core_at_rest(media)
    assert Diagnostics(core).look_at_slot() is False
    assert core.fired == []


def test_not_at_rest_or_with_a_card_job_nothing_is_taken_in() -> None:
    core = core_at_rest(MediaPosition.ENTERING)
    core.state = "new_permit.insert_card"
    assert Diagnostics(core).look_at_slot(status=True) is False
    core.state, core.card_job = "ready.attract", object()
    assert Diagnostics(core).look_at_slot(status=True) is False
    assert core.fired == []
