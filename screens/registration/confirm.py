"""Screen `registration.confirm`: the declaration to be made, for a last look.

Data `name`, `id_number` (masked), `kind`, `address`, `relationship` (null without one), `purpose`,
`phone`; buttons `confirm` (declare), `back`, `cancel`.
"""

from __future__ import annotations

import pygame

from screens import theme as th
from screens import widgets as w


def draw(c: w.Canvas) -> None:
    t = c.theme
    y = c.title("reg_confirm.title")
    d = c.data
    rows = [
        ("reg_confirm.name", str(d.get("name") or "")),
        ("reg_confirm.id_number", str(d.get("id_number") or "")),
        ("reg_confirm.kind", c.t_opt(f"reg_kind.{d.get('kind')}") or ""),
        ("reg_confirm.address", str(d.get("address") or "")),
    ]
    if d.get("relationship"):
        rows.append(("reg_confirm.relationship", c.t_opt(f"reg_relative.{d.get('relationship')}") or ""))
    rows += [("reg_confirm.purpose", c.t_opt(f"reg_purpose.{d.get('purpose')}") or ""),
             ("reg_confirm.phone", c.t("reg_confirm.no_phone") if d.get("no_phone") else str(d.get("phone") or ""))]
    for key, value in rows:
        if y >= c.body.bottom:
            break
        c.line(c.t(key), t.small, th.MUTED, c.body.left, y)
        y += c.text.line_height(t.small)
        y = c.paragraph(value, pygame.Rect(c.body.left, y, c.body.width, c.body.bottom - y), t.body, th.TEXT,
                        strong=True) + t.px(14)
