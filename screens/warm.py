"""The translations laid out at boot, so that no screen's first frame pays for it.

A screen drawn for the first time after boot spent most of its frame loading glyphs: freetype
rasterises each character at each size the first time it is measured (about 19 µs a glyph,
against 0.25 µs once cached), and a Chinese screen has a few hundred of them. The first frames of
the busiest screens took 20-38 ms against a budget of 16.

So the kiosk lays out, at boot, every translation the screens wrap or measure, at the sizes and
widths they use: the wraps and widths are kept (screens/textrender.py keeps a translation's apart
from a session's) and the glyphs are then in freetype's cache. Which texts, sizes and widths that
is comes from `WARM_FILE`, written by `python -m sim.warm_text` from every screen drawn in both
languages and both text sizes. It names translations only (no resident's data: `warm` lays out
nothing that is not a translation or a line of one, whatever the file says).

A stale file (a translation or a layout changed since) only leaves some first frames cold: the
frame benchmark (sim/bench_frames.py) counts what was laid out after the warm-up, and
`python -m sim.warm_text --check` says whether the file is current.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WARM_FILE = Path(__file__).resolve().parent / "warm_text.json"
FORMAT = 1
MAX_SIZE = 512  # px: far above any text size of the themes; a file asking more is not laid out


class WarmFileError(ValueError):
    """The warm-up file is unreadable or not in the expected shape."""


@dataclass(frozen=True)
class Plan:
    wraps: tuple[tuple[str, int, int, bool], ...]  # text, size, max width, bold
    widths: tuple[tuple[str, int, bool], ...]  # text, size, bold
    # screen, large text, language, how tall its page was (an index in screens/scroll.TALL): a
    # scrolling screen's first frame draws its body once or twice, not once per page height tried
    pages: tuple[tuple[str, bool, str, int], ...] = ()
    page_height: int = 0  # px: the tallest page the screens drew on, its surfaces reserved at boot


@dataclass(frozen=True)
class Warmed:
    wraps: int  # laid out
    widths: int  # measured
    skipped: int  # entries naming no translation (a stale or tampered file): not laid out
    seconds: float  # the main thread's CPU time it took


def record(display: Any) -> Plan:
    """What `display` (a screens.display.Display) holds of the translations' layout now, sorted so
    that the file is stable."""
    wraps, widths = display.text.laid_out()
    pages = tuple(sorted((*key, factor) for key, factor in display.page_factor.items()))
    return Plan(tuple(sorted(wraps)), tuple(sorted(widths)), pages, display.surfaces.tallest)


def to_json(plan: Plan) -> str:
    """One entry a line, so that a change of translation or layout reads as a short diff."""
    def rows(entries: tuple[tuple[Any, ...], ...]) -> str:
        return ",\n".join(json.dumps(list(e), ensure_ascii=False) for e in entries)

    return (f'{{"format": {FORMAT}, "page_height": {plan.page_height},\n"wraps": [\n{rows(plan.wraps)}\n],\n'
            f'"widths": [\n{rows(plan.widths)}\n],\n"pages": [\n{rows(plan.pages)}\n]}}\n')


def _entry(raw: Any, kinds: tuple[type, ...]) -> tuple[Any, ...]:
    if not isinstance(raw, list) or len(raw) != len(kinds):
        raise WarmFileError(f"an entry is not a list of {len(kinds)} values: {str(raw)[:40]!r}")
    for value, kind in zip(raw, kinds, strict=True):
        # bool is an int in Python: a size of true is no size
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise WarmFileError(f"an entry has a {type(value).__name__} where a {kind.__name__} goes")
    return tuple(raw)


def load(path: Path | None = None) -> Plan:
    """The warm-up file at `path` (default `WARM_FILE`)."""
    path = path or WARM_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WarmFileError(f"{path.name}: {e}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise WarmFileError(f"{path.name}: not a warm-up file of format {FORMAT}")
    wraps, widths, pages = body.get("wraps"), body.get("widths"), body.get("pages", [])
    page_height = body.get("page_height", 0)
    if not isinstance(page_height, int) or isinstance(page_height, bool):
        raise WarmFileError(f"{path.name}: page_height must be a number of pixels")
    if not isinstance(wraps, list) or not isinstance(widths, list) or not isinstance(pages, list):
        raise WarmFileError(f"{path.name}: wraps, widths and pages must be lists")
    return Plan(tuple(_entry(e, (str, int, int, bool)) for e in wraps),
                tuple(_entry(e, (str, int, bool)) for e in widths),
                tuple(_entry(e, (str, bool, str, int)) for e in pages), page_height)


def warm(display: Any, plan: Plan, sites: tuple[str, ...] = ()) -> Warmed:
    """Lay out `plan` in `display` (a screens.display.Display): its translations' wraps first
    (which makes their lines known as a translation's), then the widths and the pages' heights.
    `sites`: the terminal's names (Chinese, English), which every header shows: kept like a
    translation, and fitted to the header in both text sizes (they are the terminal's, in no file)."""
    from screens import header, scroll
    from screens import theme as th

    start = time.thread_time()
    text = display.text
    text.keep({*sites, header.CLOCK_WIDEST})
    for large in (False, True):
        for name in sites:
            if name:
                header.fit(text, name, th.Theme(display.size[0], display.size[1], large))
    skipped = wraps = widths = 0
    for t, size, max_width, strong in plan.wraps:
        if t not in text.static or not 0 < size <= MAX_SIZE or max_width <= 0:
            skipped += 1
            continue
        text.wrap(t, size, max_width, strong)
        wraps += 1
    for t, size, strong in plan.widths:
        if not text.is_static(t) or not 0 < size <= MAX_SIZE:
            skipped += 1
            continue
        text.width(t, size, strong)
        widths += 1
    for screen, large, lang, factor in plan.pages:
        if not 0 <= factor < len(scroll.TALL):
            skipped += 1
            continue
        display.page_factor[(screen, large, lang)] = factor
    display.surfaces.reserve(plan.page_height)  # clamped to what the display keeps
    return Warmed(wraps, widths, skipped, time.thread_time() - start)
