"""The boot warm-up of the screens' text (issue 16, screens/warm.py): what it lays out is the
translations only (SH-PRIV-1), it changes no pixel, a first frame after it lays out nothing of
the translations again, a session's text goes at goodbye while the warm-up's stays, and a bad
file is a typed error that leaves the kiosk starting cold."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pygame
import pytest

import run_kiosk
from kiosk.config import load_kiosk_config
from kiosk.fonts import FontFile, find_cjk_font
from kiosk.logevents import LogEvent
from screens import warm
from screens.display import Display
from screens.text import LANGUAGES, load_table
from tests.unit.test_screens import CASES, SIZE, view_of

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
SITE = "长宁区虹桥街道党建之家"


@pytest.fixture(scope="module")
def font() -> FontFile:
    return find_cjk_font()


@pytest.fixture(scope="module")
def plan() -> warm.Plan:
    return warm.load()


@pytest.fixture
def display(font: FontFile) -> Iterator[Display]:
    d = Display(SIZE, font=font, lang="zh")
    yield d
    d.close()


def booted(display: Display, plan: warm.Plan | None) -> Display:
    """The display's text as the kiosk leaves it at boot, warmed or cold."""
    display._layers.clear()
    display.text.clear()
    display.page_factor.clear()
    if plan is not None:
        warm.warm(display, plan, (SITE,))
    return display


def test_the_file_names_translations_and_their_lines_only(plan: warm.Plan) -> None:
    """SH-PRIV-1: the file reaches disk, so nothing in it may be other than a translation, or a
    line or part of a line one wraps into."""
    translations = {v for lang in LANGUAGES for v in load_table(lang).values()}
    everything = "\n".join(translations)
    assert len(plan.wraps) > 1000 and len(plan.widths) > 2000 and plan.pages
    assert {t for t, *_ in plan.wraps} <= translations
    strays = [t for t, *_ in plan.widths if t not in translations and t not in everything]
    assert not strays, strays[:5]


def test_a_tampered_file_lays_out_no_resident_data(display: Display) -> None:
    """Whatever the file says, warm() lays out translations only: a name, an ID number or an
    address written into it is skipped, and no cache holds it afterwards."""
    static = sorted(display.text.static)[0]
    tampered = warm.Plan(wraps=(("张伟", 40, 800, False), ("安徽省合肥市瑶海区长江东路100号", 40, 300, False),
                                (static, 40, 800, False), (static, 40_000, 800, False)),
                         widths=(("340102199003070010", 40, False), (static, 40, True), (static, -3, True)),
                         pages=(("ready.attract", True, "en", 99), ("ready.attract", True, "zh", 1)))
    done = warm.warm(booted(display, None), tampered)
    assert (done.wraps, done.widths, done.skipped) == (1, 1, 6)
    assert display.page_factor == {("ready.attract", True, "zh"): 1}
    held = display.text.cached_texts()
    assert static in held
    assert not any("张伟" in t or "3401" in t or "长江东路" in t for t in held)


@pytest.mark.parametrize("body, why", [
    ("{not json", "Expecting"),
    ('{"format": 2, "wraps": [], "widths": []}', "format 1"),
    ('{"format": 1, "wraps": {}, "widths": []}', "must be lists"),
    ('{"format": 1, "wraps": [], "widths": [], "pages": [["ready.attract", 1, "en", 2]]}', "int where a bool"),
    ('{"format": 1, "wraps": [["a", 40, 300]], "widths": []}', "list of 4"),
    ('{"format": 1, "wraps": [["a", true, 300, false]], "widths": []}', "bool where a int"),
    ('{"format": 1, "wraps": [], "widths": [["a", 40, "no"]]}', "str where a bool"),
    ('[1, 2]', "format 1"),
])
def test_a_malformed_file_is_a_typed_error(tmp_path: Path, body: str, why: str) -> None:
    path = tmp_path / "warm_text.json"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(warm.WarmFileError, match=why):
        warm.load(path)
    with pytest.raises(warm.WarmFileError, match=r"warm_text\.json"):
        warm.load(tmp_path / "absent" / "warm_text.json")


def test_the_file_reads_back_as_written(plan: warm.Plan, tmp_path: Path) -> None:
    path = tmp_path / "again.json"
    path.write_text(warm.to_json(plan), encoding="utf-8")
    assert warm.load(path) == plan
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == warm.FORMAT


# Screens whose first frames were over budget before the warm-up, in both languages and sizes.
WARMED_SCREENS = ("ready.attract", "new_permit.notice", "card_rewrite.insert_card", "diagnostics.board")
VARIANTS = [(lang, large) for lang in ("zh", "en") for large in (False, True)]


def _views() -> list[Any]:
    return [replace(view_of(s, b, d), lang=lang, large_text=large)
            for s, b, d in CASES if s in WARMED_SCREENS for lang, large in VARIANTS]


def _drawn_after_boot(display: Display, view: Any, plan: warm.Plan) -> None:
    """`view` drawn as its first frame after boot would be, the warm-up's text kept from one view
    to the next (laying it out again for each costs 0.19 s of CPU): no layer, the page heights and
    no session text as the warm-up left them."""
    display._layers.clear()
    display.text.forget_session()
    display.page_factor.clear()
    display.page_factor.update({(s, large, lang): f for s, large, lang, f in plan.pages})
    display.render(view)


def test_a_first_frame_after_the_warm_up_lays_out_no_translation_again(display: Display, plan: warm.Plan) -> None:
    """The file covers these screens: their first frame after boot wraps and measures none of
    their translations anew (a stale file fails here: run python -m sim.warm_text)."""
    booted(display, plan)
    for view in _views():
        before = tuple(len(e) for e in display.text.laid_out())
        _drawn_after_boot(display, view, plan)
        after = tuple(len(e) for e in display.text.laid_out())
        assert after == before, (view.screen, view.lang, view.large_text, before, after)


def test_the_warm_up_changes_no_pixel(display: Display, plan: warm.Plan) -> None:
    views = _views()
    booted(display, None)
    cold = []
    for view in views:
        display._layers.clear()
        display.page_factor.clear()
        display.render(view)
        cold.append(pygame.image.tobytes(display.screen, "RGB"))
    booted(display, plan)
    for view, pixels in zip(views, cold, strict=True):
        _drawn_after_boot(display, view, plan)
        assert pygame.image.tobytes(display.screen, "RGB") == pixels, (view.screen, view.lang, view.large_text)


def test_a_session_goes_at_goodbye_and_the_warm_up_stays(display: Display, plan: warm.Plan) -> None:
    """SH-PRIV-1 with the warm-up: the resident's name and address, drawn, measured and wrapped,
    are gone after forget_session; what the warm-up laid out, and the site's name, are kept."""
    booted(display, plan)
    warmed = tuple(len(e) for e in display.text.laid_out())
    details = next(view_of(s, b, d) for s, b, d in CASES if s == "new_permit.details")
    display.render(details)
    name, address = str(details.data["name"]), str(details.data["id_address"])
    assert any(name in t for t in display.cached_texts()), "the name was never cached: the check is blind"
    display.forget_session()
    kept = display.cached_texts()
    assert not any(name in t or address[:6] in t for t in kept)
    assert SITE in kept
    assert tuple(len(e) for e in display.text.laid_out()) >= warmed


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[LogEvent, dict[str, Any]]] = []

    def emit(self, event: LogEvent, **values: Any) -> None:
        self.events.append((event, values))


def test_the_kiosk_warms_its_text_at_boot_and_logs_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = load_kiosk_config()
    assert config.display.warm_text, "the terminal's own config warms its text at boot"
    log = Log()
    display = run_kiosk.make_display(config, log=log)
    try:
        (event, values), = log.events
        assert event is LogEvent.TEXT_WARMED and "error" not in values
        assert values["wraps"] > 1000 and values["skipped"] == 0
        assert config.terminal.site in display.text.cached_texts()
    finally:
        display.close()
    # An unreadable file: said in the log, and the kiosk starts all the same, cold.
    monkeypatch.setattr(warm, "WARM_FILE", tmp_path / "gone.json")
    log = Log()
    display = run_kiosk.make_display(config, log=log)
    try:
        (event, values), = log.events
        assert event is LogEvent.TEXT_WARMED and "gone.json" in values["error"]
        assert display.text.laid_out() == ([], [])
    finally:
        display.close()
    log = Log()
    run_kiosk.make_display(replace(config, display=replace(config.display, warm_text=False)), log=log).close()
    assert log.events == []


def test_the_warm_up_reserves_the_surfaces_of_the_first_screens(display: Display, plan: warm.Plan) -> None:
    """A fresh surface costs 5-12 ms to fault in: the spare frames and the page surfaces a
    scrolling screen is drawn on are made at boot, as tall as the tallest page the screens drew."""
    from screens.layer import KEPT, SCRATCH_PAGES

    booted(display, None)
    display.surfaces.clear()
    display.surfaces.reserve(0)
    assert len(display.surfaces.frames) == KEPT and display.surfaces.pages == []
    booted(display, plan)
    tall = min(plan.page_height, SCRATCH_PAGES * SIZE[1])
    assert plan.page_height > SIZE[1]
    assert [p.get_height() for p in display.surfaces.pages] == [tall] * (KEPT + 1)
    assert display.surfaces.tallest == tall
    big = next(v for v in _views() if v.screen == "ready.attract" and v.large_text)
    _drawn_after_boot(display, big, plan)  # drawn on a page it found ready
    assert len(display.surfaces.pages) == KEPT
