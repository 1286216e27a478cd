"""The header's resident controls on every screen a resident sees: large text (大字版), the
language (中文 / English), help with a staff call, and the voice prompts' volume (0 mutes) and
replay (issue 13).

They change only the session's own choices (no state change, no trigger): the screen under
them stays where it was. A new session starts in the defaults again (Session()).
Help is an overlay drawn over the step with one big close button, never a trap: the idle
timer keeps running, a state change closes it, and nothing under it is lost.
"""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.logevents import EventLog, LogEvent
from kiosk.session import Session
from kiosk.view import Button, ButtonStyle, Help

# Screens that are the machine's own, with no resident to serve: no header controls.
WITHOUT_CHROME = ("boot", "self_test", "recovery", "diagnostics.")
LANGS = ("zh", "en")

LARGE = "ui.large"
LANG = "ui.lang"
HELP = "ui.help"
VOLUME = "ui.volume"
REPLAY = "ui.replay"
MAX_VOLUME = 3
HELP_CLOSE = "help.close"
HELP_STAFF = "help.staff"


def has_chrome(state: str) -> bool:
    return not any(state == p or (p.endswith(".") and state.startswith(p)) for p in WITHOUT_CHROME)


def chrome_buttons(state: str, session: Session) -> tuple[Button, ...]:
    if not has_chrome(state):
        return ()
    sec = ButtonStyle.SECONDARY
    return (
        Button(LARGE, "chrome.large_off" if session.large_text else "chrome.large_on", style=sec),
        Button(LANG, "chrome.lang_other", style=sec),
        Button(HELP, "chrome.help", style=sec),
        Button(VOLUME, f"chrome.volume_{session.volume}", style=sec),
        Button(REPLAY, "chrome.replay", style=sec),
    )


def language(session: Session, config: KioskConfig) -> str:
    return session.lang or config.display.lang


def help_view(state: str, session: Session, config: KioskConfig) -> Help | None:
    if not session.help_open or not has_chrome(state):
        return None
    centre = config.service_centre
    en = language(session, config) == "en"
    staff = Button(HELP_STAFF, "help.staff_called" if session.staff_called else "help.call_staff",
                   enabled=not session.staff_called, style=ButtonStyle.SECONDARY)
    return Help(
        step=state,
        centre_name=centre.name_en if en else centre.name_zh,
        centre_address=centre.address_en if en else centre.address_zh,
        centre_hours=centre.hours_en if en else centre.hours_zh,
        hotline=centre.hotline,
        staff_called=session.staff_called,
        buttons=(staff, Button(HELP_CLOSE, "help.close")),
    )


def is_chrome_tap(target: str) -> bool:
    return target.startswith(("ui.", "help."))


def apply(target: str, state: str, session: Session, config: KioskConfig, log: EventLog) -> None:
    """A header or help touch: the session's choice changes, nothing else."""
    if target == LARGE:
        session.large_text = not session.large_text
    elif target == LANG:
        session.lang = "en" if language(session, config) == "zh" else "zh"
    elif target == HELP:
        session.help_open = True
        log.emit(LogEvent.HELP_OPENED, session=session.id, state=state)
    elif target == VOLUME:
        # One button steps through the levels: loud, louder, off, quiet, ... (mute is one of them).
        session.volume = (session.volume + 1) % (MAX_VOLUME + 1)
    elif target == REPLAY:
        session.replays += 1
    elif target == HELP_CLOSE:
        session.help_open = False
    elif target == HELP_STAFF and not session.staff_called:
        # An alert for the staff on the floor; the fleet picks it up from the log channel.
        session.staff_called = True
        log.emit(LogEvent.STAFF_CALLED, session=session.id, state=state)
