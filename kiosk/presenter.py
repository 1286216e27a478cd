"""From the machine's state and the session to the View a screen draws (no drawing here)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kiosk.identity import mask_id
from kiosk.machine import SESSION_WAITING, WAITING
from kiosk.nations import nation_name
from kiosk.reasons import Service
from kiosk.view import Button, ButtonStyle, Overlay, View, Waiting

if TYPE_CHECKING:
    from kiosk.controller import Kiosk

CONFIRM = Button("confirm", "button.confirm")
CANCEL = Button("cancel", "button.cancel", style=ButtonStyle.SECONDARY)
BACK = Button("back", "button.back", style=ButtonStyle.SECONDARY)
MENU_ORDER = (Service.NEW_PERMIT, Service.CARD_REWRITE, Service.REGISTRATION, Service.STATUS_QUERY)


def _services(k: Kiosk) -> list[dict[str, Any]]:
    return [{"id": s.value, "available": k.service_available(s)} for s in MENU_ORDER]


def _keypad(enabled_confirm: bool) -> tuple[Button, ...]:
    keys = tuple(Button(f"key.{d}", f"key.{d}", style=ButtonStyle.KEY) for d in "1234567890")
    return (*keys, Button("key.del", "button.del", style=ButtonStyle.KEY),
            Button("confirm", "button.confirm", enabled=enabled_confirm), CANCEL)


def build_view(k: Kiosk) -> View:
    state = k.state
    s = k.session
    data: dict[str, Any] = {}
    buttons: tuple[Button, ...] = ()
    if state == "out_of_service":
        data["down"] = sorted(d.value for d in _down(k))
    elif state == "ready.attract":
        data["services"] = _services(k)
        buttons = (Button("start", "button.start"),)
    elif state == "ready.menu":
        tiles = tuple(
            Button(f"service.{svc['id']}", f"service.{svc['id']}", enabled=svc["available"], style=ButtonStyle.TILE)
            for svc in _services(k)
        )
        buttons = (*tiles, BACK)
    elif state == "new_permit.notice":
        buttons = (CONFIRM, CANCEL)
    elif state == "new_permit.read_id":
        data["error"] = s.read_error
        buttons = (CANCEL,)
    elif state == "new_permit.residence":
        data["address"] = s.registered_address or ""
        buttons = (Button("answer.yes", "button.yes"), Button("answer.no", "button.no", style=ButtonStyle.SECONDARY),
                   CANCEL)
    elif state == "new_permit.photo":
        data.update(attempt=s.photo_attempts + (0 if s.photo_request is not None else 1),
                    max_attempts=k.pack.photo_max_tries, problem=s.photo_problem,
                    busy=s.photo_request is not None)
        buttons = (Button("capture", "button.capture", enabled=s.photo_request is None), CANCEL)
    elif state == "new_permit.details":
        idn = s.identity
        if idn is not None:
            data.update(
                name=idn.name, sex=idn.sex.value if idn.sex else "", nation=nation_name(idn.nation),
                birth=idn.birth.isoformat() if idn.birth else "", id_number=mask_id(idn.id_number),
                id_address=idn.address, residence_address=s.registered_address or "", photo=s.portrait,
                id_photo=s.id_photo,
            )
        buttons = (CONFIRM, BACK, CANCEL)
    elif state == "new_permit.phone":
        data.update(digits=s.phone, error=None)
        buttons = _keypad(k.phone_valid())
    elif state == "new_permit.issuing":
        data["step"] = s.issuing_step or "feed"
    elif state == "new_permit.done":
        if s.grant is not None:
            data.update(permit_number=s.grant.number, valid_until=s.grant.valid_until.isoformat())
        buttons = (Button("confirm", "button.finish"),)
    elif state == "card_rewrite.notice":
        buttons = (CONFIRM, CANCEL)
    elif state == "card_rewrite.insert_card":
        data["error"] = s.rewrite_error
        buttons = (CANCEL,)
    elif state == "card_rewrite.rewrite":
        data["step"] = {"write_chip": "chip", "erase": "erase"}.get(s.issuing_step or "", "print")
    elif state == "card_rewrite.return_card":
        data["rewritten"] = bool(k.rewrite is not None and k.rewrite.rewritten)
    elif state == "card_rewrite.done":
        rw = k.rewrite
        if rw is not None and rw.decision is not None and hasattr(rw.decision, "printed"):
            data.update(valid_from=rw.decision.valid_from.isoformat(), valid_until=rw.decision.valid_until.isoformat(),
                        printed=rw.decision.printed)
        buttons = (Button("confirm", "button.finish"),)
    elif state == "refusal":
        data.update(reason=str(s.reason or (s.refusal.reason if s.refusal else "")),
                    available_on=s.available_on.isoformat() if s.available_on else None)
        buttons = (Button("confirm", "button.understood"),)
    elif state == "fault":
        data.update(reason=str(s.reason), card_retained=s.card_retained, device=s.fault_device,
                    service=s.service.value if s.service else None)
        buttons = (Button("confirm", "button.understood"),)
    elif state == "goodbye":
        data["outcome"] = str(s.outcome)
    overlay = None
    if k.warning_until is not None and state in SESSION_WAITING:
        left = max(0, math.ceil(k.warning_until - k.clock.monotonic()))
        overlay = Overlay(left, (Button("still_here", "button.still_here"), CANCEL))
    return View(
        screen=state,
        waiting_for=WAITING.get(state, Waiting.NOTHING),
        buttons=buttons,
        data=data,
        large_text=s.large_text,
        overlay=overlay,
        site=k.config.terminal.site,
        clock_text=k.clock.now().strftime("%Y-%m-%d %H:%M"),
    )


def _down(k: Kiosk) -> list[Any]:
    from devices.status import DeviceKind

    kinds = (DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PRINTER, DeviceKind.BACKEND)
    return [d for d in kinds if not k._is_up(d)]
