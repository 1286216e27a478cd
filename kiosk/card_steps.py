"""A small card procedure's queue of steps (the technician card's way, the printer's tests).

One step in flight at a time; the chip step waits until pcscd has seen a card arrive at the
encoder after the move there (an insertion later than the one counted when the move began), so a
read never reaches the card that was there before. Each procedure says what command a step is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from kiosk.commands import NOTHING, Progress


class CardSteps:
    CHIP: ClassVar[StrEnum]  # the step that talks to the chip
    TO_ENCODER: ClassVar[StrEnum]  # the move after which a new insertion is awaited
    queue: list[StrEnum]
    in_flight: StrEnum | None
    insertions: int
    _floor: int | None

    def command(self, step: StrEnum) -> Progress:
        raise NotImplementedError

    @property
    def awaiting_chip(self) -> bool:
        return (self.in_flight is None and bool(self.queue) and self.queue[0] is self.CHIP
                and (self._floor is None or self.insertions <= self._floor))

    def advance(self) -> Progress:
        if self.in_flight is not None or not self.queue or self.awaiting_chip:
            return NOTHING
        step = self.queue[0]
        self.in_flight = step
        if step is self.TO_ENCODER:
            self._floor = self.insertions
        return self.command(step)

    def chip_arrived(self, insertion: int) -> Progress:
        self.insertions = max(self.insertions, insertion)
        return self.advance()
