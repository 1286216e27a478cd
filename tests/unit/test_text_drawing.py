"""How the screens' text is drawn cheaply (issue 16): the one-line shrink finds the size stepping
down does, a scrolling body's text is rasterised once (on the page kept, not on the first drawing
nor on a page too short), and a cleared renderer starts as cold as after boot."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pygame
import pytest

from kiosk.fonts import FontFile, find_cjk_font
from screens import widgets
from screens.display import Display
from screens.lru import Lru
from screens.textrender import TextRenderer
from tests.unit.test_screens import CASES, SIZE, view_of

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


@pytest.fixture(scope="module")
def font() -> FontFile:
    return find_cjk_font()


@pytest.fixture(scope="module")
def display(font: FontFile) -> Iterator[Display]:
    d = Display(SIZE, font=font, lang="en")
    yield d
    d.close()


def _stepped(text: TextRenderer, s: str, size: int, floor: int, room: int, strong: bool) -> int:
    """The loop the screens had: one size down at a time while too wide and above the floor."""
    while text.width(s, size, strong) > room and size > floor:
        size -= 2
    return size


def test_shrink_gives_the_size_stepping_down_gives(display: Display) -> None:
    text = display.text
    samples = [*sorted(display.texts.table.values())[:120:3], *sorted(display._texts["zh"].table.values())[:120:3],
               "长宁区虹桥街道党建之家", "Changning District Hongqiao Subdistrict Community Service Centre", "x", ""]
    tried = 0
    for s in samples:
        for size in (40, 57, 84, 99):
            for floor, room in ((24, 300), (36, 640), (38, 1000)):
                for strong in (False, True):
                    assert text.shrink(s, size, floor, room, strong) == _stepped(text, s, size, floor, room, strong), \
                        (s, size, floor, room, strong)
                    tried += 1
    assert tried > 1000


def _cases(screen: str) -> list[tuple[str, object, dict[str, object]]]:
    return [case for case in CASES if case[0] == screen]


@pytest.mark.parametrize("screen", ["status_query.show", "diagnostics.board", "new_permit.notice"])
def test_a_scrolling_body_draws_each_line_once(display: Display, screen: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """In large text these bodies scroll: every line drawn is one the frame keeps (the overflow
    audit lists exactly the kept lines), none of the first drawing or of a page that was too short."""
    drawn: list[str] = []
    draw = TextRenderer.draw

    def counting(self: TextRenderer, surface: pygame.Surface, text: str, *args: object, **kw: object) -> None:
        drawn.append(text)
        draw(self, surface, text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(TextRenderer, "draw", counting)
    monkeypatch.setattr(widgets, "AUDIT", [])
    name, buttons, data = _cases(screen)[0]
    display._layers.clear()
    display.text.clear()
    display.render(replace(view_of(name, buttons, data), large_text=True))  # type: ignore[arg-type]
    assert display._layer is not None and display._layer.page is not None, f"{screen} no longer scrolls"
    kept = sorted(d.text for d in widgets.AUDIT if d.text.strip() and not d.cut)
    assert sorted(t for t in drawn if t.strip()) == kept


def test_a_screen_that_fits_draws_its_text(display: Display) -> None:
    """The deferred lines of a body that fits are drawn (the layer is not left without its words)."""
    name, buttons, data = _cases("ready.menu")[0]
    view = view_of(name, buttons, data)  # type: ignore[arg-type]
    display._layers.clear()
    display.render(view)
    layer = display._layer
    assert layer is not None and layer.page is None
    body = layer.surface.subsurface(layer.body)
    colours = {tuple(body.get_at((x, y)))[:3] for x in range(0, body.get_width(), 7)
               for y in range(0, min(body.get_height(), 400), 5)}
    assert len(colours) > 8  # text's anti-aliased edges, not a blank body


def test_clearing_the_renderer_reopens_the_font(display: Display) -> None:
    """clear() is the state right after boot: the font's own glyph cache goes with the lines."""
    before = display.text.font
    display.text.clear()
    assert display.text.font is not before
    assert display.text.font.origin and not display.text.font.pad


def test_clearing_an_lru_evicts_every_value() -> None:
    seen: list[int] = []
    lru: Lru[str, int] = Lru(3, on_evict=seen.append)
    for i, key in enumerate("abc"):
        lru.get(key, lambda i=i: i)
    lru.clear()
    assert sorted(seen) == [0, 1, 2] and len(lru) == 0 and lru.weight == 0


@pytest.mark.parametrize("static", [False, True])
def test_text_drawn_straight_onto_a_surface_keeps_inside_its_clip(font: FontFile, static: bool) -> None:
    """freetype's render_to ignores a surface's clip: a scrolled page's typed number was drawn over
    the scroll buttons below its window (registration.phone, large English, the gallery)."""
    pygame.init()
    text = TextRenderer(font)
    if static:
        text.static = frozenset({"1380013"})
    surface = pygame.Surface((400, 200))
    surface.fill((255, 255, 255))
    surface.set_clip(pygame.Rect(0, 0, 400, 60))
    text.draw(surface, "1380013", 60, (0, 0, 0), (10, 80))  # a baseline at 80: most of it below
    pixels = pygame.surfarray.array3d(surface)
    assert (pixels[:, 60:, :] == 255).all(), "ink below the clip"
    assert (pixels[:, :60, :] < 128).any(), "nothing drawn inside the clip"
