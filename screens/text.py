"""Translations: screens/i18n/<lang>.toml, flattened to dotted keys ("button.confirm").

A key that is missing never crashes a screen: the key itself is shown and remembered in
`missing`, which the unit tests check after rendering every screen.
Large text says the same as normal text, only larger (issue 13): there are no shorter
large-text variants; `large` is accepted and ignored so that call sites need not care.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

I18N_DIR = Path(__file__).with_name("i18n")
LANGUAGES = ("zh", "en")


class _Blank(dict[str, Any]):
    # A placeholder the text does not supply stays visible instead of raising.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


@cache
def load_table(lang: str) -> dict[str, str]:
    path = I18N_DIR / f"{lang}.toml"
    if not path.is_file():
        raise ValueError(f"display.lang: no translation file {path.name} (have: {', '.join(LANGUAGES)})")
    with path.open("rb") as fh:
        return _flatten(tomllib.load(fh))


class Texts:
    def __init__(self, lang: str = "zh") -> None:
        self.lang = lang
        self.table = load_table(lang)
        self.missing: set[str] = set()
        self.used: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, large: bool = False, **values: Any) -> str:
        del large  # the same words in both sizes
        self.used.add(key)
        text = self.table.get(key)
        if text is None:
            self.missing.add(key)
            return key
        return text.format_map(_Blank(values)) if values else text

    def optional(self, key: str, large: bool = False, **values: Any) -> str | None:
        """The text when the key exists; for lookups built from data (outcome, problem codes)."""
        return self.get(key, large, **values) if self.has(key) else None

    def date(self, iso: object) -> str:
        """ "2026-11-22" in the language's form; anything unparsable is shown as given."""
        try:
            day = dt.date.fromisoformat(str(iso))
        except ValueError:
            return str(iso)
        return self.get("format.date", year=day.year, month=day.month, day=day.day)
