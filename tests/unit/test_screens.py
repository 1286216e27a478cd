"""Screens: every screen id draws (normal and large text, with the idle warning), buttons
lie inside the window and apart, touches become taps, and every text exists in zh and en
with a glyph for every Chinese character."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pygame
import pygame.freetype
import pytest

from kiosk.flows.buttons import BACK, NO_PHONE, keypad
from kiosk.fonts import FontFile, FontMissing, find_cjk_font
from kiosk.intents import Quit, Tap
from kiosk.reasons import Reason
from kiosk.view import Button, ButtonStyle, Overlay, Photo, View, Waiting
from screens import registry, widgets
from screens.display import Display
from screens.text import load_table
from screens.widgets import TextRenderer

# tests/conftest.py sets the dummy drivers too; these keep the file runnable on its own.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

SIZE = (1080, 1920)
B = Button
SEC = ButtonStyle.SECONDARY
CANCEL = B("cancel", "button.cancel", style=SEC)
NOTICE_BUTTONS = (B("confirm", "button.confirm"), CANCEL)
PHOTO_BUTTONS = (B("capture", "button.capture"), CANCEL)
PREVIEW_DATA = {"attempt": 1, "max_attempts": 3, "problem": None, "busy": False, "preview": True,
                "outline": [0.5, 0.4, 0.46], "guidance": "closer", "countdown": 2, "retake": True}
OK = B("confirm", "button.understood")


def _photo() -> Photo:
    w, h = 60, 80
    rgb = bytes((x * 4 % 256, y * 3 % 256, 128)[i] for y in range(h) for x in range(w) for i in range(3))
    return Photo(w, h, rgb)


def _keypad(confirm_enabled: bool) -> tuple[Button, ...]:
    """The new permit's phone keypad as its flow offers it (kiosk/flows/new_permit_views.phone):
    the keys, confirm, "no mobile number" and cancel."""
    keys = keypad(confirm_enabled)
    return (*keys[:-1], NO_PHONE, keys[-1])


SERVICES = [
    {"id": "new_permit", "available": True},
    {"id": "card_rewrite", "available": True},
    {"id": "registration", "available": False},
    {"id": "status_query", "available": True},
]

# The status query's show screen: everything on record, and the variants of each part.
STATUS_SHOW: dict[str, object] = {
    "registered": True, "reg_address": "上海市长宁区虹桥路1234弄56号7室某某小区12栋3单元402室",
    "reg_declared": "2026-04-01", "reg_valid_through": "2027-03-31", "reg_expired": False,
    "permit_possible_on": "2026-10-01", "app_stage": "issued", "app_decided_on": "2025-10-01", "app_reason": None,
    "app_available_on": None, "permit_number": "SH2025000456", "permit_status": "active",
    "permit_valid_until": "2027-10-01", "card_valid_until": "2026-10-01", "address_changed": False,
    "endorsement": "passed", "endorsement_opens": "2026-09-01", "endorsement_closes": "2026-11-30", "grace": True,
    "points_state": "valid", "points_valid_until": "2027-10-01", "points": 96, "points_notice": "JFSH2025000456",
    "offered": "card_rewrite",
}
STATUS_DONE = B("confirm", "button.finish", style=SEC)
STATUS_VARIANTS: list[tuple[tuple[Button, ...], dict[str, object]]] = [
    ((B("service.card_rewrite", "service.card_rewrite"), STATUS_DONE), {}),
    ((B("confirm", "button.finish"),), {"endorsement": "grace", "points_state": "suspended", "points_notice": None,
                                        "offered": None, "app_stage": "refused", "app_reason": "REG_TOO_RECENT"}),
    ((B("confirm", "button.finish"),), {"endorsement": "lapsed", "points_state": "void", "points_notice": None,
                                        "points_valid_until": None, "offered": None, "grace": False}),
    ((B("confirm", "button.finish"),), {"endorsement": "not_due", "app_stage": "approved", "offered": None}),
    ((B("confirm", "button.finish"),), {"endorsement": "open", "app_stage": "voided", "offered": None}),
    ((B("confirm", "button.finish"),), {"address_changed": True, "offered": None}),
    ((B("confirm", "button.finish"),), {"permit_status": "cancelled", "endorsement": "none", "points_state": "void",
                                        "points_notice": None, "offered": None}),
    ((B("service.registration", "service.registration"), STATUS_DONE),
     {"registered": False, "reg_address": None, "permit_number": None, "endorsement": "none", "points": None,
      "points_state": "none", "points_notice": None, "app_stage": None, "offered": "registration"}),
    ((B("service.new_permit", "service.new_permit"), STATUS_DONE),
     {"permit_number": None, "endorsement": "none", "points": None, "points_state": "none", "points_notice": None,
      "offered": "new_permit", "app_stage": None}),
    ((B("confirm", "button.finish"),), {"reg_expired": True, "offered": "registration"}),
]

# (screen, buttons, data): representative views of every screen id the core shows.
CASES: list[tuple[str, tuple[Button, ...], dict[str, object]]] = [
    ("boot", (), {}),
    ("self_test", (), {"tick": 3}),
    ("recovery", (), {}),
    ("out_of_service", (), {"down": ["printer", "backend", "mystery_device"]}),
    ("ready.attract", (B("start", "button.start"),), {"services": SERVICES}),
    (
        "ready.menu",
        (
            B("service.new_permit", "service.new_permit", style=ButtonStyle.TILE),
            B("service.card_rewrite", "service.card_rewrite", style=ButtonStyle.TILE),
            B("service.registration", "service.registration", enabled=False, style=ButtonStyle.TILE),
            B("service.status_query", "service.status_query", style=ButtonStyle.TILE),
            B("back", "button.back", style=SEC),
        ),
        {},
    ),
    ("new_permit.notice", NOTICE_BUTTONS, {}),
    ("new_permit.read_id", (CANCEL,), {"error": None}),
    ("new_permit.read_id", (CANCEL,), {"error": "read_failed"}),
    ("new_permit.read_id", (CANCEL,), {"error": "unknown_card"}),
    ("new_permit.read_id", (CANCEL,), {"error": "reader_fault"}),
    ("new_permit.precheck", (), {"tick": 5}),
    (
        "new_permit.residence",
        (B("answer.yes", "button.yes"), B("answer.no", "button.no", style=SEC), CANCEL),
        {"address": "上海市长宁区虹桥路1234弄56号7室"},
    ),
    ("new_permit.photo", (B("capture", "button.capture"), CANCEL), {"attempt": 1, "max_attempts": 3}),
    (
        "new_permit.photo",
        (B("capture", "button.capture", enabled=False), CANCEL),
        {"attempt": 2, "max_attempts": 3, "problem": None, "busy": True},
    ),
    (
        "new_permit.photo",
        (B("capture", "button.capture"), CANCEL),
        {"attempt": 2, "max_attempts": 3, "problem": "too_dark"},
    ),
    # the live preview on (issue 12): outline, advice and the countdown over the camera's picture
    (
        "new_permit.photo",
        (B("capture", "button.capture", enabled=False), CANCEL),
        PREVIEW_DATA,
    ),
    ("new_permit.retake", (B("confirm", "button.confirm"), CANCEL), {}),
    ("new_permit.verify_face", (), {"tick": 1}),
    (
        "new_permit.details",
        (B("confirm", "button.confirm"), B("back", "button.back", style=SEC), CANCEL),
        {
            "name": "欧阳建国",
            "sex": "M",
            "nation": "汉",
            "birth": "1956-03-08",
            "id_number": "3401**********123X",
            "id_address": "安徽省合肥市蜀山区长江西路某某小区12栋3单元402室",
            "residence_address": "上海市长宁区虹桥路1234弄56号7室",
            "photo": _photo(),
        },
    ),
    ("new_permit.phone", _keypad(False), {"digits": "1380013", "error": None}),
    ("new_permit.phone", _keypad(True), {"digits": "13800138000", "error": "invalid"}),
    ("new_permit.submit", (), {"tick": 0}),
    ("new_permit.issuing", (), {"step": "print", "tick": 7}),
    ("new_permit.take_card", (), {}),
    (
        "new_permit.done",
        (B("confirm", "button.finish"),),
        {"permit_number": "310105202611220001", "valid_until": "2027-11-22"},
    ),
    ("card_rewrite.notice", NOTICE_BUTTONS, {}),
    ("card_rewrite.insert_card", (CANCEL,), {"error": None}),
    ("card_rewrite.insert_card", (CANCEL,), {"error": "not_a_permit_card"}),
    ("card_rewrite.insert_card", (CANCEL,), {"error": "unreadable"}),
    ("card_rewrite.insert_card", (CANCEL,), {"error": "jammed"}),
    ("card_rewrite.read_chip", (), {"tick": 2}),
    ("card_rewrite.check_endorsement", (), {"tick": 4}),
    ("card_rewrite.rewrite", (), {"step": "chip", "tick": 1}),
    ("card_rewrite.rewrite", (), {"step": "erase", "tick": 6}),
    ("card_rewrite.rewrite", (), {"step": "print", "tick": 9}),
    ("card_rewrite.verify", (), {"tick": 8}),
    ("card_rewrite.return_card", (), {"rewritten": True}),
    ("card_rewrite.return_card", (), {"rewritten": False}),
    (
        "card_rewrite.done",
        (B("confirm", "button.finish"),),
        {"valid_from": "2026-11-23", "valid_until": "2027-11-22", "printed": "2026.11.23-2027.11.22"},
    ),
    ("card_rewrite.done", (B("confirm", "button.confirm"),), {}),
    ("status_query.read_id", (CANCEL,), {"error": None}),
    ("status_query.read_id", (CANCEL,), {"error": "read_failed"}),
    ("status_query.lookup", (), {}),
    *[("status_query.show", buttons, STATUS_SHOW | changes) for buttons, changes in STATUS_VARIANTS],
    ("status_query.show", (B("confirm", "button.finish"),), {}),
    ("status_query.done", (B("confirm", "button.finish"),), {}),
    *[("refusal", (B("confirm", "button.understood"),), {"reason": r.value, "available_on": None}) for r in Reason],
    (
        "refusal",
        (B("confirm", "button.understood"),),
        {"reason": "REG_TOO_RECENT", "available_on": "2026-11-22"},
    ),
    (
        "refusal",
        (B("confirm", "button.understood"),),
        {"reason": "ENDORSEMENT_NOT_DUE", "available_on": "2027-10-23"},
    ),
    ("refusal", (B("confirm", "button.understood"),), {"reason": "NOT_A_CODE"}),
    (
        "fault",
        (B("confirm", "button.understood"),),
        {"reason": "DEVICE_FAULT", "card_retained": True, "device": "printer"},
    ),
    (
        "fault",
        (B("confirm", "button.understood"),),
        {"reason": "BACKEND_UNAVAILABLE", "card_retained": False},
    ),
    ("goodbye", (), {"outcome": "issued"}),
    ("goodbye", (), {"outcome": "aborted"}),
    ("no_such_screen.yet", (B("confirm", "button.confirm"), CANCEL), {"whatever": [1, 2]}),
]

OVERLAY = Overlay(14, (B("still_here", "button.still_here"), CANCEL))


def view_of(screen: str, buttons: tuple[Button, ...], data: dict[str, object], **kw: object) -> View:
    return View(
        screen=screen,
        waiting_for=Waiting.TOUCH,
        buttons=buttons,
        data=dict(data),
        site="长宁区虹桥街道党建之家",
        clock_text="2026-11-22 09:00",
        **kw,  # type: ignore[arg-type]
    )


def _diagnostics_cases() -> list[tuple[str, tuple[Button, ...], dict[str, object]]]:
    """Diagnostics' screens from their own view functions, with a board that has every kind of row."""
    from kiosk.flows.base import Snapshot
    from kiosk.flows.diagnostics_board import DiagState
    from kiosk.flows.diagnostics_views import SCREENS as DIAG
    from kiosk.session import Session

    state = DiagState(card_id="T0001", role="maintenance", digits="4829", wrong=True, tries_left=1,
                      problem="locked", lockout_s=120, notice="refilled", testing="camera.frame", rows=[
                          {"device": "id_reader", "state": "online", "media": "none", "model": "GA 467 SAM",
                           "serial": "05.01-20230101-0000123456-0000654321", "firmware": "", "cause": "ok"},
                          {"device": "camera", "state": "hardware_error", "media": "none", "model": "", "serial": "",
                           "firmware": "", "cause": "no_frame"},
                          {"device": "printer", "state": "user_error", "media": "present", "model": "", "serial": "",
                           "firmware": "", "cause": "cover_open"},
                          {"device": "permit_card", "state": "online", "media": "present", "model": "Virtual PCD 00 00",
                           "serial": "", "firmware": "", "cause": "ok"},
                          {"device": "qr_scanner", "state": "not_installed", "media": "none", "model": "", "serial": "",
                           "firmware": "", "cause": "not_installed"},
                          {"device": "backend", "state": "offline", "media": "none", "model": "", "serial": "",
                           "firmware": "", "cause": "backend_unreachable"}],
                      supplies=[{"name": "hopper", "level": "low", "count": 8, "threshold": 10},
                                {"name": "reject_bin", "level": "full", "count": 50, "threshold": 50}],
                      tests=[{"device": "camera", "test": "frame", "outcome": "fail",
                              "message": "too_dark:brightness=12"},
                             {"device": "printer", "test": "status", "outcome": "pass", "message": "ok"}],
                      counters={"sessions": 12, "cards_issued": 9, "cards_retained": 1, "cards_rewritten": 2, "jams": 1,
                                "device_faults": 3, "refusals": {"REG_TOO_RECENT": 2}})
    session = Session()
    session.service_data = state
    snap = Snapshot("diagnostics.board", session, (), (), (), 3)
    out = []
    for screen, fn in DIAG.items():
        data, buttons = fn(snap)
        out.append((screen, buttons, data))
    for problem in ("revoked", "expired", "not_a_technician_card", "idle", "left", "something_else"):
        out.append(("diagnostics.card_out", (), {"problem": problem, "lockout_s": 0}))
    return out


CASES += _diagnostics_cases()


def all_views() -> Iterator[tuple[str, View]]:
    for i, (screen, buttons, data) in enumerate(CASES):
        for large in (False, True):
            name = f"{i:02d}-{screen}-{'large' if large else 'normal'}"
            yield name, view_of(screen, buttons, data, large_text=large)
    for large in (False, True):
        data = {"attempt": 1, "max_attempts": 3}
        yield (
            f"overlay-{large}",
            view_of("new_permit.photo", PHOTO_BUTTONS, data, overlay=OVERLAY, large_text=large),
        )


@pytest.fixture(scope="module")
def font() -> FontFile:
    try:
        return find_cjk_font()
    except FontMissing as exc:
        # scripts/setup.sh installs the CJK font: without it the kiosk cannot draw a screen, so
        # this is a broken environment to report, never a reason to skip every screen test.
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def display(font: FontFile) -> Iterator[Display]:
    d = Display(SIZE, font=font, lang="zh")
    yield d
    d.close()


def _assert_rects(display: Display, view: View, name: str) -> None:
    window = pygame.Rect((0, 0), SIZE)
    rects = {}
    for b in view.all_buttons():
        r = display.button_rect(b.id)
        assert r is not None, f"{name}: button {b.id} has no rect"
        assert window.contains(r), f"{name}: button {b.id} {r} outside the window"
        assert r.width >= 120 and r.height >= 90, f"{name}: button {b.id} too small for a finger: {r}"
        rects[b.id] = r
    ids = list(rects)
    for i, a in enumerate(ids):
        for other in ids[i + 1 :]:
            assert not rects[a].colliderect(rects[other]), f"{name}: {a} overlaps {other}"


def test_every_screen_renders_with_buttons_inside_and_apart(display: Display) -> None:
    for name, view in all_views():
        display.render(view)
        display.present()
        _assert_rects(display, view, name)
    assert not display.texts.missing, f"translation keys missing: {sorted(display.texts.missing)}"


def test_known_screens_are_registered() -> None:
    for screen, _, _ in CASES:
        if screen != "no_such_screen.yet":
            assert registry.lookup(screen).module is registry.SCREENS[screen]
    assert registry.lookup("card_rewrite.no_such_state").module.__name__ == "screens.generic"


REWRITE_SCREENS = (
    "notice",
    "insert_card",
    "read_chip",
    "check_endorsement",
    "rewrite",
    "verify",
    "return_card",
    "done",
)


def test_card_rewrite_screens_have_their_own_progress_hint() -> None:
    # notice(1) insert(2) read/check(3) rewrite/verify(4) return(5) done(5); not the new permit's hint.
    want = {"notice": 1, "insert_card": 2, "read_chip": 3, "check_endorsement": 3, "rewrite": 4, "verify": 4}
    want |= {"return_card": 5, "done": 5}
    for name in REWRITE_SCREENS:
        spec = registry.lookup(f"card_rewrite.{name}")
        assert spec.module.__name__ == f"screens.card_rewrite.{name}"
        assert spec.step is None, name
        progress = spec.module.PROGRESS
        assert progress == want[name], name
    zh, en = load_table("zh"), load_table("en")
    for step in range(1, 6):
        assert f"card_rewrite.progress.{step}" in zh and f"card_rewrite.progress.{step}" in en


def test_card_rewrite_buttons_are_worded_for_their_screen(display: Display) -> None:
    from screens import widgets as w

    for screen, want in (
        ("card_rewrite.notice", "label.card_rewrite.notice.confirm"),
        ("card_rewrite.done", "label.card_rewrite.done.confirm"),
    ):
        view = view_of(screen, NOTICE_BUTTONS[:1], {})
        display.render(view)
        canvas = w.Canvas(
            display.screen, display._themes[False], display.texts, display.text, view, display.screen.get_rect()
        )
        assert w.button_label(canvas, NOTICE_BUTTONS[0]) == load_table("zh")[want]
    assert load_table("zh")["label.card_rewrite.notice.confirm"] == "开始"


def _tap(display: Display, button_id: str) -> list[object]:
    rect = display.button_rect(button_id)
    assert rect is not None
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=rect.center, button=1))
    return list(display.poll())


def test_taps_become_intents_and_disabled_buttons_are_ignored(display: Display) -> None:
    pygame.event.clear()
    for screen, buttons, data in CASES:
        view = view_of(screen, buttons, data)
        display.render(view)
        for b in buttons:
            got = _tap(display, b.id)
            assert got == ([Tap(b.id)] if b.enabled else []), f"{screen}: {b.id} gave {got}"
    # The overlay's buttons win over the screen's under it.
    view = view_of("new_permit.notice", NOTICE_BUTTONS, {}, overlay=OVERLAY)
    display.render(view)
    assert display.button_rect("confirm") is None
    assert _tap(display, "still_here") == [Tap("still_here")]
    assert _tap(display, "cancel") == [Tap("cancel")]


def test_press_shows_feedback_and_sliding_off_cancels(display: Display) -> None:
    pygame.event.clear()
    view = view_of("new_permit.notice", NOTICE_BUTTONS, {})
    display.render(view)
    rect = display.button_rect("confirm")
    assert rect is not None
    probe = (rect.left + rect.width // 4, rect.centery)
    before = display.screen.get_at(probe)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1))
    frames = display.frames
    assert display.poll() == []
    # The main loop renders only when the view changes: poll redraws the press itself.
    assert display.frames == frames + 1
    assert display.screen.get_at(probe) != before, "a pressed button looks the same"
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(5, 5), rel=(0, 0), buttons=(1, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(5, 5), button=1))
    assert display.poll() == []
    assert display.screen.get_at(probe) == before


def test_a_press_does_not_carry_over_to_the_next_screen(display: Display) -> None:
    pygame.event.clear()
    display.render(view_of("new_permit.notice", NOTICE_BUTTONS, {}))
    rect = display.button_rect("confirm")
    assert rect is not None
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1))
    display.poll()
    display.render(view_of("new_permit.done", (B("confirm", "button.finish"),), {}))
    rect = display.button_rect("confirm")
    assert rect is not None
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=rect.center, button=1))
    assert display.poll() == []


def test_quit_and_other_events(display: Display) -> None:
    pygame.event.clear()
    display.render(view_of("new_permit.notice", NOTICE_BUTTONS, {}))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="", scancode=0))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(1, 1), button=1))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert display.poll() == [Quit()]


@pytest.mark.parametrize(
    ("screen", "data"),
    [
        ("new_permit.precheck", {}),
        ("card_rewrite.read_chip", {}),
        ("card_rewrite.rewrite", {"step": "erase"}),
    ],
)
def test_spinner_tick_redraws_without_rebuilding(display: Display, screen: str, data: dict[str, object]) -> None:
    base = view_of(screen, (), {**data, "tick": 0})
    display.render(base)
    layers = len(display._layers)
    first = display.screen.copy()
    display.render(replace(base, data={**data, "tick": 1}))
    assert len(display._layers) == layers
    assert display.screen.get_view("2").raw != first.get_view("2").raw


def test_translation_files_have_the_same_keys() -> None:
    zh, en = load_table("zh"), load_table("en")
    assert set(zh) == set(en), f"only in one file: {sorted(set(zh) ^ set(en))}"
    for code in Reason:
        for part in ("title", "advice"):
            assert f"reason.{code}.{part}" in zh


def test_english_renders_every_screen(font: FontFile, display: Display) -> None:
    # A second window replaces the first; the module display is restored below.
    en = Display(SIZE, font=font, lang="en")
    try:
        for name, view in all_views():
            en.render(view)
            _assert_rects(en, view, name)
        assert not en.texts.missing, sorted(en.texts.missing)
    finally:
        en.close()
        display.__init__(SIZE, font=font, lang="zh")  # type: ignore[misc]


def test_every_chinese_character_has_a_glyph(font: FontFile) -> None:
    pygame.freetype.init()
    face = pygame.freetype.Font(font.path, 0, font_index=font.index)
    missing: dict[str, str] = {}
    for key, text in load_table("zh").items():
        chars = sorted(set(text))
        for ch, metric in zip(chars, face.get_metrics("".join(chars), size=40), strict=True):
            if metric is None and not ch.isspace():
                missing[ch] = key
    assert not missing, f"no glyph for {missing}"


def test_no_chinese_in_screen_code() -> None:
    """Every word a resident reads comes from the translation files."""
    root = os.path.dirname(registry.__file__)
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                with open(os.path.join(folder, f), encoding="utf-8") as fh:
                    text = fh.read()
                assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), os.path.join(folder, f)


def test_the_idle_warning_leaves_the_screen_under_it_unchanged(display: Display) -> None:
    bare = view_of("new_permit.photo", PHOTO_BUTTONS, {"attempt": 1, "max_attempts": 3})
    display._layers.clear()
    display.render(replace(bare, overlay=OVERLAY))
    display.render(bare)
    after = display.screen.copy()
    display._layers.clear()
    display.render(bare)
    assert display.screen.get_view("2").raw == after.get_view("2").raw


def test_the_text_cache_is_bounded_by_bytes(display: Display) -> None:
    """Thousands of distinct long lines (names and addresses of many sessions) never hold more
    than the cache's byte budget, however many entries that is."""
    from screens import widgets

    text = display.text
    size = display._themes[True].title
    for i in range(400):
        text.line(f"上海市长宁区仙霞路{i}号{i % 7}室 长长的地址文字用来占满一行", size, (0, 0, 0), True)
        assert text.cache_bytes() <= widgets.LINE_CACHE_BYTES
    assert text.cache_bytes() > widgets.LINE_CACHE_BYTES // 2  # the budget is used, not a tiny entry cap


def test_forget_session_keeps_translations_and_drops_everything_else(display: Display) -> None:
    text = display.text
    static = sorted(text.static)[:3]
    for t in [*static, "张伟", "340102199003070010"]:
        text.line(t, 40, (0, 0, 0))
        text.width(t, 40)
    text.wrap("安徽省合肥市瑶海区长江东路100号", 40, 120)
    text.memo(("status_query.qr", "JFSH2025000456"), lambda: [[True]])
    assert "JFSH2025000456" in display.cached_texts()  # a memoised value is seen by the wipe's check
    display.forget_session()
    kept = display.cached_texts()
    assert set(static) <= kept
    assert not any("张伟" in t or "3401" in t or "长江东路" in t or "JFSH" in t for t in kept)
    assert text.memo(("status_query.qr", "JFSH2025000456"), lambda: "made again") == "made again"


def _greedy(text: TextRenderer, s: str, size: int, width: int, strong: bool) -> tuple[str, ...]:
    """The wrap as it was: every prefix measured, the line broken before the first that is too wide."""
    lines: list[str] = []
    for paragraph in s.split("\n"):
        line = ""
        for tok in widgets.tokens(paragraph):
            if not line or text.width((line + tok).rstrip(), size, strong) <= width:
                line += tok
                continue
            lines.append(line.rstrip())
            line = tok.lstrip()
        lines.append(line.rstrip())
    return tuple(part for ln in lines for part in text._hard_break(ln, size, width, strong))


def test_the_wrap_breaks_where_measuring_every_prefix_does(display: Display) -> None:
    """The wrap searches for each break instead of measuring every prefix: the same lines, for
    every translation (both languages) and a long address and number, at several sizes and widths."""
    text = display.text
    samples = [*sorted(display.texts.table.values()), *sorted(display._texts["en"].table.values()),
               "上海市浦东新区张江镇碧波路690号3幢1201室（张江高科技园区）上海市浦东新区张江镇碧波路\n第二段",
               "JFSH2025000456JFSH2025000456JFSH2025000456 Room 1201, Building 3, 690 Bibo Road", ""]
    for s in samples:
        for size, width in ((38, 300), (44, 700), (60, 1000)):
            for strong in (False, True):
                assert text.wrap(s, size, width, strong) == _greedy(text, s, size, width, strong), (s, size, width)


@pytest.mark.parametrize("screen", ["new_permit.phone", "registration.phone", "diagnostics.pin"])
def test_a_keypad_screen_does_not_scroll_in_normal_text(display: Display, screen: str) -> None:
    """Scroll buttons between the typed number and the keys (the phone screen with its real
    buttons did, its words on a second page) confuse a resident typing a number."""
    for typed, error in ((False, None), (True, None), (True, "too_short"), (True, "not_mobile"), (True, "invalid")):
        buttons = {"new_permit.phone": _keypad(typed), "diagnostics.pin": keypad(typed),
                   "registration.phone": (*keypad(typed)[:-1], NO_PHONE, BACK, keypad(typed)[-1])}[screen]
        view = view_of(screen, buttons, {"digits": "138" if typed else "", "error": error})
        for lang in ("zh", "en"):
            display.render(replace(view, lang=lang))
            assert display._layer is not None and display._layer.page is None, (screen, typed, error, lang)
            assert display.button_rect("scroll.down") is None
    for case_screen, buttons, data in CASES:  # the PIN's wrong-PIN and lockout cases among them
        if case_screen == screen:
            display.render(view_of(screen, buttons, data))
            assert display._layer is not None and display._layer.page is None, (screen, data)
