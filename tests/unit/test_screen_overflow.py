"""Every screen in both languages and both sizes (issue 13): no text runs out of its box or is
cut, every glyph is in the font (the one checker, sim/overflow.py, which the scenario runner's
--variant applies to every frame of whole sessions), large text says the same as normal text (the same translation
keys drawn: SH-AGE-2's large-text mode loses nothing), and the header's controls are on every
screen a resident sees.

The views are the screen tests' representative views (tests/unit/test_screens.py CASES, also
sim.bench_frames' list), each with the header controls the presenter adds, plus the help
overlay of every step and the longest names. `screens.widgets.AUDIT` collects every line drawn.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pygame
import pytest

from kiosk import chrome
from kiosk.config import load_kiosk_config
from kiosk.fonts import FontFile, find_cjk_font
from kiosk.session import Session
from kiosk.view import Button, View
from screens import widgets as w
from screens.display import Display
from screens.text import LANGUAGES
from sim import overflow
from tests.unit.test_screens import CASES, OVERLAY, PHOTO_BUTTONS, SIZE, view_of

LONG_NAME = "阿卜杜热合曼·买买提依明"  # a Uyghur name as the ID card prints it
LONG_CASES = [
    ("new_permit.details", CASES[[c[0] for c in CASES].index("new_permit.details")][1],
     {**CASES[[c[0] for c in CASES].index("new_permit.details")][2], "name": LONG_NAME, "nation": "维吾尔",
      "id_address": "新疆维吾尔自治区喀什地区喀什市吐曼路街道阿热亚路社区某某巷12号院3栋2单元501室"}),
]


def registration_cases() -> list[tuple[str, tuple[Button, ...], dict[str, object]]]:
    """The registration's screens from their own view functions (test_screens' CASES has none),
    with the longest name and a long address, a typed number and a receipt."""
    from datetime import date
    from types import SimpleNamespace

    from kiosk.backend_vocabulary import Relationship
    from kiosk.flows.base import Snapshot
    from kiosk.flows.registration_data import Purpose, RegData
    from kiosk.flows.registration_views import SCREENS as REG
    from kiosk.records import ProofKind

    address = "上海市长宁区虹桥路1234弄56号7室某某小区12栋3单元402室"
    receipt = SimpleNamespace(number="DJ310105202611220001", declared=date(2026, 11, 22),
                              eligible_on=date(2027, 5, 22), expires_on=date(2027, 11, 22))
    reg = RegData(kind=ProofKind.RELATIVE_RENTAL, digits="3101052026", proof=SimpleNamespace(address=address),
                  relationship=Relationship.FULL_SIBLING, purpose=Purpose.FAMILY, receipt=receipt)  # type: ignore[arg-type]
    session = Session(identity=SimpleNamespace(name=LONG_NAME, id_number="650102195603081234"),  # type: ignore[arg-type]
                      phone="13800138000", service_data=reg)
    snap = Snapshot("registration.notice", session, (), (), (), 3, now=0.0, qr_scanner_up=True)
    out = []
    for screen, fn in REG.items():
        data, buttons = fn(snap)
        out.append((screen, buttons, data))
        if screen == "registration.proof":
            # With the error banner and no scanner (the longest words over the keypad): in large text
            # English they ran below the body into the keypad (registration_scanner_fault_garbage).
            out.append((screen, buttons, {**data, "problem": "unknown_host", "scanner": False}))
    return out


def views() -> Iterator[tuple[str, View]]:
    config = load_kiosk_config()
    for i, (screen, buttons, data) in enumerate([*CASES, *LONG_CASES, *registration_cases()]):
        # Diagnostics is the technician's, who starts a fresh session in standard text.
        for large in (False,) if screen.startswith("diagnostics.") else (False, True):
            session = Session(large_text=large)
            base = view_of(screen, buttons, data, large_text=large, chrome=chrome.chrome_buttons(screen, session))
            yield f"{i:02d}-{screen}", base
            if i % 7 == 0 or screen in ("ready.attract", "new_permit.phone", "refusal"):
                session.help_open, session.staff_called = True, i % 2 == 0
                yield f"{i:02d}-{screen}-help", replace(base, help=chrome.help_view(screen, session, config))
    for large in (False, True):
        yield "overlay", view_of("new_permit.photo", PHOTO_BUTTONS, {"attempt": 1, "max_attempts": 3},
                                 overlay=OVERLAY, large_text=large)


@pytest.fixture(scope="module")
def font() -> FontFile:
    return find_cjk_font()


@pytest.fixture(scope="module")
def display(font: FontFile) -> Iterator[Display]:
    d = Display(SIZE, font=font, lang="zh")
    yield d
    d.close()


# What each view drew, for the three whole-screen checks below (overflow, large text's words, line
# spacing): they look at the same frames, which are drawn once a view and language (the suite's
# scheduler keeps this module's tests on one worker: tests/conftest.py LONG).
_DRAWN: dict[str, tuple[list[w.Drawn], set[str]]] = {}


def _drawn_once(display: Display, view: View) -> tuple[list[w.Drawn], set[str]]:
    key = repr(view)
    if key not in _DRAWN:
        _DRAWN[key] = _draw(display, view)
    return _DRAWN[key]


def _draw(display: Display, view: View) -> tuple[list[w.Drawn], set[str]]:
    display._layers.clear()
    display._panels.clear()
    texts = display.texts_for(view)
    texts.used = set()
    w.AUDIT = []
    try:
        display.render(view)
        return w.AUDIT, set(texts.used)
    finally:
        w.AUDIT = None


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_overflows_or_is_cut_and_every_glyph_exists(display: Display, font: FontFile, lang: str) -> None:
    glyphs = overflow.GlyphCheck(font)
    problems: list[str] = []
    for name, view in views():
        view = replace(view, lang=lang)
        size = "large" if view.large_text else "normal"
        drawn, _ = _drawn_once(display, view)
        problems += overflow.problems(drawn, glyphs, SIZE, f"{name} {lang} {size}")
    screens = sorted({p.split(" ")[0] for p in problems})
    assert not problems, f"{len(problems)} problems on {screens}:\n" + "\n".join(problems[:400])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_large_text_says_the_same_as_normal_text(display: Display, lang: str) -> None:
    """SH-AGE-2: the resident of 65 reads every word the others read, only larger."""
    lost: list[str] = []
    for name, view in views():
        if view.large_text:
            continue
        normal = replace(view, lang=lang)
        large = replace(normal, large_text=True, chrome=chrome.chrome_buttons(view.screen, Session(large_text=True)))
        _, used_normal = _drawn_once(display, normal)
        _, used_large = _drawn_once(display, large)
        # The large-text switch itself reads the other way round in large text.
        gone = {k for k in used_normal - used_large if not k.startswith("scroll.")} - {"chrome.large_on"}
        if gone:
            lost.append(f"{name} {lang}: large text drops {sorted(gone)}")
    assert not lost, "\n".join(lost)


def test_the_long_minority_name_is_shown_whole(display: Display) -> None:
    for large in (False, True):
        for lang in LANGUAGES:
            screen, buttons, data = LONG_CASES[0]
            drawn, _ = _draw(display, view_of(screen, buttons, data, large_text=large, lang=lang))
            texts = [d.text for d in drawn if not d.cut]
            joined = "".join(texts)
            assert LONG_NAME in joined, f"{lang} large={large}: the name is not shown whole: {texts[:12]}"


def test_every_resident_screen_has_the_header_controls() -> None:
    for screen, _, _ in CASES:
        buttons = {b.id for b in chrome.chrome_buttons(screen, Session())}
        resident = not (screen in ("boot", "self_test", "recovery") or screen.startswith("diagnostics."))
        want = {chrome.LARGE, chrome.LANG, chrome.HELP, chrome.VOLUME, chrome.REPLAY}
        assert buttons == (want if resident else set()), screen


def test_the_runners_frame_checker_finds_a_missing_glyph(display: Display, font: FontFile) -> None:
    """sim/overflow.CheckedDisplay (what `run_kiosk.py --variant` wraps the display in) can fail:
    a name in a script the font lacks is a problem of that screen; the same view with a real name is not."""
    checked = overflow.CheckedDisplay(display, font)
    screen, buttons, data = LONG_CASES[0]
    display._layers.clear()
    checked.render(view_of(screen, buttons, {**data, "name": "\U00013000\U00013001"}, large_text=True, lang="en"))
    assert checked.audit.frames == 1 and checked.audit.lines > 10
    assert any("no glyph" in p for p in checked.audit.problems), checked.audit.problems
    assert checked.audit.screens == {"new_permit.details"}
    clean = overflow.CheckedDisplay(display, font)
    display._layers.clear()
    clean.render(view_of(screen, buttons, data, large_text=True, lang="en"))
    assert clean.audit.problems == [] and clean.audit.as_report()["problem_count"] == 0


def line_spacing_problems(drawn: list[w.Drawn], where: str, ratio: float = 1.3) -> list[str]:
    """Lines of one wrapped paragraph (or button label) that follow the one above by less than
    `ratio` x their font size (the MIIT elder-friendly guideline: line spacing >= 1.3x)."""
    paragraphs: dict[int, list[w.Drawn]] = {}
    for d in drawn:
        if d.paragraph and not d.cut:
            paragraphs.setdefault(d.paragraph, []).append(d)
    out = []
    for lines in paragraphs.values():
        lines.sort(key=lambda d: d.top)
        for above, below in itertools.pairwise(lines):
            advance = below.top - above.top
            if advance < ratio * max(above.size, below.size):
                out.append(f"{where}: {below.text!r} {advance} px under {above.text!r} at {below.size} px "
                           f"({advance / below.size:.2f}x)")
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_wrapped_lines_are_spaced_at_least_1_3_times_their_size(display: Display, lang: str) -> None:
    """The MIIT guideline's line spacing, in both sizes: every paragraph of two lines or more on
    every screen case (and its help), measured from where its lines were drawn."""
    problems: list[str] = []
    checked = 0
    for name, view in views():
        drawn, _ = _drawn_once(display, replace(view, lang=lang))
        counts: dict[int, int] = {}
        for d in drawn:
            counts[d.paragraph] = counts.get(d.paragraph, 0) + 1
        checked += sum(n - 1 for p, n in counts.items() if p and n > 1)
        problems += line_spacing_problems(drawn, f"{name} {lang} {'large' if view.large_text else 'normal'}")
    assert checked > 200, checked  # wrapped paragraphs were seen, not none
    assert not problems, f"{len(problems)} lines too close:\n" + "\n".join(problems[:100])


def test_the_line_spacing_check_finds_lines_too_close() -> None:
    box = pygame.Rect(0, 0, 10, 10)
    r = w.Drawn("a", box, box, size=50, top=0, paragraph=7)
    ok = replace(r, text="b", top=65)
    close = replace(r, text="b", top=60)
    alone = replace(r, text="b", top=20, paragraph=0)
    assert line_spacing_problems([r, ok], "x") == []
    assert line_spacing_problems([close, r], "x") and line_spacing_problems([r, alone], "x") == []


def test_a_kept_cards_code_is_readable_in_both_sizes_and_languages(display: Display, tmp_path: Path) -> None:
    """The fault screen of a kept card (its number under the banner, a countdown below): the QR code
    must be on the body, scrolled to when it does not fit, never drawn over the countdown band.
    fault_chip_write_refused [large] decoded nothing: the code had been drawn under the countdown."""
    from kiosk.retention import PREFIX
    from sim.shots import decode_png as decode_qr

    payload = f"{PREFIX}|K|00000001|DEVICE_FAULT|2026-11-22|SH-CN-0001"
    data = {"reason": "DEVICE_FAULT", "card_retained": True, "device": "permit_card", "service": "new_permit",
            "retention_number": "00000001", "retention_qr": payload, "terminal": "SH-CN-0001"}
    for large in (False, True):
        for lang in LANGUAGES:
            view = view_of("fault", (Button("confirm", "button.understood"),), data, large_text=large, lang=lang,
                           countdown=15, chrome=chrome.chrome_buttons("fault", Session(large_text=large)))
            _draw(display, view)
            # Each page as a PNG and read back, as a phone reads a picture of the screen.
            shots = []
            for n, glass in enumerate(display.pages(), 1):
                shots.append(tmp_path / f"fault-{lang}-{int(large)}.page{n}.png")
                pygame.image.save(glass, str(shots[-1]))
            codes = [code for shot in shots for code in decode_qr(shot)]
            assert payload in codes, f"{lang} large={large}: decoded {codes} from {len(shots)} shots"
