"""The header's resident controls through the core (issue 13): large text, language and help are
intents the core keeps in the session; a new resident starts in the defaults; large text comes by
itself from 65 (SH-AGE-2) in every service that reads who the resident is; "call staff" raises an
alert in the log channel with no personal data; the theme's text colours have contrast >= 4.5:1."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.chart import Trigger as T
from kiosk.controller import Kiosk
from kiosk.intents import Tap
from kiosk.session import Session
from screens import theme as th
from tests.unit.test_core import all_up, kiosk


def at(state: str) -> Kiosk:
    k = kiosk()
    k.ports.qr_scanner = None  # type: ignore[misc]
    all_up(k)
    k.machine.set_state(state, model=k)
    return k


def ids(k: Kiosk) -> list[str]:
    return [b.id for b in k.view().all_buttons()]


def test_the_attract_screen_has_the_switches_and_they_change_only_the_session() -> None:
    k = at("ready.attract")
    assert {"ui.large", "ui.lang", "ui.help", "ui.volume", "ui.replay"} <= set(ids(k))
    assert k.view().lang == "zh" and not k.view().large_text
    k.handle_intent(Tap("ui.large"))
    k.handle_intent(Tap("ui.lang"))
    v = k.view()
    assert (k.state, v.large_text, v.lang) == ("ready.attract", True, "en")
    assert next(b for b in v.chrome if b.id == "ui.large").label == "chrome.large_off"
    k.handle_intent(Tap("ui.lang"))
    assert k.view().lang == "zh"


def test_the_choices_follow_the_resident_into_a_service_and_reset_for_the_next() -> None:
    k = at("ready.attract")
    k.handle_intent(Tap("ui.large"))
    k.handle_intent(Tap("ui.lang"))
    k.handle_intent(Tap("start"))
    assert k.state == "ready.menu" and k.view().large_text and k.view().lang == "en"
    k.fire(T.MENU_TIMEOUT)  # the menu left alone: whoever comes next starts in the defaults
    assert k.state == "ready.attract" and not k.view().large_text and k.view().lang == "zh"
    # The goodbye of a session also starts the next one afresh (SH-PRIV-1 and the defaults).
    k.session = Session(large_text=True, lang="en")
    k._ending.exit_goodbye()
    assert k.session.large_text is False and k.session.lang is None


def test_help_is_an_overlay_with_close_and_call_staff_and_the_step_stays() -> None:
    k = at("new_permit.read_id")
    k.handle_intent(Tap("ui.help"))
    v = k.view()
    assert v.help is not None and v.screen_id == "help" and k.state == "new_permit.read_id"
    assert v.help.step == "new_permit.read_id" and v.help.hotline == "12345" and v.help.centre_name
    assert ids(k) == ["help.staff", "help.close"]  # nothing under it can be pressed by mistake
    k.handle_intent(Tap("help.staff"))
    alert = [e for e in k.log.recent if e["event"] == "STAFF_CALLED"]
    assert len(alert) == 1 and set(alert[0]) - {"event", "code", "level", "msg", "ts", "time"} <= {
        "session", "state"}, alert
    assert k.view().help is not None and not next(b for b in k.view().help.buttons if b.id == "help.staff").enabled
    k.handle_intent(Tap("help.close"))
    assert k.view().help is None and "confirm" not in ids(k) and "ui.help" in ids(k)


def test_english_help_names_the_centre_in_english() -> None:
    k = at("refusal")
    k.handle_intent(Tap("ui.lang"))
    k.handle_intent(Tap("ui.help"))
    h = k.view().help
    assert h is not None and h.centre_name.isascii() and h.centre_address.isascii()


def test_the_header_names_the_site_in_english_in_english_mode() -> None:
    """terminal.site_en in English mode (the resident's switch or display.lang); without it, terminal.site."""
    from dataclasses import replace

    k = at("ready.attract")
    site, site_en = k.config.terminal.site, k.config.terminal.site_en
    assert site_en and site_en.isascii() and not site.isascii()
    assert k.view().site == site
    k.handle_intent(Tap("ui.lang"))
    assert k.view().site == site_en
    k.handle_intent(Tap("ui.lang"))
    assert k.view().site == site
    k.config = replace(k.config, terminal=replace(k.config.terminal, site_en=""))
    k.handle_intent(Tap("ui.lang"))
    assert (k.view().lang, k.view().site) == ("en", site)
    k.config = replace(k.config, display=replace(k.config.display, lang="en"),
                       terminal=replace(k.config.terminal, site_en=site_en))
    k.handle_intent(Tap("ui.lang"))  # back to the session's default: the terminal's English
    assert (k.view().lang, k.view().site) == ("zh", site)
    k.session.lang = ""
    assert (k.view().lang, k.view().site) == ("en", site_en)


def test_machine_screens_have_no_resident_controls() -> None:
    for state in ("self_test", "diagnostics.pin"):
        k = at(state)
        assert not any(i.startswith("ui.") for i in ids(k)), state


@pytest.mark.parametrize(("birth", "large"), [(date(1961, 11, 22), True), (date(1961, 11, 23), False)])
def test_sh_age_2_large_text_from_65_and_a_chosen_switch_is_kept(birth: date, large: bool) -> None:
    """SH-AGE-2: 65 on the day (2026-11-22) switches large text on; younger stays as chosen."""
    from kiosk.policy import is_large_text

    k = kiosk()
    assert is_large_text(birth, k.clock.today(), k.pack) is large
    # The ID-card step ORs it in: a younger resident who chose large text keeps it.
    s = Session(large_text=True)
    s.large_text = s.large_text or is_large_text(birth, k.clock.today(), k.pack)
    assert s.large_text


def test_sh_age_2_every_service_that_reads_a_resident_sets_large_text() -> None:
    """SH-AGE-2 in every service: the ID-card step (new permit, registration, status query) and the
    card-face rewrite (the permit chip's birth date) both switch large text on from 65."""
    import inspect

    from kiosk.flows import card_rewrite, id_card_step

    for module in (id_card_step, card_rewrite):
        src = inspect.getsource(module)
        assert "s.large_text = s.large_text or is_large_text(" in src, module.__name__


@pytest.mark.parametrize(("name", "fg", "bg"), th.TEXT_PAIRS)
def test_theme_text_contrast_is_at_least_4_5(name: str, fg: th.Color, bg: th.Color) -> None:
    assert th.contrast(fg, bg) >= 4.5, f"{name}: {th.contrast(fg, bg):.2f}:1"


def test_large_text_is_half_again_as_big_with_targets_of_120_px_or_more() -> None:
    normal, large = th.Theme(1080, 1920), th.Theme(1080, 1920, large=True)
    for size in ("small", "body", "subtitle", "title", "button", "huge"):
        assert getattr(large, size) >= 1.5 * getattr(normal, size) - 1, size
    for target in ("button_height", "key_height", "chrome_height"):
        assert getattr(large, target) >= max(120, 1.5 * getattr(normal, target) - 1), target
    assert th.LINE_SPACING >= 1.3
    assert th.contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
