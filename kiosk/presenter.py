"""From a snapshot of the state and the session to the View a screen draws (no drawing here).

Each flow gives the view functions of its screens (`Flow.SCREENS`); a state without one shows
its screen with no data and no buttons. Nothing here reads the controller.
"""

from __future__ import annotations

from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import CANCEL
from kiosk.view import Button, Overlay, View, Waiting


def build_view(snap: Snapshot, screens: dict[str, ScreenFn], *, waiting: Waiting, warning_left: int | None,
               site: str, clock_text: str) -> View:
    fn = screens.get(snap.state)
    data, buttons = fn(snap) if fn is not None else ({}, ())
    overlay = None
    if warning_left is not None:
        overlay = Overlay(warning_left, (Button("still_here", "button.still_here"), CANCEL))
    return View(
        screen=snap.state,
        waiting_for=waiting,
        buttons=buttons,
        data=data,
        large_text=snap.session.large_text,
        overlay=overlay,
        site=site,
        clock_text=clock_text,
    )
