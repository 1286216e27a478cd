"""What the card-face rewrite's screens show (docs/screens.md)."""

from __future__ import annotations

from typing import Any

from kiosk.endorsement import Rewrite
from kiosk.flows.base import ScreenFn, Snapshot
from kiosk.flows.buttons import CANCEL, CONFIRM, FINISH, NO, YES
from kiosk.view import Button

Screen = tuple[dict[str, Any], tuple[Button, ...]]


def notice(snap: Snapshot) -> Screen:
    return {}, (CONFIRM, CANCEL)


def insert_card(snap: Snapshot) -> Screen:
    return {"error": snap.session.rewrite_error}, (CANCEL,)


def residence(snap: Snapshot) -> Screen:
    """SH-PMT-3, SH-END-5: do you still live at the address the card holds?"""
    return {"address": snap.session.card_address or ""}, (YES, NO, CANCEL)


def rewrite(snap: Snapshot) -> Screen:
    return {"step": {"write_chip": "chip", "erase": "erase"}.get(snap.session.issuing_step or "", "print")}, ()


def return_card(snap: Snapshot) -> Screen:
    return {"rewritten": snap.session.card_rewritten}, ()


def done(snap: Snapshot) -> Screen:
    d = snap.session.rewrite_decision
    data: dict[str, Any] = {}
    if isinstance(d, Rewrite):
        data.update(valid_from=d.valid_from.isoformat(), valid_until=d.valid_until.isoformat(), printed=d.printed)
    return data, (FINISH,)


SCREENS: dict[str, ScreenFn] = {
    "card_rewrite.notice": notice,
    "card_rewrite.insert_card": insert_card,
    "card_rewrite.residence": residence,
    "card_rewrite.rewrite": rewrite,
    "card_rewrite.return_card": return_card,
    "card_rewrite.done": done,
}
