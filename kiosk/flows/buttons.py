"""Buttons several screens share (stable ids: docs/scenarios.md)."""

from __future__ import annotations

from kiosk.chart import Trigger as T
from kiosk.view import Button, ButtonStyle

CONFIRM = Button("confirm", "button.confirm")
CANCEL = Button("cancel", "button.cancel", style=ButtonStyle.SECONDARY)
BACK = Button("back", "button.back", style=ButtonStyle.SECONDARY)
FINISH = Button("confirm", "button.finish")
UNDERSTOOD = Button("confirm", "button.understood")
YES = Button("answer.yes", "button.yes")
NO = Button("answer.no", "button.no", style=ButtonStyle.SECONDARY)
# Cancel's confirmation ("确定要取消吗？"): going on is the primary, safe answer.
CANCEL_KEEP = Button("cancel_keep", "button.cancel_keep")
CANCEL_CONFIRM = Button("cancel_confirm", "button.cancel_confirm", style=ButtonStyle.SECONDARY)
MORE_TIME = Button("more_time", "button.more_time", style=ButtonStyle.SECONDARY)
# The phone screens: a resident without a mobile number can still finish (no SMS then).
NO_PHONE = Button("choice.no_phone", "button.no_phone", style=ButtonStyle.SECONDARY)


def keypad(enabled_confirm: bool) -> tuple[Button, ...]:
    keys = tuple(Button(f"key.{d}", f"key.{d}", style=ButtonStyle.KEY) for d in "1234567890")
    return (*keys, Button("key.del", "button.del", style=ButtonStyle.KEY),
            Button("confirm", "button.confirm", enabled=enabled_confirm), CANCEL)

# A plain button's id -> the trigger it fires (the controller routes the rest: services, keys, choices).
TAPS: dict[str, T] = {
    "start": T.TAP_START, "back": T.TAP_BACK, "confirm": T.TAP_CONFIRM, "cancel": T.TAP_CANCEL,
    "capture": T.TAP_CAPTURE, "answer.yes": T.TAP_ANSWER_YES, "answer.no": T.TAP_ANSWER_NO,
    "cancel_confirm": T.TAP_CANCEL_CONFIRM, "cancel_keep": T.TAP_CANCEL_KEEP, "more_time": T.TAP_MORE_TIME,
}
