"""A screen's layer: everything its view shows but the clock, a spinner, a pressed button and the
live picture, drawn once into a full-frame surface the Display keeps and blits (screens/display.py).

A body whose words do not fit is drawn on a taller page (screens/scroll.py) and the page is
composed into the layer at its scroll position: a frame of a scrolled screen costs what any other
frame costs (only what the last frame drew over the layer is restored), and scrolling composes
the page again once. The surfaces are reused (Surfaces): a fresh full-frame surface of several
megabytes costs more to allocate (its pages faulted in) than to draw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pygame

from kiosk.view import View
from screens import chrome, header, registry, scroll
from screens import theme as th
from screens import widgets as w
from screens.text import Texts

# A page surface is at most this many frames tall and reused; a taller page is its own surface.
SCRATCH_PAGES = 2
# Layers the display keeps (the screen, the one before it, the dimmed copy under the idle warning).
# Spare frames and page surfaces are kept up to one more than that (all of them, while the next
# layer is drawn and before the oldest goes), so that drawing never waits on a fresh allocation.
KEPT = 3


@dataclass
class Layer:
    surface: pygame.Surface
    rects: dict[str, pygame.Rect]
    body: pygame.Rect
    page: scroll.Page | None = None  # the body's words on a taller page (they did not fit)
    on_page: frozenset[str] = frozenset()  # buttons drawn on that page, scrolling with it
    offset: int | None = None  # how far the page composed into `surface` is scrolled (None: not yet)


def countdown_band(body: pygame.Rect, theme: th.Theme) -> pygame.Rect:
    """Where a screen that moves on by itself shows its seconds left: the bottom of its body."""
    height = theme.px(90)
    return pygame.Rect(body.left, body.bottom - height, body.width, height)


class Surfaces:
    """The display's reused surfaces: a spare full frame for the next layer, and page surfaces
    (the frame's width, up to SCRATCH_PAGES frames tall) that a scrolling body is drawn on and
    that the layer then keeps as its page (a subsurface: no copy)."""

    def __init__(self, size: tuple[int, int], like: pygame.Surface) -> None:
        self.size = size
        self._like = like  # the display's pixel format: no convert
        self.frames: list[pygame.Surface] = [self._new(size)]  # the first screen's, ready at boot
        self.pages: list[pygame.Surface] = []  # page surfaces no layer holds
        self._drawing: pygame.Surface | None = None  # the page surface of the build under way
        self._tallest = 0  # the tallest try asked for (up to SCRATCH_PAGES frames)

    def _new(self, size: tuple[int, int]) -> pygame.Surface:
        return pygame.Surface(size, 0, self._like)

    def frame(self) -> pygame.Surface:
        return self.frames.pop() if self.frames else self._new(self.size)

    def page(self, height: int) -> pygame.Surface:
        """A surface of the frame's width and `height` for scroll.paged to draw a try on: part of
        this build's page surface, which grows to the tallest try."""
        width, frame_height = self.size
        if height > SCRATCH_PAGES * frame_height:
            return self._new((width, height))
        if self._drawing is None or self._drawing.get_height() < height:
            # Each new page surface is as tall as the tallest try so far: after a few screens every
            # one holds any page, and one too short is dropped for good.
            self._tallest = max(self._tallest, height)
            self.pages = [p for p in self.pages if p.get_height() >= self._tallest]
            self._drawing = self.pages.pop() if self.pages else self._new((width, self._tallest))
        return self._drawing.subsurface(pygame.Rect(0, 0, width, height))

    def built(self, layer: Layer) -> None:
        """The build ended: its page surface is the layer's now, or back to the pool if unused."""
        drawing, self._drawing = self._drawing, None
        if drawing is not None and (layer.page is None or layer.page.surface.get_abs_parent() is not drawing):
            self._keep_page(drawing)

    def give_back(self, layer: Layer) -> None:
        """An evicted layer's surfaces, for the next layers to draw on."""
        if len(self.frames) <= KEPT:
            self.frames.append(layer.surface)
        if layer.page is not None:
            self._keep_page(layer.page.surface.get_abs_parent())

    def _keep_page(self, surface: pygame.Surface) -> None:
        # A fresh surface costs more to fault in than to draw: a rebuild that allocated a page
        # surface took 19-23 ms instead of 7.5, a full frame ~5 ms more.
        if surface.get_height() <= SCRATCH_PAGES * self.size[1] and len(self.pages) <= KEPT:
            self.pages.append(surface)

    @property
    def tallest(self) -> int:
        """The tallest page a try asked for so far (px, at most SCRATCH_PAGES frames)."""
        return self._tallest

    def reserve(self, page_height: int, pages: int = KEPT + 1) -> None:
        """Surfaces faulted in at boot rather than by the first frames that need them (a fresh one
        costs 5-12 ms): as many spare frames as layers are kept, and `pages` page surfaces
        `page_height` tall (at most SCRATCH_PAGES frames; by default one for each kept layer and one
        for the layer being drawn), what the display holds once a large-text session went through."""
        while len(self.frames) < KEPT:
            self.frames.append(self._new(self.size))
            self.frames[-1].fill(th.BACKGROUND)
        height = min(page_height, SCRATCH_PAGES * self.size[1])
        if height <= 0:
            return
        self._tallest = max(self._tallest, height)
        self.pages = [p for p in self.pages if p.get_height() >= self._tallest]
        while len(self.pages) < pages:
            self.pages.append(self._new((self.size[0], self._tallest)))
            self.pages[-1].fill(th.BACKGROUND)

    def kept(self) -> list[pygame.Surface]:
        """The spare surfaces (a session's pixels must not stay on them: wipe)."""
        return [*self.frames, *self.pages]

    def wipe(self) -> None:
        for surface in self.kept():
            surface.fill(th.BACKGROUND)

    def clear(self) -> None:
        self.frames.clear()
        self.pages.clear()
        self._drawing = None


def build(surfaces: Surfaces, view: View, spec: registry.Screen, theme: th.Theme, texts: Texts,
          text: w.TextRenderer, page_factor: dict[tuple[str, bool, str], int]) -> Layer:
    """The view drawn as a layer; a body that does not fit goes on a page, composed at the top.
    `page_factor`: how tall each screen's page was last time (scroll.paged starts from it)."""
    surf = surfaces.frame()
    surf.set_clip(None)
    surf.fill(th.BACKGROUND)
    header.site(text, view.site, theme, surf, texts)
    if spec.step is not None:
        header.progress(text, spec.step, registry.STEPS, theme, surf, texts)
    # The layer is shared with and without the idle warning: draw it as the bare screen.
    view = replace(view, overlay=None, help=None)
    rects, body = spec.layout(view, theme)
    if view.countdown is not None:  # the seconds left go in a band above the buttons
        body = pygame.Rect(body.left, body.top, body.width, body.height - countdown_band(body, theme).height)
    canvas = w.Canvas(surf, theme, texts, text, view, body, rects)
    on_page = frozenset(b.id for b in view.buttons if spec.on_page is not None and spec.on_page(b) and b.id in rects)
    seen = (view.screen, view.large_text, texts.lang)

    def page_it() -> scroll.Page | None:
        return scroll.paged(surf, theme, body, lambda s, b: scroll.draw_page(
            w.Canvas(s, theme, texts, text, view, b, rects), spec.draw, spec.paint_button, on_page),
            surfaces.page, page_factor.get(seen, 0))

    def audited() -> int:
        return len(w.AUDIT) if w.AUDIT is not None else 0

    def unaudit(start: int, stop: int) -> None:
        if w.AUDIT is not None:  # only the drawing kept is in the overflow test's audit
            del w.AUDIT[start:stop]

    # A screen whose body scrolled last time is drawn on its page first. When even the page one
    # step shorter than the one that holds it is as tall as the body, the body cannot hold it
    # either: the first drawing is then only of what stands above the body (its title), clipped
    # there; half a scrolling screen's entry frame was that drawing, in vain. Otherwise the first
    # drawing decides as for any screen.
    mark = audited()
    early = page_it() if seen in page_factor else None
    on_the_page = dict(rects)  # where the page's drawing put what a screen places as it draws (its picture)
    sure = early is not None and early.factor > 0 and int(
        early.window.height * scroll.TALL[early.factor - 1]) >= body.height
    if sure:
        surf.set_clip(pygame.Rect(0, 0, surf.get_width(), body.top))
    first = audited()
    w.WATCH, w.DEFER = [], []
    try:
        spec.draw(canvas)
        lines, deferred = w.WATCH, w.DEFER
    finally:
        w.WATCH, w.DEFER = None, None
        surf.set_clip(None)
    page = early if sure or (early is not None and scroll.overflows(lines, body)) else None
    if page is not None and page is early:
        rects.clear()
        rects.update(on_the_page)
    if page is None and early is not None:
        unaudit(mark, first)
        surfaces.built(Layer(surf, {}, body))  # the page surface back to the pool
    elif page is None and scroll.overflows(lines, body):
        drawn = audited()
        page = page_it()
        if page is not None:
            unaudit(first, drawn)
    elif page is not None:
        unaudit(first, audited())
    if page is not None:
        # The first drawing goes (with whatever of it ran below the body); the page shows through
        # its window, the footer's buttons are painted next. Of the first drawing's text only what
        # stands above the body is drawn.
        w.replay(d for d in deferred if d.line[3][1] < body.top)
        if not sure:
            surf.fill(th.BACKGROUND, pygame.Rect(0, body.top, surf.get_width(), surf.get_height() - body.top))
    if page is not None:
        page_factor[seen] = page.factor
    on_page = on_page if page is not None else frozenset()
    if page is None:  # the body fits (or no page holds it): the first drawing stays
        w.replay(deferred)
    for button in view.buttons:
        if button.id in rects and button.id not in on_page:
            # A button's words stay inside the button (its own canvas, for the overflow test).
            spec.paint_button(replace(canvas, body=rects[button.id].copy()), button, rects[button.id], False)
    chrome_rects = chrome.layout(view.chrome, theme)
    for button in view.chrome:
        chrome.paint(canvas, button, chrome_rects[button.id], False)
    layer = Layer(surf, {**rects, **chrome_rects}, body, page, on_page)
    surfaces.built(layer)
    if page is not None:
        compose(layer, canvas, 0)
    return layer


def compose(layer: Layer, canvas: w.Canvas, offset: int) -> None:
    """The page scrolled by `offset` into the layer, with its scroll buttons (`canvas`: on the
    layer's surface, any body)."""
    assert layer.page is not None
    scroll.show(layer.surface, layer.page, offset)
    scroll.paint_buttons(replace(canvas, surface=layer.surface), layer.page, offset)
    layer.offset = offset


def dim(surfaces: Surfaces, layer: Layer, view: View, theme: th.Theme, text: w.TextRenderer) -> Layer:
    """The layer as it shows now (its page where it is scrolled, the clock), dimmed: the picture
    under the idle warning and the help panel."""
    surf = surfaces.frame()
    surf.blit(layer.surface, (0, 0))
    header.clock(text, view.clock_text, theme, surf)
    surf.fill(th.DIM, special_flags=pygame.BLEND_RGB_MULT)
    return Layer(surf, {}, layer.body)
