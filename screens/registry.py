"""Screen id (View.screen) → the module that draws it.

A screen module provides `draw(c: Canvas) -> None` (the static part of the frame, cached
by the Display) and may provide:
- `STEP: int` — its place in the new-permit progress hint (1..STEPS), drawn by the Display;
  the card-face rewrite screens have a hint of their own (`PROGRESS`, drawn by
  `screens.card_rewrite.progress` into the cached layer, with their own `layout`);
- `DYNAMIC: frozenset[str]` — data keys drawn every frame by `animate`, kept out of the
  cache key so that a spinner's tick does not rebuild the whole frame;
- `animate(c: Canvas) -> None` — drawn over the cached frame every render;
- `animated(c: Canvas) -> pygame.Rect` — where `animate` draws (default: the whole body): a
  frame whose layer is already on the glass restores and redraws only that (screens/display.py),
  with the drawing clipped to it;
- `layout(view, theme) -> (rects, body)` — where its buttons go (default: a footer);
- `paint_button(c, button, rect, pressed) -> None` — its own button look.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import pygame

from kiosk.view import Button, View
from screens import (
    boot,
    fault,
    generic,
    goodbye,
    kept,
    last_call,
    out_of_service,
    recovery,
    refusal,
    self_test,
)
from screens import theme as th
from screens import widgets as w
from screens.card_rewrite import check_endorsement as cr_check_endorsement
from screens.card_rewrite import done as cr_done
from screens.card_rewrite import insert_card as cr_insert_card
from screens.card_rewrite import notice as cr_notice
from screens.card_rewrite import read_chip as cr_read_chip
from screens.card_rewrite import residence as cr_residence
from screens.card_rewrite import return_card as cr_return_card
from screens.card_rewrite import rewrite as cr_rewrite
from screens.card_rewrite import verify as cr_verify
from screens.diagnostics import board as dg_board
from screens.diagnostics import card_in as dg_card_in
from screens.diagnostics import card_out as dg_card_out
from screens.diagnostics import free_path as dg_free_path
from screens.diagnostics import pin as dg_pin
from screens.diagnostics import testing as dg_testing
from screens.new_permit import (
    details,
    done,
    issuing,
    notice,
    phone,
    photo,
    precheck,
    read_id,
    residence,
    retake,
    submit,
    take_card,
    verify_face,
)
from screens.ready import attract, menu
from screens.registration import address as reg_address
from screens.registration import confirm as reg_confirm
from screens.registration import done as reg_done
from screens.registration import notice as reg_notice
from screens.registration import phone as reg_phone
from screens.registration import promise as reg_promise
from screens.registration import proof as reg_proof
from screens.registration import proof_type as reg_proof_type
from screens.registration import purpose as reg_purpose
from screens.registration import read_id as reg_read_id
from screens.registration import receipt as reg_receipt
from screens.registration import relative as reg_relative
from screens.registration import submit as reg_submit
from screens.registration import verify_proof as reg_verify_proof
from screens.status_query import done as sq_done
from screens.status_query import lookup as sq_lookup
from screens.status_query import read_id as sq_read_id
from screens.status_query import show as sq_show

STEPS = 6  # the new-permit progress hint: notice, ID card, photo, details, phone, card

SCREENS: dict[str, ModuleType] = {
    "boot": boot,
    "self_test": self_test,
    "recovery": recovery,
    "out_of_service": out_of_service,
    "ready.attract": attract,
    "ready.menu": menu,
    "new_permit.notice": notice,
    "new_permit.read_id": read_id,
    "new_permit.precheck": precheck,
    "new_permit.residence": residence,
    "new_permit.photo": photo,
    "new_permit.verify_face": verify_face,
    "new_permit.retake": retake,
    "new_permit.details": details,
    "new_permit.phone": phone,
    "new_permit.submit": submit,
    "new_permit.issuing": issuing,
    "new_permit.take_card": take_card,
    "new_permit.done": done,
    "card_rewrite.notice": cr_notice,
    "card_rewrite.insert_card": cr_insert_card,
    "card_rewrite.read_chip": cr_read_chip,
    "card_rewrite.residence": cr_residence,
    "card_rewrite.check_endorsement": cr_check_endorsement,
    "card_rewrite.rewrite": cr_rewrite,
    "card_rewrite.verify": cr_verify,
    "card_rewrite.return_card": cr_return_card,
    "card_rewrite.done": cr_done,
    "status_query.read_id": sq_read_id,
    "status_query.lookup": sq_lookup,
    "status_query.show": sq_show,
    "status_query.done": sq_done,
    "diagnostics.card_in": dg_card_in,
    "diagnostics.pin": dg_pin,
    "diagnostics.board": dg_board,
    "diagnostics.testing": dg_testing,
    "diagnostics.card_out": dg_card_out,
    "diagnostics.free_path": dg_free_path,
    "diagnostics.printer_job": dg_testing,
    "registration.notice": reg_notice,
    "registration.read_id": reg_read_id,
    "registration.proof_type": reg_proof_type,
    "registration.proof": reg_proof,
    "registration.verify_proof": reg_verify_proof,
    "registration.relative": reg_relative,
    "registration.promise": reg_promise,
    "registration.purpose": reg_purpose,
    "registration.address": reg_address,
    "registration.phone": reg_phone,
    "registration.confirm": reg_confirm,
    "registration.submit": reg_submit,
    "registration.receipt": reg_receipt,
    "registration.done": reg_done,
    "refusal": refusal,
    "fault": fault,
    "goodbye": goodbye,
    "kept": kept,
    "new_permit.last_call": last_call,
    "card_rewrite.last_call": last_call,
}

Layout = Callable[[View, th.Theme], tuple[dict[str, pygame.Rect], pygame.Rect]]
Painter = Callable[[w.Canvas, Button, pygame.Rect, bool], None]


@dataclass(frozen=True)
class Screen:
    id: str
    module: ModuleType
    step: int | None
    dynamic: frozenset[str]
    draw: Callable[[w.Canvas], None]
    animate: Callable[[w.Canvas], None] | None
    layout: Layout
    paint_button: Painter
    # Buttons that lie in the body and scroll with it when it does not fit (a long list of answers).
    on_page: Callable[[Button], bool] | None = None
    animated: Callable[[w.Canvas], pygame.Rect] | None = None


def _default_layout(step: int | None) -> Layout:
    def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
        return w.footer_layout(view.buttons, theme, step is not None)

    return layout


_cache: dict[str, Screen] = {}


def lookup(screen_id: str) -> Screen:
    """The screen for an id; an unknown id gets the generic screen (never an error)."""
    found = _cache.get(screen_id)
    if found is None:
        module = SCREENS.get(screen_id, generic)
        step = getattr(module, "STEP", None)
        found = Screen(
            id=screen_id,
            module=module,
            step=step,
            dynamic=frozenset(getattr(module, "DYNAMIC", frozenset())),
            draw=module.draw,
            animate=getattr(module, "animate", None),
            layout=getattr(module, "layout", None) or _default_layout(step),
            paint_button=getattr(module, "paint_button", None) or w.paint_button,
            on_page=getattr(module, "on_page", None),
            animated=getattr(module, "animated", None),
        )
        _cache[screen_id] = found
    return found
