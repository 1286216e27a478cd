"""Screen `status_query.show`: where the resident stands, in plain words, and what to do next.

Data (kiosk/flows/status_query_views.py; a null value is not drawn):
`registered`, `reg_address`, `reg_declared`, `reg_valid_through`, `reg_expired`, `permit_possible_on`;
`app_stage` (approved | issued | voided | refused), `app_decided_on`, `app_reason`, `app_available_on`;
`permit_number`, `permit_status` (active | cancelled), `permit_valid_until`, `card_valid_until`,
`address_changed`; `endorsement` (passed | not_due | open | grace | lapsed | none),
`endorsement_opens`, `endorsement_closes`, `grace` (the pack has a grace period);
`points_state` (valid | suspended | void | none), `points_valid_until`, `points`, `points_notice`
(drawn as a QR code that carries the notice's number, SH-PTS-2); `offered` (the next service).
Buttons: `service.<offered>` when the kiosk offers it, `confirm` (done).
"""

from __future__ import annotations

from collections.abc import Callable

import pygame

from screens import qr
from screens import theme as th
from screens import widgets as w

KEY = "status_query.show"


def _date(c: w.Canvas, key: str) -> str:
    return c.texts.date(str(c.data.get(key)))


def _items(c: w.Canvas) -> list[tuple[str, str]]:
    """(role, text): role is h (a heading), p (a fact), q (a fact beside the QR code), or a banner
    kind (info / warning / error)."""
    d, k = c.data, KEY
    out: list[tuple[str, str]] = [("h", c.t(f"{k}.registration"))]
    if d.get("registered"):
        if d.get("reg_address"):
            out.append(("p", str(d["reg_address"])))
        out.append(("p", c.t(f"{k}.reg_dates", declared=_date(c, "reg_declared"),
                              through=_date(c, "reg_valid_through"))))
        if d.get("reg_expired"):
            out.append(("warning", c.t(f"{k}.reg_expired")))
        elif d.get("permit_possible_on"):
            out.append(("p", c.t(f"{k}.permit_possible_on", date=_date(c, "permit_possible_on"))))
    else:
        out.append(("warning", c.t(f"{k}.no_registration")))
    if d.get("app_stage"):
        out.append(("h", c.t(f"{k}.application")))
        stage = c.t(f"{k}.stage.{d['app_stage']}", date=_date(c, "app_decided_on"))
        reason = d.get("app_reason")
        if reason:
            stage += c.t(f"{k}.because", reason=c.t_opt(f"reason.{reason}.title") or str(reason))
        out.append(("p", stage))
    out.append(("h", c.t(f"{k}.permit")))
    if d.get("permit_number"):
        out.append(("p", c.t(f"{k}.permit_number", number=str(d["permit_number"]))))
        if d.get("permit_status") == "cancelled":
            out.append(("error", c.t(f"{k}.cancelled")))
        else:
            out.append(("p", c.t(f"{k}.valid_until", date=_date(c, "permit_valid_until"))))
            out.append(("p", c.t(f"{k}.card_shows", date=_date(c, "card_valid_until"))))
            out.extend(_endorsement(c))
    else:
        out.append(("p", c.t(f"{k}.no_permit")))
    out.append(("h", c.t(f"{k}.points")))
    out.extend(_points(c))
    offered = d.get("offered")
    if offered and offered != "card_rewrite":  # the rewrite's own advice is the endorsement's next step
        out.append(("info", c.t(f"{k}.offer.{offered}")))
    return out


def _endorsement(c: w.Canvas) -> list[tuple[str, str]]:
    d, k = c.data, KEY
    state = str(d.get("endorsement") or "none")
    if state == "none":
        return []
    opens, closes = _date(c, "endorsement_opens"), _date(c, "endorsement_closes")
    window = c.t(f"{k}.window", opens=opens,
                 until=_date(c, "card_valid_until" if state == "passed" else "permit_valid_until"))
    out: list[tuple[str, str]] = [("p", c.t(f"{k}.endorsement.{state}")), ("p", window)]
    if d.get("grace"):
        out.append(("p", c.t(f"{k}.grace_until", date=closes)))
    step = f"{k}.next.{state}"
    if state == "grace":
        out.append(("warning", c.t(step, date=closes)))
    elif state == "lapsed":
        out.append(("error", c.t(step)))
    elif state == "passed" and d.get("address_changed"):
        out.append(("warning", c.t(f"{k}.next.moved")))
    else:
        out.append(("info", c.t(step, date=opens)))
    return out


def _points(c: w.Canvas) -> list[tuple[str, str]]:
    d, k = c.data, KEY
    state = str(d.get("points_state") or "none")
    beside = "q" if d.get("points_notice") else "p"
    out: list[tuple[str, str]] = []
    if d.get("points") is not None:
        out.append((beside, c.t(f"{k}.points_value", points=d["points"])))
    elif state != "none":
        out.append((beside, c.t(f"{k}.points_unknown")))
    until = _date(c, "points_valid_until") if d.get("points_valid_until") else ""
    kind = {"suspended": "warning", "void": "error"}.get(state, beside)
    out.append((kind, c.t(f"{k}.points_state.{state}", date=until)))
    if d.get("points_notice"):
        out.append(("q", c.t(f"{k}.notice", number=str(d["points_notice"]))))
        caption = c.t(f"{k}.qr_caption")
        if caption:  # large text: the code speaks for itself
            out.append(("q", caption))
    return out


# The smallest type of the ordinary mode (theme.small at 1080 wide): large text never goes below it.
FLOOR = 38


def _sizes(c: w.Canvas, scale: float) -> dict[str, int]:
    t = c.theme
    floor = t.px(FLOOR)
    return {"h": max(floor, int(t.subtitle * scale)), "p": max(floor, int(t.body * scale))}


def _width(c: w.Canvas, role: str, qr: int) -> int:
    t = c.theme
    if role == "q":
        return c.body.width - t.px(20) - qr - t.gap
    return c.body.width - (t.px(20) if role in ("h", "p") else 2 * t.px(20))


Measure = Callable[[str, int, int, bool], int]  # (text, size, width, strong) -> its lines' height


def _heights(c: w.Canvas, items: list[tuple[str, str]], qr: int, scale: float, measure: Measure | None = None) -> int:
    sizes, t = _sizes(c, scale), c.theme
    measure = measure or c.lines_height
    total, beside = 0, 0
    for role, text in items:
        size = sizes["h"] if role == "h" else sizes["p"]
        h = measure(text, size, _width(c, role, qr), role not in ("p", "q")) + t.px(8)
        if role == "h":
            h += t.px(12)
        elif role not in ("p", "q"):
            h += 2 * t.px(12)
        if role == "q":
            beside += h
            continue
        if beside:
            total += max(beside, qr + t.px(8))
            beside = 0
        total += h
    return total + (max(beside, qr + t.px(8)) if beside else 0)


# The scales tried, largest first: 1.0 down by 0.05 to about 0.5 (summed as the old loop did,
# so that int(size * scale) rounds the same).
def _steps() -> tuple[float, ...]:
    out = [1.0]
    while len(out) < 11:
        out.append(out[-1] - 0.05)
    return tuple(out)


SCALES = _steps()


def _guess(c: w.Canvas) -> Measure:
    """A paragraph's lines' height without wrapping it at `size`: its width there taken as its
    width at the full body size (measured once a text) scaled, its lines as many as that fills
    of `width`. Measuring at a new size rasterizes its glyphs, which is what a wrap costs."""
    ref = _sizes(c, SCALES[0])["p"]
    widths: dict[tuple[str, bool], list[int]] = {}

    def height(text: str, size: int, width: int, strong: bool) -> int:
        each = widths.get((text, strong))
        if each is None:
            each = widths[(text, strong)] = [c.text.width(p, ref, strong) for p in text.split("\n")]
        room = ref * max(1, width)
        return sum(max(1, -(-wide * size // room)) for wide in each) * c.text.line_height(size)

    return height


def _scale(c: w.Canvas, items: list[tuple[str, str]], qr: int, room: int) -> float:
    """The largest scale whose items fit `room`, else the smallest. Each scale tried wraps the
    whole text at new sizes, whose glyphs a first frame rasterizes (16 ms of the screen's first
    frame went to the five scales a bisection tried): the search starts from the scale a guess
    without wrapping fits (itself found by bisection) and walks from there one scale at a time,
    so that the text is wrapped at two scales (the one that fits, the one above it that does not)."""
    def fits(i: int, measure: Measure | None = None) -> bool:
        return _heights(c, items, qr, SCALES[i], measure) <= room

    last = len(SCALES) - 1
    guess = _guess(c)
    over, k = -1, last  # the guess: too tall at SCALES[over] (none yet), fits at SCALES[k] (or the last)
    while k - over > 1:
        mid = (over + k) // 2
        if fits(mid, guess):
            k = mid
        else:
            over = mid
    if fits(k):
        while k > 0 and fits(k - 1):
            k -= 1
        return SCALES[k]
    while k < last:
        k += 1
        if fits(k):
            return SCALES[k]
    return SCALES[last]


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title(f"{KEY}.title", top=c.body.top - t.px(10))
    if not c.data:
        return
    notice = c.data.get("points_notice")
    qr = _qr_side(c, str(notice)) if notice else 0
    items = _items(c)
    room = c.body.bottom - y
    # Everything on one screen: smaller type rather than a fact cut off (never below `small`).
    scale = _scale(c, items, qr, room)
    sizes = _sizes(c, scale)
    left = c.body.left + t.px(20)
    beside_top: int | None = None
    for role, text in items:
        if role != "q" and beside_top is not None:
            y = max(y, beside_top + qr + t.px(8))
            beside_top = None
        rest = pygame.Rect(left, y, _width(c, role, qr), max(0, c.body.bottom - y))
        if role == "h":
            y = c.paragraph(text, rest.move(-t.px(20), t.px(12)), sizes["h"], th.ACCENT_DARK, strong=True) + t.px(8)
        elif role in ("p", "q"):
            if role == "q" and beside_top is None:
                beside_top = y
                _qr(c, str(notice), pygame.Rect(c.body.right - qr, y, qr, qr))
            y = c.paragraph(text, rest, sizes["p"], th.MUTED if text == c.t(f"{KEY}.qr_caption") else th.TEXT)
            y += t.px(8)
        else:
            y = _note(c, role, text, y, sizes["p"]) + t.px(8)


def _note(c: w.Canvas, kind: str, text: str, top: int, size: int) -> int:
    fg, bg = {"info": (th.ACCENT_DARK, th.ACCENT_LIGHT), "warning": (th.WARNING, th.WARNING_LIGHT),
              "error": (th.ERROR, th.ERROR_LIGHT)}[kind]
    t = c.theme
    pad = t.px(12)
    inner = c.body.width - 2 * t.px(20)
    box = pygame.Rect(c.body.left, top, c.body.width, c.lines_height(text, size, inner, True) + 2 * pad)
    pygame.draw.rect(c.surface, bg, box, border_radius=t.radius)
    pygame.draw.rect(c.surface, fg, box, width=t.px(3), border_radius=t.radius)
    c.paragraph(text, box.inflate(-2 * t.px(20), -2 * pad), size, fg, strong=True)
    return box.bottom


def _qr_side(c: w.Canvas, notice: str) -> int:
    n = qr.modules(c.text, notice)
    return n * max(4, c.theme.px(260) // n)


def _qr(c: w.Canvas, notice: str, box: pygame.Rect) -> None:
    """The code, black on white with its quiet zone."""
    pygame.draw.rect(c.surface, (255, 255, 255), box)
    c.surface.blit(qr.picture(c.text, notice, box.width // qr.modules(c.text, notice)), box.topleft)
