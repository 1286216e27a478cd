"""The cooperative resident in the status query, and what the show screen showed.

At the show screen the resident reads and taps done (`confirm`): an offered service is taken
only when a step says so (`[[steps]] do = "tap" target = "service.card_rewrite"`).

`shown` turns the show screen's view data (what the screen draws) into the typed facts a
scenario's `[expect.shown]` checks: a key appears only when the screen drew its value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiosk.view import View
    from sim.runner import ScenarioPlayer

SHOW = "status_query.show"
# [expect.shown] key ← the view data key the screen draws it from
DRAWN = {
    "registration_valid_through": "reg_valid_through",
    "permit_possible_on": "permit_possible_on",
    "permit_valid_until": "permit_valid_until",
    "card_valid_until": "card_valid_until",
    "endorsement_opens": "endorsement_opens",
    "endorsement_closes": "endorsement_closes",
    "points_valid_until": "points_valid_until",
    "points": "points",
}


def shown(data: dict[str, Any]) -> dict[str, Any]:
    out = {key: data[src] for key, src in DRAWN.items() if data.get(src) is not None}
    if data.get("reg_expired"):
        out.pop("permit_possible_on", None)  # an expired registration shows "declare again" instead
    if data.get("permit_status") == "cancelled":
        for key in ("permit_valid_until", "card_valid_until"):
            out.pop(key, None)  # a cancelled permit shows only that it is cancelled
    if "endorsement" in data:
        out["endorsement"] = data["endorsement"]
        if data["endorsement"] == "none":
            out.pop("endorsement_opens", None)
            out.pop("endorsement_closes", None)
    if "points_state" in data:
        out["points_valid"] = data["points_state"] == "valid"
    if "offered" in data:
        out["offered"] = data["offered"] or "none"
    return out


def answer(player: ScenarioPlayer, view: View) -> bool | None:
    if view.screen == SHOW:
        return player.tap(view, "confirm")
    return None
