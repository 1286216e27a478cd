"""The cooperative resident's answers, one module per service.

The runner plays what every service has in common (ID card, permit card, face, taking a card,
the idle warning); a service's own screens are answered by its module here, so adding a service
adds a module and a line in `ANSWERS` and touches nothing of the others.

An answer returns True when it acted, False when it chose not to act on this view, and None
when the screen is not one it knows (the runner then taps `confirm` on a touch screen).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sim.answers import card_rewrite, diagnostics, new_permit, registration, status_query

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer

Answer = Callable[["ScenarioPlayer", "View"], bool | None]

ANSWERS: dict[str, Answer] = {
    "new_permit": new_permit.answer,
    "card_rewrite": card_rewrite.answer,
    "status_query": status_query.answer,
    "registration": registration.answer,
}


def technician(player: ScenarioPlayer, view: View) -> bool:
    """A diagnostics scenario: the technician, not a resident, stands at the kiosk."""
    return diagnostics.act(player, view)


def answer(player: ScenarioPlayer, view: View) -> bool | None:
    fn = ANSWERS.get(view.screen.split(".", 1)[0])
    return fn(player, view) if fn is not None else None


__all__ = ["ANSWERS", "Answer", "answer", "technician"]
