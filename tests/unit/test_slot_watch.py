"""The printer's fast slot polls follow the rewrite's insert screen (issue 16): on while the screen
waits for the resident's permit at the front slot, off again whichever way the screen is left, so
that the printer does not keep polling every 50 ms for the rest of the day."""

from __future__ import annotations

from kiosk.chart import Trigger as T
from kiosk.controller import Kiosk
from kiosk.flows.card_rewrite import CR
from tests.unit.test_core import all_up, kiosk


def at_notice() -> tuple[Kiosk, list[bool]]:
    k = kiosk()
    k.ports.qr_scanner = None  # type: ignore[misc]
    watched: list[bool] = []
    k.ports.printer.watch_slot = watched.append  # type: ignore[attr-defined]
    all_up(k)
    k.machine.set_state("card_rewrite.notice", model=k)
    return k, watched


def test_the_insert_screen_watches_the_slot_and_stops_when_a_card_comes() -> None:
    k, watched = at_notice()
    assert k.fire(T.TAP_CONFIRM) and k.state == "card_rewrite.insert_card"
    assert watched == [True]
    assert k.fire(CR.CARD_INSERTED) and k.state == "card_rewrite.read_chip"
    assert watched == [True, False]


def test_going_back_from_the_insert_screen_stops_watching_the_slot() -> None:
    k, watched = at_notice()
    k.fire(T.TAP_CONFIRM)
    assert k.fire(T.TAP_BACK) and k.state == "card_rewrite.notice"
    assert watched == [True, False]
