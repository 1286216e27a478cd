"""The window: draws a View, turns touches into intents.

Cost model (frame p99 ≤ 8 ms at 1080×1920): everything a view shows except the clock, the
spinner and a pressed button is drawn once into a full-size layer, kept in a small LRU keyed
by the view's screen, buttons and data; an ordinary frame is one opaque blit of that layer
plus a few small blits. The idle warning's dimmed background is its own cached layer, so the
dimming is paid once and not every frame.

Touches: SDL turns touchscreen contacts into left-button mouse events by default, so the
mouse events are the one input path (a finger, a click, and the scenario runner's posted
events all look the same). A tap is a press and a release on the same enabled button of the
same screen; sliding off the button before lifting cancels it, as on a phone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator
from dataclasses import replace
from typing import Any, Protocol

import pygame
import pygame.freetype

from kiosk.fonts import FontFile
from kiosk.intents import Intent, Quit, Tap
from kiosk.view import Button, OverlayKind, View
from screens import chrome, closing, header, help_overlay, registry, scroll, timeout_warning
from screens import layer as ly
from screens import theme as th
from screens import widgets as w
from screens.lru import freeze
from screens.text import LANGUAGES, Texts, load_table


class PreviewSource(Protocol):
    """The camera's live preview (devices/camera_preview.PreviewChannel), wired in by the
    composition root: frames mirrored and scaled off the main thread, pulled here to blit."""

    def want(self, size: tuple[int, int], layout: str = "RGBX") -> None: ...
    def latest(self) -> Any: ...  # a PreviewImage (seq, size, layout, pixels) or None
    def clear(self) -> None: ...


class Display:
    def __init__(
        self,
        size: tuple[int, int] = (1080, 1920),
        *,
        fullscreen: bool = False,
        font: FontFile,
        lang: str = "zh",
        show_cursor: bool = True,
        surface: pygame.Surface | None = None,
        present: Callable[[], None] | None = None,
        voice: Any = None,
    ) -> None:
        """`surface`, `present`: draw into this surface and show it with this instead of a window of
        its own (the simulator's developer panel puts the kiosk's frames, scaled, in its window)."""
        self.texts = Texts(lang)  # first: a wrong language fails before a window opens
        self.voice = voice  # screens.voice.Voice: the prompt of each new screen, spoken
        self.lang = lang
        # The resident may switch language on any screen (View.lang): one table per language.
        self._texts = {other: self.texts if other == lang else Texts(other) for other in LANGUAGES}
        pygame.display.init()
        pygame.freetype.init(cache_size=w.GLYPH_CACHE)  # (no effect when freetype is already up)
        flags = pygame.FULLSCREEN if fullscreen else 0
        self.screen = surface if surface is not None else pygame.display.set_mode(size, flags)
        self._flip = present or pygame.display.flip
        if surface is None:
            pygame.display.set_caption(self.texts.get("app.title"))
        pygame.mouse.set_visible(show_cursor)
        self.size = self.screen.get_size()
        self.text = w.TextRenderer(font)
        self.text.static = frozenset(v for lang in LANGUAGES for v in load_table(lang).values())
        self._themes = {large: th.Theme(self.size[0], self.size[1], large) for large in (False, True)}
        # Each layer is a full frame (8 MB at 1080×1920): keep the current screen, the one
        # before (back and forth) and the dimmed copy under the idle warning.
        # An evicted layer's surfaces are reused (screens/layer.Surfaces; reserved at boot: screens/warm.py).
        self.surfaces = ly.Surfaces(self.size, self.screen)
        self._layers: w.Lru[Hashable, ly.Layer] = w.Lru(ly.KEPT, on_evict=self.surfaces.give_back)
        # How tall each screen's page was last time (an index in scroll.TALL; no resident's data).
        self.page_factor: dict[tuple[str, bool, str], int] = {}  # screens/warm.py fills it at boot
        self._panels: w.Lru[Hashable, timeout_warning.Panel] = w.Lru(3)
        self._active: dict[str, tuple[Button, pygame.Rect]] = {}
        self._screen_id: str | None = None
        self._press: str | None = None
        self._press_screen: str | None = None
        self._press_inside = False
        self._last_view: View | None = None
        self._last_key: Hashable = None
        self._layer: ly.Layer | None = None
        # The layer the glass shows now and what was drawn over it since (screens/display.render).
        self._shown: ly.Layer | None = None
        self._dirty: list[pygame.Rect] = []
        self._offset = 0  # how far the current screen's page is scrolled (screens/scroll.py)
        self._offset_key: Hashable = None
        self.frames = 0
        self._preview: PreviewSource | None = None
        self._preview_live = False  # the last frame drawn showed the live preview
        self._preview_seq: int | None = None  # the preview frame on the glass now
        self._preview_surface: pygame.Surface | None = None
        # The sound cue hook: called with a screen's `cue` (View data) when it first shows.
        self.on_cue: Callable[[str], None] | None = None
        self._cue: Any = None

    def attach_preview(self, source: PreviewSource | None) -> None:
        self._preview = source

    def needs_frame(self) -> bool:
        """A newer live preview frame is ready than the one drawn: the main loop redraws although
        the view did not change."""
        if self._preview is None or not self._preview_live:
            return False
        img = self._preview.latest()
        return img is not None and img.seq != self._preview_seq

    # --- drawing ----------------------------------------------------------------

    def texts_for(self, view: View) -> Texts:
        return self._texts.get(view.lang or self.lang, self.texts)

    def render(self, view: View) -> None:
        spec = registry.lookup(view.screen)
        theme = self._themes[view.large_text]
        texts = self.texts_for(view)
        if self._press is not None and view.screen_id != self._press_screen:
            self._press = None
        self._screen_id = view.screen_id
        self._last_view = view
        cue = view.data.get("cue")
        if cue and cue != self._cue and self.on_cue is not None:
            self.on_cue(str(cue))  # once per screen that asks for it (the retract warning's sound)
        self._cue = cue
        data = {k: v for k, v in view.data.items() if k not in spec.dynamic} if spec.dynamic else view.data
        key = (view.screen, view.buttons, freeze(data), view.large_text, view.site, view.chrome, texts.lang)
        self._last_key = key
        layer = self._layers.get(key, lambda: ly.build(self.surfaces, view, spec, theme, texts, self.text,
                                                       self.page_factor))
        self._layer = layer
        if key != self._offset_key:
            self._offset_key, self._offset = key, 0
        if layer.page is not None:
            self._offset = max(0, min(self._offset, layer.page.max_offset()))
            if layer.offset != self._offset:  # scrolled (or back on a screen left scrolled): composed anew
                ly.compose(layer, w.Canvas(layer.surface, theme, texts, self.text, view, layer.body, layer.rects),
                           self._offset)
                self._shown = None

        if view.overlay is None and view.help is None:
            # The layer already on the glass (a tick, a digit, a preview frame, the clock): only what
            # the last frame drew over it is restored, not the whole 8 MB frame.
            if self._shown is layer:
                for area in self._dirty:
                    self.screen.blit(layer.surface, area, area)
            else:
                self.screen.blit(layer.surface, (0, 0))
            dirty: list[pygame.Rect | None] = [header.clock(self.text, view.clock_text, theme, self.screen)]
            canvas = w.Canvas(self.screen, theme, texts, self.text, view, layer.body, layer.rects)
            buttons, rects, painter = view.buttons + view.chrome, layer.rects, spec.paint_button
            if layer.page is not None:
                page = layer.page
                # First in the hit order: the scroll buttons lie over a screen-wide button (attract's start).
                buttons, rects = scroll.buttons(page, self._offset) + buttons, {**rects, **page.rects}
                rects = {k: r for k, r in rects.items() if k not in layer.on_page}
                rects.update(scroll.shifted(page, self._offset, {k: layer.rects[k] for k in layer.on_page}))
                # An animation (a spinner) moves with the page and stays inside its window.
                canvas = replace(canvas, body=pygame.Rect(layer.body.left, layer.body.top - self._offset,
                                                          layer.body.width, page.tall))
                self.screen.set_clip(page.window)
            # over the page, when the body scrolls: the live picture moves with it, inside its window
            dirty.append(self._draw_preview(view, layer.rects, -self._offset if layer.page is not None else 0))
            if spec.animate is not None:
                # Clipped to where the screen says it animates, so that a restore of that is whole
                # (on a page: where that is now, inside the window).
                area = spec.animated(canvas) if spec.animated is not None else canvas.body.copy()
                if layer.page is not None:
                    area = area.clip(layer.page.window)
                self.screen.set_clip(area)
                dirty.append(area)
                spec.animate(canvas)
            self.screen.set_clip(None)
            if view.countdown is not None:
                # the band below the body (the layer's body stops above it: screens/display._build)
                band = ly.countdown_band(layer.body, theme)
                band = band.move(0, band.height)
                self.screen.set_clip(band)
                closing.countdown(canvas, band, view.countdown, getattr(spec.module, "COUNTDOWN", "countdown.left"),
                                  loud=getattr(spec.module, "COUNTDOWN_LOUD", False))
                self.screen.set_clip(None)
                dirty.append(band)
        elif view.overlay is not None:
            dirty = []
            if self._preview_live:  # under the idle warning the picture is the dimmed layer's silhouette
                self._drop_preview()
            dim = self._layers.get(("dim", key, view.clock_text),
                                   lambda: ly.dim(self.surfaces, layer, view, theme, self.text))
            self.screen.blit(dim.surface, (0, 0))
            overlay = view.overlay
            panel = self._panels.get(
                (overlay.kind, overlay.buttons, view.large_text, texts.lang),
                lambda: timeout_warning.build(overlay.buttons, theme, texts, self.text, view),
            )
            self.screen.blit(panel.surface, panel.rect)
            canvas = w.Canvas(self.screen, theme, texts, self.text, view, panel.rect, panel.rects)
            if overlay.kind is OverlayKind.IDLE:
                timeout_warning.draw_countdown(canvas, panel, overlay.seconds_left)
            buttons, rects, painter = overlay.buttons, panel.rects, w.paint_button
        else:
            assert view.help is not None
            dirty = []
            dim = self._layers.get(("dim", key, view.clock_text),
                                   lambda: ly.dim(self.surfaces, layer, view, theme, self.text))
            self.screen.blit(dim.surface, (0, 0))
            help_view = view.help
            panel = self._panels.get(
                ("help", help_view, view.large_text, texts.lang),
                lambda: help_overlay.build(help_view, theme, texts, self.text, view),
            )
            self.screen.blit(panel.surface, panel.rect)
            canvas = w.Canvas(self.screen, theme, texts, self.text, view, panel.rect, panel.rects)
            buttons, rects, painter = help_view.buttons, panel.rects, w.paint_button

        self._active = {b.id: (b, rects[b.id]) for b in buttons if b.id in rects}
        if self._press is not None and self._press_inside and self._press in self._active:
            button, rect = self._active[self._press]
            if button in view.chrome and view.overlay is None and view.help is None:
                painter = chrome.paint
            on_page = button.id in layer.on_page and view.overlay is None and view.help is None
            if button.enabled and on_page and layer.page is not None:
                self.screen.set_clip(layer.page.window)  # it lies on the scrolled page, maybe partly seen
                full = layer.rects[button.id].move(0, -self._offset)
                painter(replace(canvas, body=full.copy()), button, full, True)
                self.screen.set_clip(None)
                dirty.append(full.clip(layer.page.window))
            elif button.enabled:
                self.screen.set_clip(rect)
                painter(canvas, button, rect, True)
                self.screen.set_clip(None)
                dirty.append(rect.copy())
        # The next frame may restore only these from the layer: a frame of this layer without an
        # overlay or help (those are drawn whole each time).
        on_glass = view.overlay is None and view.help is None
        self._shown = layer if on_glass else None
        self._dirty = [area for area in dirty if area is not None and area.width > 0 and area.height > 0]
        if self.voice is not None:
            self.voice.follow(view)
        self.frames += 1

    def _draw_preview(self, view: View, rects: dict[str, pygame.Rect], dy: int = 0) -> pygame.Rect | None:
        """The newest live frame, already mirrored, scaled and packed by the preview's thread:
        wrapped without a copy and blitted, nothing more on this thread; `dy`: the page's scroll.
        Where it went (None: nothing drawn)."""
        rect = rects.get("preview")
        live = self._preview is not None and rect is not None and bool(view.data.get("preview"))
        if not live:
            if self._preview_live:
                self._drop_preview()
            return None
        assert self._preview is not None and rect is not None
        self._preview_live = True
        self._preview.want(rect.size, "RGBX")
        img = self._preview.latest()
        if img is None or tuple(img.size) != rect.size:
            return None  # the layer's silhouette shows until a frame of this size is ready
        if img.seq != self._preview_seq or self._preview_surface is None:
            self._preview_surface = pygame.image.frombuffer(img.pixels, img.size, img.layout)
            self._preview_seq = img.seq
        return self.screen.blit(self._preview_surface, rect.move(0, dy))

    def _drop_preview(self) -> None:
        self._preview_live = False
        self._preview_seq = None
        self._preview_surface = None

    def present(self) -> None:
        self._flip()

    def screenshot(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        pygame.image.save(self.screen, path)

    def forget_session(self) -> None:
        """The session ended (SH-PRIV-1): every cached picture of its screens and every rendered
        line that is not a translation goes. Called after the first frame after the session, so
        the layer on the glass now (attract, recovery) holds none of it and is kept."""
        current = self._last_key
        gone = [layer for key, layer in self._layers.entries() if key != current]
        self._layers.discard(lambda key: key == current)
        for layer in gone:  # their surfaces, wiped below, are the next session's to draw on
            self.surfaces.give_back(layer)
        self._shown = None
        if self._layer is not None and self._last_key != current:
            self._layer = None
        # A reused surface must not carry a resident's pixels either: the spare frame and page
        # are wiped (kept: allocating them again would cost the next session's first frames).
        self.surfaces.wipe()
        self._panels.clear()
        self.text.forget_session()
        self._drop_preview()  # the last live frame is the resident's picture
        if self._preview is not None:
            self._preview.clear()

    def cached_texts(self) -> set[str]:
        """The texts whose rendering the display keeps (tests check what outlives a session)."""
        return self.text.cached_texts()

    def close(self) -> None:
        self._last_view = None
        self._drop_preview()
        self._layer = None
        self._shown = None
        self._layers.clear()
        self.surfaces.clear()
        self._panels.clear()
        self.text.clear()
        pygame.display.quit()

    # --- touches ----------------------------------------------------------------

    def _scroll(self, direction: int) -> None:
        """The page moves by most of a window; the screen redraws at once (no view change)."""
        layer = self._layer
        if layer is None or layer.page is None or self._last_view is None:
            return
        self._offset = max(0, min(self._offset + direction * layer.page.step(), layer.page.max_offset()))
        self.render(self._last_view)
        self.present()

    def pages(self) -> Iterator[pygame.Surface]:
        """The glass, then for a body that scrolls the glass at each further page as a resident scrolling
        down sees it (one surface redrawn: read each before the next); back at the top at the end."""
        yield self.screen
        layer, view = self._layer, self._last_view
        if layer is None or layer.page is None or view is None:
            return
        start = self._offset
        try:
            while self._offset < layer.page.max_offset():
                self._offset = min(self._offset + layer.page.step(), layer.page.max_offset())
                self.render(view)
                yield self.screen
        finally:
            self._offset = start
            self.render(view)

    def scrolled(self) -> int:
        """How far the current screen's page is scrolled (0: the top, or no page)."""
        return self._offset

    def reveal(self, button_id: str) -> None:
        """Scroll the page with its up and down buttons, as a finger would, until a button that lies on it (a long
        list of answers in large text) is whole in the window; nothing for any other button."""
        layer = self._layer
        if layer is None or layer.page is None or button_id not in layer.on_page:
            return
        whole = layer.rects[button_id]
        for _ in range(20):  # a page is at most 4 windows, a step most of one
            shown = self.button_rect(button_id)
            if shown is not None and shown.height == whole.height:
                return
            way = scroll.UP.id if whole.top - self._offset < layer.page.window.top else scroll.DOWN.id
            at = self.button_rect(way)
            if at is None or not self._active[way][0].enabled:
                return
            self.handle_events([pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=at.center, button=1),
                                pygame.event.Event(pygame.MOUSEBUTTONUP, pos=at.center, button=1)])

    def button_rect(self, button_id: str) -> pygame.Rect | None:
        """Where the last rendered frame drew an active button (the overlay's, when shown)."""
        found = self._active.get(button_id)
        return found[1].copy() if found else None

    def _hit(self, pos: tuple[int, int]) -> str | None:
        for button, rect in self._active.values():
            if button.enabled and rect.collidepoint(pos):
                return button.id
        return None

    def _pressed_look(self) -> str | None:
        return self._press if self._press_inside else None

    def poll(self) -> list[Intent]:
        return self.handle_events(pygame.event.get())

    def handle_events(self, events: list[pygame.event.Event]) -> list[Intent]:
        """Touches in the display's own coordinates (poll passes the window's events)."""
        intents: list[Intent] = []
        look = self._pressed_look()
        for event in events:
            if event.type == pygame.QUIT:
                intents.append(Quit())
            elif event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "button", 1) == 1:
                self._press = self._hit(event.pos)
                self._press_screen = self._screen_id
                self._press_inside = self._press is not None
            elif event.type == pygame.MOUSEMOTION and self._press is not None:
                self._press_inside = self._hit(event.pos) == self._press
            elif event.type == pygame.MOUSEBUTTONUP and getattr(event, "button", 1) == 1:
                pressed, self._press = self._press, None
                if pressed is not None and self._press_screen == self._screen_id and self._hit(event.pos) == pressed:
                    if pressed in (scroll.UP.id, scroll.DOWN.id):
                        self._scroll(1 if pressed == scroll.DOWN.id else -1)
                    else:
                        intents.append(Tap(pressed))
        # The main loop redraws only when the view changes, and a press does not change it:
        # redraw here so the finger sees the button go down at once.
        if self._pressed_look() != look and self._last_view is not None:
            self.render(self._last_view)
            self.present()
        return intents
