"""The attract screen and the menu: which services are offered, and the way into one."""

from __future__ import annotations

from typing import Any

from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.flows.base import Flow, Snapshot
from kiosk.flows.buttons import BACK
from kiosk.reasons import Service
from kiosk.session import Session
from kiosk.view import Button, ButtonStyle, Waiting

MENU_ORDER = (Service.NEW_PERMIT, Service.CARD_REWRITE, Service.REGISTRATION, Service.STATUS_QUERY)


class Home(Flow):
    CHART = ChartPart(
        owner="home",
        states=(
            StateSpec("ready", children=(
                StateSpec("attract", Waiting.TOUCH, checks_health=True, on_enter="enter_attract"),
                StateSpec("menu", Waiting.TOUCH, timers=(TimerSpec("menu", "idle", T.MENU_TIMEOUT),)),
            )),
        ),
        edges=(
            Edge(T.TAP_START, "ready.attract", "ready.menu"),
            Edge(T.TAP_BACK, "ready.menu", "ready.attract"),
            Edge(T.MENU_TIMEOUT, "ready.menu", "ready.attract", after="forget_choices"),
            Edge(T.DEVICES_CHANGED, "ready", "out_of_service", unless=("any_service_available",)),
        ),
    )

    def any_service_available(self) -> bool:
        return self.core.availability.any_offered()

    def enter_attract(self) -> None:
        self.core.services_changed()

    def forget_choices(self) -> None:
        """The menu was left alone: whoever comes next starts in the defaults (text size, language)."""
        self.core.session = Session()


def _services(snap: Snapshot) -> list[dict[str, Any]]:
    # A service the terminal is not configured for is not on the menu at all (not greyed out).
    return [{"id": s.value, "available": s in snap.offered} for s in MENU_ORDER
            if snap.installed is None or s in snap.installed]


def attract_view(snap: Snapshot) -> tuple[dict[str, Any], tuple[Button, ...]]:
    return {"services": _services(snap)}, (Button("start", "button.start"),)


def menu_view(snap: Snapshot) -> tuple[dict[str, Any], tuple[Button, ...]]:
    tiles = tuple(Button(f"service.{s['id']}", f"service.{s['id']}", enabled=s["available"], style=ButtonStyle.TILE)
                  for s in _services(snap))
    return {}, (*tiles, BACK)


Home.SCREENS = {"ready.attract": attract_view, "ready.menu": menu_view}
