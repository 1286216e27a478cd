"""The cooperative resident in the new-permit service: the residence question, the photo, the phone."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer


def lives_there(player: ScenarioPlayer) -> bool:
    reg = player.scenario.who.registration
    return reg.lives_there if reg is not None else True


def type_digits(player: ScenarioPlayer, view: View, wanted: str, limit: int = 11) -> bool:
    """Types `wanted` on the keypad one key a frame (deleting what differs), then confirms. No number
    (a resident without a mobile phone): says so. A number the screen says is wrong: gives up."""
    digits = str(view.data.get("digits", ""))
    if not wanted:
        return player.tap(view, "choice.no_phone") or player.tap(view, "cancel")
    if view.data.get("error") and digits == wanted:
        return player.tap(view, "cancel")
    if not wanted.startswith(digits):
        return player.tap(view, "key.del")
    if len(digits) < len(wanted) and len(digits) < limit:
        return player.tap(view, f"key.{wanted[len(digits)]}")
    return player.tap(view, "confirm") or player.tap(view, "cancel")


def answer(player: ScenarioPlayer, view: View) -> bool | None:
    screen = view.screen
    if screen == "new_permit.residence":
        return player.tap(view, "answer.yes" if lives_there(player) else "answer.no")
    if screen == "new_permit.photo":
        return player.tap(view, "capture")
    if screen == "new_permit.phone":
        return type_digits(player, view, player.scenario.who.phone)
    return None
