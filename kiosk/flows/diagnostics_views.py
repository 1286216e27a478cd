"""The view functions of diagnostics' screens (kiosk/flows/diagnostics.py). The PIN never
reaches a view: the PIN screen gets only how many digits were typed."""

from __future__ import annotations

from typing import Any

from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import CANCEL
from kiosk.flows.diagnostics_board import DiagState
from kiosk.view import Button, ButtonStyle

Screen = tuple[dict[str, Any], tuple[Button, ...]]


def _state(snap: Snapshot) -> DiagState:
    data = snap.session.service_data
    return data if isinstance(data, DiagState) else DiagState()


def card_in(snap: Snapshot) -> Screen:
    return {}, ()


def pin(snap: Snapshot) -> Screen:
    s = _state(snap)
    keys = tuple(Button(f"key.{d}", f"key.{d}", style=ButtonStyle.KEY) for d in "1234567890")
    buttons = (*keys, Button("key.del", "button.del", style=ButtonStyle.KEY),
               Button("confirm", "button.confirm", enabled=4 <= len(s.digits) <= 8), CANCEL)
    return {"typed": len(s.digits), "wrong": s.wrong, "tries_left": s.tries_left, "card_id": s.card_id,
            "role": s.role}, buttons


def board(snap: Snapshot) -> Screen:
    s = _state(snap)
    hold = Button("diag.in_service", "diag.button.in_service") if s.held_out else \
        Button("diag.out_of_service", "diag.button.out_of_service", style=ButtonStyle.SECONDARY)
    buttons = (
        Button("diag.selftests", "diag.button.selftests"),
        Button("diag.refilled", "diag.button.refilled", style=ButtonStyle.SECONDARY),
        Button("diag.bin_emptied", "diag.button.bin_emptied", style=ButtonStyle.SECONDARY),
        Button("diag.counters_reset", "diag.button.counters_reset", style=ButtonStyle.SECONDARY),
        hold,
        Button("diag.feed_test", "diag.button.feed_test", style=ButtonStyle.SECONDARY),
        Button("diag.test_print", "diag.button.test_print", style=ButtonStyle.SECONDARY),
        Button("diag.export", "diag.button.export", style=ButtonStyle.SECONDARY),
        Button("diag.leave", "diag.button.leave"),
    )
    return {"card_id": s.card_id, "role": s.role, "rows": s.rows, "supplies": s.supplies, "counters": s.counters,
            "tests": s.tests, "notice": s.notice, "held_out": s.held_out}, buttons


def testing(snap: Snapshot) -> Screen:
    s = _state(snap)
    return {"testing": s.testing, "tests": s.tests}, ()


def card_out(snap: Snapshot) -> Screen:
    s = _state(snap)
    return {"problem": s.problem, "lockout_s": s.lockout_s}, ()


SCREENS: dict[str, ScreenFn] = {
    "diagnostics.card_in": card_in, "diagnostics.pin": pin, "diagnostics.board": board,
    "diagnostics.testing": testing, "diagnostics.card_out": card_out,
    "diagnostics.free_path": card_in, "diagnostics.printer_job": testing,
}
