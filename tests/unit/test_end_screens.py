"""Issue 13's screens drawn: the kept card's and the referral's QR codes decode from the frame to
their payloads, the countdown band and cancel's confirmation render in both languages, and the
sound cue hook is called once per screen that asks for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pygame
import pytest

from kiosk.fonts import FontFile
from kiosk.view import Button, ButtonStyle, Overlay, OverlayKind, View, Waiting
from screens.display import Display
from sim.shots import decode_png as decode_qr
from tests.unit.test_screens import SIZE, font  # noqa: F401  (the module's font fixture)

KEPT = "JZZ1|K|00000007|TIMEOUT|2026-11-22|SH-CN-0001"
REFERRAL = "JZZ1|R|REG_TOO_RECENT|2026-11-22|2026-11-23|SH-CN-0001"
OK = Button("confirm", "button.understood")
MORE = Button("more_time", "button.more_time", style=ButtonStyle.SECONDARY)


def view(screen: str, data: dict[str, object], buttons: tuple[Button, ...] = (OK,), **kw: object) -> View:
    return View(screen, Waiting.TOUCH, buttons, dict(data), site="长宁区虹桥街道党建之家",
                clock_text="2026-11-22 09:00", **kw)  # type: ignore[arg-type]


CASES = [
    view("kept", {"retention_number": "00000007", "retention_qr": KEPT, "terminal": "SH-CN-0001",
                  "service": "new_permit", "reason": "TIMEOUT", "id_card_used": True}, countdown=15),
    view("kept", {"retention_number": None, "retention_qr": None, "service": "card_rewrite"}, countdown=3),
    view("fault", {"reason": "DEVICE_FAULT", "card_retained": True, "device": "printer", "service": "card_rewrite",
                   "retention_number": "00000007", "retention_qr": KEPT, "terminal": "SH-CN-0001"}, countdown=15),
    view("fault", {"reason": "BACKEND_UNAVAILABLE", "device": "backend", "referral_qr": REFERRAL}, countdown=9),
    view("refusal", {"reason": "REG_TOO_RECENT", "available_on": "2026-11-23", "referral_qr": REFERRAL},
         countdown=15),
    view("new_permit.last_call", {"service": "new_permit", "cue": "retract_warning"}, (MORE,), countdown=20),
    view("card_rewrite.last_call", {"service": "card_rewrite", "cue": "retract_warning"}, (MORE,), countdown=1),
    view("new_permit.take_card", {}, (MORE,), countdown=60),
    *(view("goodbye", {"ending": e, "id_card_used": e != "card_rewritten", "service": "new_permit"}, (), countdown=4)
      for e in ("issued", "registered", "card_rewritten", "info_shown", "refused", "fault", "cancelled",
                "timed_out", "card_kept", "nothing_done")),
    view("new_permit.details", {}, (Button("confirm", "button.confirm"),),
         overlay=Overlay(0, (Button("cancel_keep", "button.cancel_keep"),
                             Button("cancel_confirm", "button.cancel_confirm", style=ButtonStyle.SECONDARY)),
                         OverlayKind.CANCEL)),
]


@pytest.fixture(scope="module", params=["zh", "en"])
def display(request: pytest.FixtureRequest, font: FontFile) -> Iterator[Display]:  # noqa: F811
    d = Display(SIZE, font=font, lang=request.param)
    yield d
    d.close()


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
@pytest.mark.parametrize("v", CASES, ids=[f"{i:02d}-{v.screen_id}" for i, v in enumerate(CASES)])
def test_every_end_screen_renders_with_its_buttons_on_the_glass(display: Display, v: View, large: bool) -> None:
    v = dataclasses.replace(v, large_text=large)
    display.render(v)
    window = pygame.Rect((0, 0), SIZE)
    for b in v.all_buttons():
        rect = display.button_rect(b.id)
        assert rect is not None and window.contains(rect), b.id
    if v.overlay is not None:
        assert v.screen_id == "cancel_confirm"


@pytest.mark.parametrize(("v", "payload"), [(CASES[0], KEPT), (CASES[2], KEPT), (CASES[3], REFERRAL),
                                            (CASES[4], REFERRAL)])
def test_the_qr_codes_read_back_from_the_frame(display: Display, v: View, payload: str, tmp_path: Path) -> None:
    display.render(v)
    display.screenshot(str(tmp_path / "shot.png"))
    assert decode_qr(tmp_path / "shot.png") == [payload]


def test_the_sound_cue_is_played_once_when_the_last_warning_shows(display: Display) -> None:
    played: list[str] = []
    display.on_cue = played.append
    try:
        last_call = CASES[5]
        display.render(CASES[7])
        display.render(last_call)
        display.render(last_call)  # the next frame: not again
        assert played == ["retract_warning"]
        display.render(CASES[7])
        display.render(last_call)  # shown anew: again
        assert played == ["retract_warning", "retract_warning"]
    finally:
        display.on_cue = None
