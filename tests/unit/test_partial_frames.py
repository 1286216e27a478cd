"""A frame whose layer is already on the glass restores and redraws only what changes over it
(screens/display.py: the clock, a spinner's tick, typed digits, the photo's advice and count,
a countdown, a pressed button). Each such frame must be pixel for pixel the frame a whole redraw
gives, with the animation drawn unclipped by the screen's own `animated` area (the body instead):
an area declared too small, or a restore left out, shows as a difference."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pygame
import pytest

from kiosk.fonts import FontFile
from kiosk.view import View
from screens import registry
from screens.display import Display
from tests.unit.test_screen_overflow import registration_cases
from tests.unit.test_screens import CASES, NOTICE_BUTTONS, SIZE, font, view_of  # noqa: F401

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

GUIDES = ("closer", "ok", "move_left", None, "hold_still")


def _changed(key: str, value: Any, i: int) -> Any:
    """The dynamic value `key` after `i` changes, longer and shorter in turn."""
    if key == "tick":
        return (value or 0) + i
    if key == "digits":
        return ("13800138000" if i % 2 else "138")[: 3 + 4 * i]
    if key == "guidance":
        return GUIDES[i % len(GUIDES)]
    if key == "countdown":
        return (3, None, 1, 2)[i % 4]
    if key == "seconds_left":
        return max(0, 9 - i)
    return value


def _sequence(view: View, steps: int = 4) -> Iterator[View]:
    spec = registry.lookup(view.screen)
    for i in range(1, steps + 1):
        data = {**view.data, **{k: _changed(k, view.data.get(k), i) for k in spec.dynamic}}
        yield replace(view, data=data, clock_text=f"2026-11-22 09:{i:02d}",
                      countdown=None if view.countdown is None else max(0, view.countdown - i))


def _whole(display: Display, view: View) -> bytes:
    """The frame redrawn whole, the animation clipped to the body only."""
    spec = registry.lookup(view.screen)
    registry._cache[view.screen] = replace(spec, animated=None)
    try:
        display._shown = None
        display.render(view)
        return bytes(display.screen.get_view("2").raw)
    finally:
        registry._cache[view.screen] = spec


def _cases() -> list[tuple[str, View]]:
    out = []
    for screen, buttons, data in [*CASES, *registration_cases()]:
        spec = registry.lookup(screen)
        if spec.animate is None and screen not in ("ready.attract", "goodbye", "new_permit.done"):
            continue
        for large in (False, True):
            out.append((f"{screen}-{'large' if large else 'normal'}-{len(out)}",
                        view_of(screen, buttons, data, large_text=large)))
    return out


CASES_ANIMATED = _cases()


@pytest.fixture(scope="module")
def display(font: FontFile) -> Iterator[Display]:  # noqa: F811  (test_screens' font fixture)
    d = Display(SIZE, font=font, lang="zh")
    yield d
    d.close()


@pytest.mark.parametrize(("name", "view"), CASES_ANIMATED, ids=[n for n, _ in CASES_ANIMATED])
def test_a_frame_over_the_same_layer_is_the_whole_frame(display: Display, name: str, view: View) -> None:
    display.render(view)
    partial_frames = 0
    for step in _sequence(view):
        partial_frames += display._shown is display._layer
        display.render(step)
        got = bytes(display.screen.get_view("2").raw)
        assert got == _whole(display, step), f"{name}: the frame after {dict(step.data)} differs"
        # _whole left the display as a whole frame would: the next step is partial again.
        display.render(step)
    assert partial_frames, name


def test_a_scrolled_page_s_frames_are_the_whole_frame(display: Display) -> None:
    """A page is composed into its layer where it is scrolled (screens/layer.compose): after a
    scroll down, further down and back up, each frame over it is the frame a whole redraw gives."""
    scrolled = []
    for name, view in CASES_ANIMATED:
        display.render(view)
        if display._layer is None or display._layer.page is None:
            continue  # this one fits: the test above has it
        for direction, step in zip((1, 1, -1, 0), _sequence(view), strict=True):
            display._scroll(direction)
            display.render(step)
            assert display._shown is display._layer
            got = bytes(display.screen.get_view("2").raw)
            assert got == _whole(display, step), f"{name}: scrolled to {display.scrolled()}, {dict(step.data)} differs"
            display.render(step)
        scrolled.append(name)
    assert len(scrolled) >= 5, scrolled


def test_a_partial_frame_does_not_blit_the_whole_layer(display: Display) -> None:
    """The point of it: over the same layer a tick restores the spinner's square, not 8 MB."""
    view = view_of("new_permit.precheck", (), {"tick": 1})
    display.render(view)
    assert display._shown is display._layer
    before = display.screen.copy()
    # Paint where nothing animates: a partial frame leaves it, a whole frame would restore it.
    pygame.draw.rect(display.screen, (255, 0, 255), pygame.Rect(0, SIZE[1] - 40, 40, 40))
    display.render(replace(view, data={"tick": 2}))
    assert display.screen.get_at((5, SIZE[1] - 5)) == pygame.Color(255, 0, 255)
    display._shown = None
    display.render(replace(view, data={"tick": 2}))
    assert display.screen.get_at((5, SIZE[1] - 5)) == before.get_at((5, SIZE[1] - 5))


def test_a_released_press_leaves_the_frame_as_before(display: Display) -> None:
    view = view_of("new_permit.notice", NOTICE_BUTTONS, {})
    display.render(view)
    display.render(replace(view, clock_text="2026-11-22 09:07"))
    rest = bytes(display.screen.get_view("2").raw)
    rect = display.button_rect("confirm")
    assert rect is not None
    pressed = display.handle_events([pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=rect.center, button=1)])
    assert pressed == [] and bytes(display.screen.get_view("2").raw) != rest
    display.handle_events([pygame.event.Event(pygame.MOUSEMOTION, pos=(5, 5), rel=(0, 0), buttons=(1, 0, 0)),
                           pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(5, 5), button=1)])
    assert bytes(display.screen.get_view("2").raw) == rest


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_page_is_as_short_after_another_residents_page_as_on_a_fresh_display(font: FontFile, lang: str) -> None:  # noqa: F811
    """screens/scroll.paged starts from the height the screen's page took last time, and
    screens/layer.build draws a screen that scrolled last time on its page first: whatever came
    before, each frame is pixel for pixel what a display without that memory draws, its page the
    shortest that holds it."""
    d = Display(SIZE, font=font, lang=lang)
    by_screen: dict[str, list[tuple[View, int | None, bytes]]] = {}
    for screen, buttons, data in CASES:
        view = view_of(screen, buttons, data, large_text=True)
        d.page_factor.clear()
        d._layers.clear()
        d.render(view)
        page = d._layer.page if d._layer is not None else None
        by_screen.setdefault(screen, []).append((view, None if page is None else page.factor,
                                                 bytes(d.screen.get_view("2").raw)))
    compared = set()
    for views in by_screen.values():
        if len(views) < 2 or all(f is None for _, f, _ in views):
            continue
        # each after the one before it in the list (the first after the last)
        for i, (after, fresh, pixels) in enumerate(views):
            for before, _, _ in (views[i - 1],):
                d.page_factor.clear()
                d._layers.clear()
                d.render(before)
                d._layers.clear()
                d.render(after)
                page = d._layer.page if d._layer is not None else None
                assert (None if page is None else page.factor) == fresh, after.screen
                assert bytes(d.screen.get_view("2").raw) == pixels, f"{after.screen} after {dict(before.data)}"
                compared.add((after.screen, fresh))
    # pages of different heights among them, and screens that fit after one that scrolled
    assert len({f for _, f in compared if f is not None}) >= 2, compared
    assert None in {f for _, f in compared}, compared
    d.close()
