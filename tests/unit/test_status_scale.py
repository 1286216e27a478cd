"""status_query.show fits every fact on one screen with the largest type that fits (issue 16:
the scale is found from a guess without wrapping, then checked by wrapping, two scales most
often, where a bisection wrapped the text at five)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pygame
import pytest

from kiosk.fonts import find_cjk_font
from screens import theme as th
from screens import widgets as w
from screens.display import Display
from screens.status_query import show
from tests.unit.test_screens import CASES, SIZE, view_of

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

VIEWS = [view_of(s, b, d) for s, b, d in CASES if s == "status_query.show" and d]


@pytest.fixture(scope="module", params=["zh", "en"])
def display(request: pytest.FixtureRequest) -> Iterator[Display]:
    d = Display(SIZE, font=find_cjk_font(), lang=request.param)
    yield d
    d.close()


def _canvas(display: Display, view, large: bool) -> w.Canvas:  # type: ignore[no-untyped-def]
    view = replace(view, large_text=large)
    theme = th.Theme(SIZE[0], SIZE[1], large)
    rects, body = show.layout(view, theme) if hasattr(show, "layout") else ({}, theme.content_rect(True))
    surface = pygame.Surface(SIZE)
    return w.Canvas(surface, theme, display.texts_for(view), display.text, view, body, rects)


@pytest.mark.parametrize("large", [False, True])
def test_the_scale_is_the_largest_that_fits_as_trying_every_scale_finds(display: Display, large: bool) -> None:
    exact = 0
    calls = []
    real = show._heights

    def counted(*args, **kw):  # type: ignore[no-untyped-def]
        nonlocal exact
        if len(args) < 5 and kw.get("measure") is None:
            exact += 1
        return real(*args, **kw)

    tried = 0
    for view in VIEWS:
        c = _canvas(display, view, large)
        notice = c.data.get("points_notice")
        qr = show._qr_side(c, str(notice)) if notice else 0
        items = show._items(c)
        full = real(c, items, qr, show.SCALES[0])
        for share in (1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.3):
            room = int(full * share)
            every = next((s for s in show.SCALES if real(c, items, qr, s) <= room), show.SCALES[-1])
            exact = 0
            show._heights = counted  # type: ignore[assignment]
            try:
                got = show._scale(c, items, qr, room)
            finally:
                show._heights = real  # type: ignore[assignment]
            assert got == every, (view.data.get("permit_state"), share, got, every)
            calls.append(exact)
            tried += 1
    assert tried >= 8
    # Found mostly with two wrappings (the scale that fits, the one above it that does not).
    assert sorted(calls)[len(calls) // 2] <= 3, calls
