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
    rows = [list(view.buttons[i:i + 2]) for i in range(0, len(view.buttons), 2)]
    rects, top = w.rows_from_bottom(rows, theme, area.bottom, area.left, area.width, theme.px(100))
    return rects, pygame.Rect(area.left, area.top, area.width, top - theme.gap - area.top)


def device_name(c: w.Canvas, device: str) -> str:
    return c.t_opt(f"device.{device}") or device


def _rows(data: Any) -> list[dict[str, Any]]:
    return [r for r in (data or []) if isinstance(r, dict)]


def draw(c: w.Canvas) -> None:
    t = c.theme
    small, body = t.small, t.body
    lh_s = c.text.line_height(small)
    y = c.body.top
    c.line(c.t("diag.board.title", card=c.data.get("card_id", "")), t.subtitle, th.TEXT, c.body.left, y, strong=True)
    y += c.text.line_height(t.subtitle) + t.px(6)
    notice = c.data.get("notice")
    if notice:
        y = c.banner(c.t_opt(f"diag.notice.{notice}") or str(notice), y, "success" if notice != "export_failed"
                     else "error")
    for r in _rows(c.data.get("rows")):
        cause = str(r.get("cause", "ok"))
        ok = cause == "ok"
        color = th.SUCCESS if ok else (th.DISABLED_TEXT if cause == "not_installed" else th.ERROR)
        pygame.draw.circle(c.surface, color, (c.body.left + t.px(14), y + lh_s // 2 + t.px(4)), t.px(12))
        state = c.t_opt(f"diag.state.{r.get('state')}") or str(r.get("state"))
        head = f"{device_name(c, str(r.get('device')))}  ·  {state}"
        media = str(r.get("media") or "none")
        if media != "none":
            head += f"  ·  {c.t('diag.media_at', media=c.t_opt('diag.media.' + media) or media)}"
        c.line(head, body, th.TEXT, c.body.left + t.px(40), y, strong=True)
        y += c.text.line_height(body)
        ident = "  ".join(str(x) for x in (r.get("model"), r.get("serial"), r.get("firmware")) if x)
        if ident:
            c.line(ident, small, th.MUTED, c.body.left + t.px(40), y)
            y += lh_s
        if not ok:
            text = (c.t_opt(f"diag.cause.{cause}") or cause) + "  " + (c.t_opt(f"diag.advice.{cause}") or "")
            y = c.paragraph(text, pygame.Rect(c.body.left + t.px(40), y, c.body.width - t.px(40), lh_s * 3), small,
                            th.ERROR)
        y += t.px(8)
    y += t.px(6)
    c.line(c.t("diag.board.supplies"), body, th.MUTED, c.body.left, y, strong=True)
    y += c.text.line_height(body)
    for s in _rows(c.data.get("supplies")):
        name = c.t_opt(f"diag.supply.{s.get('name')}") or str(s.get("name"))
        level = c.t_opt(f"diag.level.{s.get('level')}") or str(s.get("level"))
        c.line(f"{name}: {s.get('count')}  ({level})", small, th.TEXT, c.body.left + t.px(40), y)
        y += lh_s
    tests = _rows(c.data.get("tests"))
    if tests:
        y += t.px(6)
        c.line(c.t("diag.board.tests"), body, th.MUTED, c.body.left, y, strong=True)
        y += c.text.line_height(body)
        for x in tests:
            passed = x.get("outcome") == "pass"
            word = c.t("diag.pass") if passed else c.t("diag.fail")
            cause = str(x.get("message", "")).split(":", 1)[0]
            extra = "" if passed else "  " + (c.t_opt(f"diag.cause.{cause}") or cause)
            test = c.t_opt(f"diag.test.{x.get('test')}") or str(x.get("test"))
            c.line(f"{device_name(c, str(x.get('device')))} / {test}: {word}{extra}", small,
                   th.SUCCESS if passed else th.ERROR, c.body.left + t.px(40), y)
            y += lh_s
    counters = c.data.get("counters") or {}
    if isinstance(counters, dict) and counters and y + 2 * lh_s < c.body.bottom:
        y += t.px(6)
        c.line(c.t("diag.board.counters"), body, th.MUTED, c.body.left, y, strong=True)
        y += c.text.line_height(body)
        plain = [f"{c.t_opt('diag.counter.' + k) or k} {v}" for k, v in counters.items() if not isinstance(v, dict)]
        c.paragraph("  ·  ".join(plain), pygame.Rect(c.body.left + t.px(40), y, c.body.width - t.px(40), lh_s * 2),
                    small, th.TEXT)
        y += lh_s * 2
        refusals = counters.get("refusals") or {}
        if isinstance(refusals, dict) and refusals:
            text = c.t("diag.counter.refusals") + " " + ", ".join(f"{k} {v}" for k, v in refusals.items())
            c.paragraph(text, pygame.Rect(c.body.left + t.px(40), y, c.body.width - t.px(40), lh_s * 2), small,
                        th.TEXT)
