"""The vocabulary of the transition table: states, edges, timers and the common triggers.

Each flow (kiosk/flows/) declares its part of the chart with these types; kiosk/machine.py
puts the parts together into the one table. Callbacks and guards are named by string and
resolved on the part's owner (the flow object) when the machine is built, so the chart can
be drawn (`python -m kiosk.statechart`) without building a kiosk.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.view import Waiting


class Trigger(StrEnum):
    """Triggers shared by every part of the chart. A flow's own triggers are enums of its own."""

    # start-up and availability
    STARTED = "started"
    SELF_TEST_DONE = "self_test_done"
    RECOVERED = "recovered"
    RECOVERY_BLOCKED = "recovery_blocked"
    DEVICES_CHANGED = "devices_changed"
    # touches
    TAP_START = "tap_start"
    TAP_BACK = "tap_back"
    TAP_CONFIRM = "tap_confirm"
    TAP_CANCEL = "tap_cancel"
    TAP_KEY = "tap_key"
    TAP_CAPTURE = "tap_capture"
    TAP_ANSWER_YES = "tap_answer_yes"
    TAP_ANSWER_NO = "tap_answer_no"
    TAP_SERVICE = "tap_service"  # a menu tile; the guard asks which
    TAP_CHOICE = "tap_choice"  # one of a list of answers (`choice.<value>`); the flow keeps which
    TAP_CANCEL_CONFIRM = "tap_cancel_confirm"  # "确定要取消吗？" answered yes
    TAP_CANCEL_KEEP = "tap_cancel_keep"  # ... answered no: the same step goes on
    TAP_MORE_TIME = "tap_more_time"
    # timers
    MENU_TIMEOUT = "menu_timeout"
    IDLE_TIMEOUT = "idle_timeout"
    CLOSING_TIMEOUT = "closing_timeout"
    TAKE_TIMEOUT = "take_timeout"
    GOODBYE_DONE = "goodbye_done"
    # ending a session
    DEVICE_LOST = "device_lost"
    REFUSED = "refused"
    FAULTED = "faulted"


@dataclass(frozen=True)
class TimerSpec:
    """A timer a state arms on entry and drops on exit: `setting` names a field of
    `config.timeouts`; when it runs out, `trigger` fires."""

    name: str
    setting: str
    trigger: StrEnum
    # The screen shows the seconds left on it (View.countdown): the screen moves on by itself.
    shown: bool = False


@dataclass(frozen=True)
class StateSpec:
    name: str
    waits: Waiting = Waiting.NOTHING
    # A waiting state of a service: cancel, the idle warning and a lost device apply.
    session: bool = False
    # With `session`: the state declares its own cancel, idle and lost-device edges (a card is inside).
    own_exits: bool = False
    # A screen that ends a session and closes by itself after `timeouts.done`.
    closing: bool = False
    # The state a back button returns to, where going back is safe (no device or backend step
    # undone): the table gets a TAP_BACK edge there and the screen a back button.
    back: str | None = None
    # A "more time" button restarts the state's shown timers, at most `MORE_TIME_TIMES` a session.
    more_time: bool = False
    timers: tuple[TimerSpec, ...] = ()
    checks_health: bool = False  # at rest: the backend's health is checked every `health_interval`
    # Its screen may offer another service (a `service.<name>` button): taking the offer ends this
    # session as goodbye would and starts the offered service's own session at its entry.
    offers: bool = False
    on_enter: str | None = None
    on_exit: str | None = None
    children: tuple[StateSpec, ...] = ()


MORE_TIME_TIMES = 2  # a card at an open slot in a mall is not left there for ever


@dataclass(frozen=True)
class Edge:
    trigger: StrEnum
    source: str | tuple[str, ...]
    dest: str | None  # None: an internal transition (no exit, no entry)
    conditions: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    before: str | None = None
    after: str | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source


@dataclass(frozen=True)
class ChartPart:
    """One owner's states and edges: a service, boot, home, or the end of a session."""

    owner: str
    states: tuple[StateSpec, ...]
    edges: tuple[Edge, ...]


def leaves(specs: tuple[StateSpec, ...], prefix: str = "") -> list[tuple[str, StateSpec]]:
    """The dotted names of the leaf states under `specs`, with their specs."""
    found: list[tuple[str, StateSpec]] = []
    for spec in specs:
        full = f"{prefix}{spec.name}"
        if spec.children:
            found.extend(leaves(spec.children, full + "."))
        else:
            found.append((full, spec))
    return found
