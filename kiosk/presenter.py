"""From a snapshot of the state and the session to the View a screen draws (no drawing here).

Each flow gives the view functions of its screens (`Flow.SCREENS`); a state without one shows
its screen with no data and no buttons. Nothing here reads the controller.
"""

from __future__ import annotations

from kiosk import chrome
from kiosk.config import KioskConfig
from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import CANCEL
from kiosk.view import Button, Overlay, View, Waiting


def build_view(snap: Snapshot, screens: dict[str, ScreenFn], *, waiting: Waiting, warning_left: int | None,
               site: str, clock_text: str, config: KioskConfig | None = None) -> View:
    """`config`: the terminal's language and service centre, for the header's controls and help."""
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
        chrome=chrome.chrome_buttons(snap.state, snap.session),
        lang=chrome.language(snap.session, config) if config is not None else snap.session.lang or "",
        help=chrome.help_view(snap.state, snap.session, config) if config is not None else None,
        volume=snap.session.volume,
        replay=snap.session.replays,
    )
