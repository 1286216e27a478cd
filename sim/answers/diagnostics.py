"""The cooperative technician: inserts the technician card, types the right PIN, runs every
self-test once (the printer's feed test last: it
gives the card back first) and leaves.

After scripted steps it goes on only where the PIN screen is open and the card not locked (it
types the right PIN), or on the board (it runs the self-tests once if nobody did, then leaves).
A refused or locked-out technician takes the card back and walks away: never waits a lockout out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiosk.view import Waiting

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer


def act(player: ScenarioPlayer, view: View) -> bool:
    from sim import diagnostics_report as diag

    scenario = player.scenario
    who = scenario.technicians[scenario.technician or ""]
    scripted = bool(player.steps)
    steps_done = player.step_i >= len(player.steps)
    if view.waiting_for is Waiting.TAKE_CARD:
        if not steps_done and player.steps[player.step_i].do == "take_card":
            return False  # the scenario takes it itself, next
        if player.hub.call("take_card").get("ok"):
            player._expect_effect()
            return True
        return False
    if view.screen in ("ready.attract", "out_of_service"):
        if not scripted and not player.technician_inserted:
            diag.insert_technician(player, None)
            return True
        return False
    if not steps_done:
        return False
    if view.screen == "diagnostics.pin":
        typed = int(view.data.get("typed") or 0)
        if typed < len(who.pin):
            return player.tap(view, f"key.{who.pin[typed]}")
        return player.tap(view, "confirm")
    if view.screen == "diagnostics.board":
        if not player.technician_tested:
            player.technician_tested = True
            return player.tap(view, "diag.selftests")
        if not player.technician_fed:  # the feed test last: it sends the technician card out first
            player.technician_fed = True
            return player.tap(view, "diag.feed_test")
        return player.tap(view, "diag.leave")
    return False
