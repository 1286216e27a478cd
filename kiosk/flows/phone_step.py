"""The phone number step new permit and registration share: the guards and the note their
tables name (`phone_valid`, `no_phone_declared`, `note_phone_problem`), over kiosk/phone.py's
rules. A flow takes them by inheriting this before `Flow`."""

from __future__ import annotations

from typing import Any

from kiosk.phone import phone_problem


class PhoneStep:
    core: Any

    def phone_valid(self) -> bool:
        return phone_problem(self.core.session.phone) is None

    def no_phone_declared(self) -> bool:
        return bool(self.core.session.no_phone)

    def note_phone_problem(self) -> None:
        """What is wrong with the number typed, for the screen to say (too short, not a mobile)."""
        s = self.core.session
        problem = phone_problem(s.phone)
        s.phone_error = problem.value if problem is not None else None
