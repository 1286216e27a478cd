"""From a snapshot of the state and the session to the View a screen draws (no drawing here).

Each flow gives the view functions of its screens (`Flow.SCREENS`); a state without one shows
its screen with no data and no buttons. What the table declares of a state is added here for
every screen alike: a back button (`StateSpec.back`), "more time" (`StateSpec.more_time`), the
countdown of a screen that moves on by itself, and cancel's confirmation. Nothing here reads
the controller.
"""

from __future__ import annotations

from kiosk import chrome
from kiosk.chart import MORE_TIME_TIMES, StateSpec
from kiosk.config import KioskConfig
from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import BACK, CANCEL, CANCEL_CONFIRM, CANCEL_KEEP, MORE_TIME
from kiosk.view import Button, Overlay, OverlayKind, View, Waiting


def build_view(snap: Snapshot, screens: dict[str, ScreenFn], *, spec: StateSpec | None, warning_left: int | None,
               site: str, clock_text: str, countdown: int | None = None, config: KioskConfig | None = None) -> View:
    """`config`: the terminal's language and service centre, for the header's controls and help."""
    fn = screens.get(snap.state)
    data, buttons = fn(snap) if fn is not None else ({}, ())
    ids = {b.id for b in buttons}
    if spec is not None and spec.back is not None and "back" not in ids:
        # Beside cancel, before it, as the views that have their own back button put it.
        at = next((i for i, b in enumerate(buttons) if b.id == "cancel"), len(buttons))
        buttons = (*buttons[:at], BACK, *buttons[at:])
    if spec is not None and spec.more_time and snap.session.more_time_taken < MORE_TIME_TIMES:
        buttons = (MORE_TIME, *buttons)
    overlay = None
    if warning_left is not None:
        overlay = Overlay(warning_left, (Button("still_here", "button.still_here"), CANCEL))
    elif snap.session.cancel_asked and spec is not None and spec.session:
        overlay = Overlay(0, (CANCEL_KEEP, CANCEL_CONFIRM), OverlayKind.CANCEL)
    lang = chrome.language(snap.session, config) if config is not None else snap.session.lang or ""
    if config is not None and lang == "en" and config.terminal.site_en:
        site = config.terminal.site_en  # the header in English (issue 13); without one, the Chinese name
    return View(
        screen=snap.state,
        waiting_for=spec.waits if spec is not None else Waiting.NOTHING,
        buttons=buttons,
        data=data,
        large_text=snap.session.large_text,
        overlay=overlay,
        site=site,
        clock_text=clock_text,
        chrome=chrome.chrome_buttons(snap.state, snap.session),
        lang=lang,
        help=chrome.help_view(snap.state, snap.session, config) if config is not None else None,
        volume=snap.session.volume,
        replay=snap.session.replays,
        countdown=countdown,
    )
