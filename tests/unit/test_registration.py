"""The registration service without devices: its vocabulary (SH-REG-3), its views built from a
session and drawn, the receipt's QR code read back from the drawn screen, the refusal's offer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pygame
import pytest

from kiosk.backend_types import Party, Receipt, VerifiedProof
from kiosk.backend_vocabulary import ProofDocument, PropertyUse, Relationship
from kiosk.flows.base import Snapshot
from kiosk.flows.ending import refusal_view
from kiosk.flows.registration_data import PROBLEM_SHOWN, RELATIONSHIPS, Presented, Purpose, RegData, is_close
from kiosk.flows.registration_views import SCREENS
from kiosk.fonts import FontFile, FontMissing, find_cjk_font
from kiosk.identity import CardType, Identity, Sex
from kiosk.policy import Refusal
from kiosk.qr_payload import PayloadProblem
from kiosk.reasons import Outcome, Reason, Service
from kiosk.records import ProofKind
from kiosk.session import Session
from kiosk.view import View, Waiting
from screens import registry
from screens.display import Display
from screens.text import load_table

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
SIZE = (1080, 1920)
ADDRESS = "上海市长宁区仙霞路765号3室"


def test_sh_reg_3_close_relatives_and_no_one_else() -> None:
    close = {r for r in RELATIONSHIPS if is_close(r)}
    assert close == {Relationship.SPOUSE, Relationship.PARENT, Relationship.CHILD, Relationship.GRANDPARENT,
                     Relationship.GRANDCHILD, Relationship.FULL_SIBLING}
    # The list also holds the ones SH-REG-3 excludes, so that their case is refused in words.
    assert set(RELATIONSHIPS) - close == {Relationship.PARENT_IN_LAW, Relationship.SIBLING_IN_LAW,
                                          Relationship.UNCLE_AUNT, Relationship.COUSIN, Relationship.NEPHEW_NIECE,
                                          Relationship.FRIEND}


def test_every_payload_problem_is_shown_in_words_in_both_languages() -> None:
    assert set(PROBLEM_SHOWN) == {p.value for p in PayloadProblem}
    for lang in ("zh", "en"):
        table = load_table(lang)
        for shown in {*PROBLEM_SHOWN.values(), "other"}:
            assert f"reg_proof.problem.{shown}" in table, (lang, shown)


def _session() -> Session:
    s = Session(chosen=Service.REGISTRATION)
    s.service = Service.REGISTRATION
    s.identity = Identity(CardType.CITIZEN, "李娜", Sex.FEMALE, "01", date(1993, 6, 15),
                          "安徽省合肥市瑶海区长江东路100号", "340102199306150026", "合肥市公安局瑶海分局",
                          date(2020, 1, 1), None)
    s.phone = "13912345678"
    d = RegData(kind=ProofKind.RELATIVE_PROPERTY, digits="2026310105", presented=Presented.QR,
                payload_problem=PayloadProblem.UNKNOWN_HOST.value, relationship=Relationship.PARENT,
                purpose=Purpose.FAMILY)
    d.proof = VerifiedProof(ProofDocument.PROPERTY_CERTIFICATE, "2026310105000123", PropertyUse.RESIDENTIAL, False,
                            Party.INDIVIDUAL, None, ADDRESS)
    d.receipt = Receipt("SHR20260000042", date(2026, 11, 22), date(2027, 5, 22), date(2027, 11, 22), ADDRESS)
    d.receipt_deadline = 180.0
    s.service_data = d
    return s


def _view(state: str, session: Session, *, large: bool = False, now: float = 0.0, scanner: bool = True) -> View:
    snap = Snapshot(state, session, (Service.REGISTRATION,), (), (), 3, now=now, qr_scanner_up=scanner)
    data, buttons = SCREENS[state](snap) if state in SCREENS else ({}, ())  # busy states have no view
    return View(screen=state, waiting_for=Waiting.TOUCH, buttons=buttons, data=data, large_text=large,
                site="长宁区虹桥街道党建之家", clock_text="2026-11-22 09:00")


@pytest.fixture(scope="module")
def font() -> FontFile:
    try:
        return find_cjk_font()
    except FontMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module", params=["zh", "en"])
def display(font: FontFile, request: pytest.FixtureRequest) -> Iterator[Display]:
    d = Display(SIZE, font=font, lang=request.param)
    yield d
    d.close()


@pytest.mark.parametrize("state", sorted({*SCREENS, "registration.verify_proof", "registration.submit"}))
@pytest.mark.parametrize("large", [False, True])
def test_every_registration_screen_draws_its_buttons_inside_and_apart(display: Display, state: str,
                                                                        large: bool) -> None:
    view = _view(state, _session(), large=large)
    display.render(view)
    display.present()
    window = pygame.Rect((0, 0), SIZE)
    rects: dict[str, tuple[int, pygame.Rect]] = {}
    for b in view.all_buttons():
        # In large text a long list of answers scrolls (issue 13): each is brought whole into the
        # window with the page's own up and down buttons, as a finger would, and measured there.
        display.reveal(b.id)
        r = display.button_rect(b.id)
        assert r is not None and window.contains(r), (state, b.id, r)
        assert r.width >= 120 and r.height >= 90, (state, b.id, r)
        rects[b.id] = (display._offset, r)
    ids = list(rects)
    for i, a in enumerate(ids):
        at, ra = rects[a]
        assert not any(ra.colliderect(rects[o][1]) for o in ids[i + 1:] if rects[o][0] == at), (state, a)
    assert not display.texts.missing, sorted(display.texts.missing)
    assert registry.lookup(state).module.__name__ != "screens.generic", state


def test_the_proof_screen_offers_the_scanner_only_when_it_is_up() -> None:
    s = _session()
    assert _view("registration.proof", s).data["scanner"] is True
    assert _view("registration.proof", s, scanner=False).data["scanner"] is False
    assert _view("registration.proof", s).data["problem"] == "unknown_host"
    # The keypad's confirm needs 8 to 20 digits.
    confirm = next(b for b in _view("registration.proof", s).buttons if b.id == "confirm")
    assert confirm.enabled
    s.service_data.digits = "1234567"
    assert not next(b for b in _view("registration.proof", s).buttons if b.id == "confirm").enabled


def test_sh_reg_7_receipt_dates_and_its_qr_code_read_back_from_the_screen(display: Display, tmp_path: Path) -> None:
    import zxingcpp
    from PIL import Image

    view = _view("registration.receipt", _session(), now=60.0)
    # RULES.md: a permit from add_months(declared, 6); valid through add_months(declared, 12) - 1 day.
    assert view.data["permit_possible_on"] == "2027-05-22"
    assert view.data["valid_through"] == (date(2027, 11, 22) - timedelta(days=1)).isoformat() == "2027-11-21"
    assert view.data["seconds_left"] == 120  # the countdown: the deadline (180) less the clock (60)
    display.render(view)
    display.present()
    shot = tmp_path / "receipt.png"
    display.screenshot(str(shot))
    with Image.open(shot) as image:
        found = [r.text for r in zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)]
    assert found == ["SHR20260000042"]


def _refused(reason: Reason, service: Service = Service.NEW_PERMIT, offered: tuple[Service, ...] = (
        Service.NEW_PERMIT, Service.REGISTRATION)) -> list[str]:
    s = Session(chosen=service)
    s.service = service
    s.refusal = Refusal(reason)
    s.end(Outcome.COUNTER_REFERRAL, reason)
    _, buttons = refusal_view(Snapshot("refusal", s, offered, (), (), 3))
    return [b.id for b in buttons]


def test_no_registration_and_reg_expired_offer_the_registration_service() -> None:
    assert "service.registration" in _refused(Reason.NO_REGISTRATION)
    assert "service.registration" in _refused(Reason.REG_EXPIRED)  # SH-REG-7: declare again
    assert "service.registration" not in _refused(Reason.REG_TOO_RECENT)
    assert "service.registration" not in _refused(Reason.NO_REGISTRATION, offered=(Service.NEW_PERMIT,))
    assert "service.registration" not in _refused(Reason.PROOF_INVALID, service=Service.REGISTRATION)
