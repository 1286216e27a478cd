"""What a touch becomes: intents from the screens (or the scenario runner) to the core."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tap:
    target: str  # a stable button id


@dataclass(frozen=True)
class Quit:
    pass


Intent = Tap | Quit
