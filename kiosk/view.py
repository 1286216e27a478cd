"""What a screen draws: an immutable view of the machine's state, built by the core.

Screens translate the keys and draw; they never decide anything. The scenario runner's
cooperative resident reads `waiting_for` and answers it as a person would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Waiting(StrEnum):
    ID_CARD = "id_card"
    FACE = "face"
    PERMIT_CARD = "permit_card"
    TAKE_CARD = "take_card"
    QR = "qr"
    TOUCH = "touch"
    DIGITS = "digits"
    NOTHING = "nothing"


class ButtonStyle(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    KEY = "key"  # a key of the on-screen keypad
    TILE = "tile"  # a service tile on the menu


@dataclass(frozen=True)
class Button:
    id: str  # stable id: "confirm", "cancel", "service.new_permit", "key.7" ...
    label: str  # translation key
    enabled: bool = True
    style: ButtonStyle = ButtonStyle.PRIMARY


@dataclass(frozen=True)
class Photo:
    width: int
    height: int
    rgb: bytes = field(repr=False)


class OverlayKind(StrEnum):
    IDLE = "idle"  # "您还在吗？" with its countdown
    CANCEL = "cancel"  # "确定要取消吗？"


@dataclass(frozen=True)
class Overlay:
    """A question drawn over the current screen: the idle warning, or cancel's confirmation."""

    seconds_left: int
    buttons: tuple[Button, ...]
    kind: OverlayKind = OverlayKind.IDLE


@dataclass(frozen=True)
class Help:
    """The help overlay (kiosk/chrome.py): what the current step asks, and where to go for more.
    `step` is the screen whose help text is shown; the centre comes from config."""

    step: str
    centre_name: str
    centre_address: str
    centre_hours: str
    hotline: str
    staff_called: bool
    buttons: tuple[Button, ...]


@dataclass(frozen=True)
class View:
    screen: str  # the machine state, dotted: "new_permit.photo", "refusal", "ready.attract"
    waiting_for: Waiting
    buttons: tuple[Button, ...] = ()
    # Screen-specific values (plain str/int/bool/None, lists of those, or a Photo); see docs/screens.md.
    data: dict[str, Any] = field(default_factory=dict)
    large_text: bool = False
    overlay: Overlay | None = None
    site: str = ""
    clock_text: str = ""  # "2026-11-22 09:00" in the header
    # The header's resident controls (large text, language, help; kiosk/chrome.py) and the language
    # the resident reads ("" on a view built without one: the display's configured language).
    chrome: tuple[Button, ...] = ()
    lang: str = ""
    help: Help | None = None
    volume: int = 2  # the voice prompt's volume 0 (mute) .. 3 (screens/voice.py)
    replay: int = 0  # a new number: say the prompt again
    # Seconds until the screen moves on by itself (the state's shown timer), or None: drawn above
    # the buttons, ticking on the kiosk clock.
    countdown: int | None = None

    @property
    def screen_id(self) -> str:
        if self.overlay is not None:
            return "timeout_warning" if self.overlay.kind is OverlayKind.IDLE else "cancel_confirm"
        return "help" if self.help is not None else self.screen

    def all_buttons(self) -> tuple[Button, ...]:
        """What a touch may press now: an overlay's buttons alone, else the screen's and the header's."""
        if self.overlay is not None:
            return self.overlay.buttons
        if self.help is not None:
            return self.help.buttons
        return self.buttons + self.chrome
