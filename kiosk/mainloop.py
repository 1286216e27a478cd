"""The main thread's loop: touches become intents, events are drained, the view is drawn.

It never blocks on I/O: it waits on the event queue at most one frame, which is also how
it sleeps between frames at rest. The display is anything with poll/render/present, so
this module needs no pygame.

At rest nothing changes the view but the passing time (the header's clock, a countdown), so
a frame that handled no touch, event or timer reuses the last view for up to REBUILD_S
instead of building it again: building it was most of the loop's CPU at the attract screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from kiosk.controller import Kiosk
from kiosk.intents import Intent, Quit
from kiosk.view import View


class Display(Protocol):
    def poll(self) -> list[Intent]: ...
    def render(self, view: View) -> None: ...
    def present(self) -> None: ...
    def forget_session(self) -> None: ...
    # A newer live camera frame waits to be shown (the photo screen's preview): redraw although
    # the view is the same. The frames never pass through the core.
    def needs_frame(self) -> bool: ...


# Called once a frame with the current view; returns how long the loop may wait for events
# before the next frame, or None to end the loop.
FrameHook = Callable[[View], float | None]

# With nothing handled, the view is built again this often (real seconds): a countdown or the
# clock shows its change at most this late.
REBUILD_S = 0.1


class LoopWatch(Protocol):
    """Told of every frame by the loop itself (kiosk/sdnotify.py: READY, the watchdog's heartbeat)."""

    def frame(self, view: View) -> None: ...


def run(kiosk: Kiosk, display: Display, *, fps: int, hook: FrameHook | None = None,
        on_new_view: Callable[[View], None] | None = None, watch: LoopWatch | None = None) -> None:
    frame = 1.0 / max(1, fps)
    last: View | None = None
    session = kiosk.session.id
    handled, built = 1, 0.0
    while True:
        intents = display.poll()
        for intent in intents:
            if isinstance(intent, Quit):
                return
            kiosk.handle_intent(intent)
        now = time.monotonic()
        if last is None or handled or intents or now - built >= REBUILD_S:
            view, built = kiosk.view(), now
        else:
            view = last
        if view != last or display.needs_frame():
            display.render(view)
            display.present()
            last = view
            if on_new_view is not None:
                on_new_view(view)
        if kiosk.session.id != session:
            # Goodbye replaced the session: what the display kept of it goes too (SH-PRIV-1).
            session = kiosk.session.id
            display.forget_session()
        if watch is not None:
            # From this thread, after the frame's work: a loop that blocks stops the heartbeat.
            watch.frame(view)
        wait = frame
        if hook is not None:
            asked = hook(view)
            if asked is None:
                return
            wait = min(wait, asked)
        handled = kiosk.pump(wait)
