"""The cooperative resident in the card-face rewrite: the residence question."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.answers.new_permit import lives_there

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer


def answer(player: ScenarioPlayer, view: View) -> bool | None:
    if view.screen == "card_rewrite.residence":
        return player.tap(view, "answer.yes" if lives_there(player) else "answer.no")
    return None
