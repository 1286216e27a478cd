"""Screen `diagnostics.board`: the device board, supplies, latest self-tests and counters.

Data `rows` ([{device, state, media, model, serial, firmware, cause}]), `supplies` ([{name,
level, count, threshold}]), `tests` ([{device, test, outcome, message}], the latest of each),
`counters` ({sessions, cards_issued, ..., refusals: {reason: n}}), `notice`, `held_out`,
`card_id`, `role`. Each device's cause is put into words with what to do
(`diag.cause.<code>`, `diag.advice.<code>`). Buttons `diag.selftests`, `diag.refilled`,
`diag.bin_emptied`, `diag.counters_reset`, `diag.out_of_service` | `diag.in_service`,
`diag.export`, `diag.leave`, two to a row at the bottom.
"""

from __future__ import annotations

from typing import Any

import pygame

from kiosk.view import View
from screens import theme as th
from screens import widgets as w


def layout(view: View, theme: th.Theme) -> tuple[dict[str, pygame.Rect], pygame.Rect]:
    area = theme.content_rect(False)
    # The actions three to a row, the way out alone and widest at the bottom.
    actions = [b for b in view.buttons if b.id != "diag.leave"]
    leave = [b for b in view.buttons if b.id == "diag.leave"]
    rows = [actions[i:i + 3] for i in range(0, len(actions), 3)] + ([leave] if leave else [])
    rects, top = w.rows_from_bottom(rows, theme, area.bottom, area.left, area.width, theme.px(96))
    return rects, pygame.Rect(area.left, area.top, area.width, top - theme.gap - area.top)


def device_name(c: w.Canvas, device: str) -> str:
    return c.t_opt(f"device.{device}") or device


def _rows(data: Any) -> list[dict[str, Any]]:
    return [r for r in (data or []) if isinstance(r, dict)]


def draw(c: w.Canvas) -> None:
    # Nothing may run into the buttons: what does not fit is cut at the body's bottom.
    clip = c.surface.get_clip()
    c.surface.set_clip(c.body.clip(clip) if clip else c.body)
    try:
        _draw(c)
    finally:
        c.surface.set_clip(clip)


def _draw(c: w.Canvas) -> None:
    t = c.theme
    small, body = t.small, t.body
    lh_s, lh_b = c.text.line_height(small), c.text.line_height(body)
    left, indent = c.body.left, c.body.left + t.px(40)
    y = c.body.top
    c.line(c.t("diag.board.title", card=c.data.get("card_id", "")), t.subtitle, th.TEXT, left, y, strong=True)
    y += c.text.line_height(t.subtitle) + t.px(6)
    notice = c.data.get("notice")
    if notice:
        color = th.ERROR if notice in ("export_failed", "retract_failed") else th.SUCCESS
        c.line(c.t_opt(f"diag.notice.{notice}") or str(notice), body, color, left, y, strong=True)
        y += lh_b + t.px(6)
    tests: dict[str, list[dict[str, Any]]] = {}
    for x in _rows(c.data.get("tests")):
        tests.setdefault(str(x.get("device")), []).append(x)
    for r in _rows(c.data.get("rows")):
        device, cause = str(r.get("device")), str(r.get("cause", "ok"))
        mine = tests.get(device, [])
        failed = [x for x in mine if x.get("outcome") != "pass"]
        ok = cause == "ok" and not failed
        color = th.SUCCESS if ok else (th.DISABLED_TEXT if cause == "not_installed" else th.ERROR)
        pygame.draw.circle(c.surface, color, (left + t.px(14), y + lh_b // 2), t.px(12))
        parts = [device_name(c, device), c.t_opt(f"diag.state.{r.get('state')}") or str(r.get("state"))]
        media = str(r.get("media") or "none")
        if media != "none":
            parts.append(c.t("diag.media_at", media=c.t_opt(f"diag.media.{media}") or media))
        if mine:
            parts.append(c.t("diag.board.selftest", result=c.t("diag.fail") if failed else c.t("diag.pass")))
        y = c.paragraph(" · ".join(parts), pygame.Rect(indent, y, c.body.right - indent, lh_b * 2), body, th.TEXT,
                        strong=True)
        ident = "  ".join(str(x) for x in (r.get("model"), r.get("serial"), r.get("firmware")) if x)
        if ident:  # a long serial wraps rather than run off the screen
            y = c.paragraph(ident, pygame.Rect(indent, y, c.body.right - indent, lh_s * 3), small, th.MUTED)
        causes = [cause] if cause not in ("ok", "not_installed") else []
        causes += [str(x.get("message", "")).split(":", 1)[0] for x in failed]
        last = str(r.get("last_error") or "")
        if ok and last:  # working now: what went wrong last, and when
            code, _, at = last.partition("@")
            text = c.t("diag.board.last_error", cause=c.t_opt(f"diag.cause.{code}") or code, at=at.replace("T", " "))
            c.line(text, small, th.MUTED, indent, y)
            y += lh_s
        for code in dict.fromkeys(causes):
            text = (c.t_opt(f"diag.cause.{code}") or code) + " " + (c.t_opt(f"diag.advice.{code}") or "")
            y = c.paragraph(text, pygame.Rect(indent, y, c.body.right - indent, lh_s * 2), small, th.ERROR, fit=True)
        y += t.px(6)
    y += t.px(4)
    c.line(c.t("diag.board.supplies"), body, th.MUTED, left, y, strong=True)
    y += lh_b
    for sup in _rows(c.data.get("supplies")):
        name = c.t_opt(f"diag.supply.{sup.get('name')}") or str(sup.get("name"))
        level = c.t_opt(f"diag.level.{sup.get('level')}") or str(sup.get("level"))
        c.line(f"{name}: {sup.get('count')}  ({level})", small, th.TEXT, indent, y)
        y += lh_s
    counters = c.data.get("counters") or {}
    # Always drawn: without room the body scrolls (screens/scroll.py), the counters never dropped.
    if isinstance(counters, dict) and counters:
        y += t.px(4)
        c.line(c.t("diag.board.counters"), body, th.MUTED, left, y, strong=True)
        y += lh_b
        plain = [f"{c.t_opt('diag.counter.' + k) or k} {v}" for k, v in counters.items() if not isinstance(v, dict)]
        refusals = counters.get("refusals") or {}
        if isinstance(refusals, dict) and refusals:
            plain.append(c.t("diag.counter.refusals") + " " + ", ".join(f"{k} {v}" for k, v in refusals.items()))
        c.paragraph("  ·  ".join(plain), pygame.Rect(indent, y, c.body.right - indent, c.body.bottom - y), small,
                    th.TEXT, fit=True)
