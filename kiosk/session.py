"""One resident's session: personal data in memory only, dropped when the session ends (SH-PRIV-1)."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, overload

from kiosk.identity import Identity
from kiosk.policy import Refusal
from kiosk.reasons import Outcome, Reason, Service
from kiosk.view import Photo


@dataclass
class Session:
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    service: Service | None = None
    chosen: Service | None = None  # the menu tile touched, before its service starts
    identity: Identity | None = field(default=None, repr=False)
    id_photo: Photo | None = field(default=None, repr=False)
    large_text: bool = False
    # The resident's own choices in the header (kiosk/chrome.py): None is the terminal's language.
    lang: str | None = None
    help_open: bool = False
    staff_called: bool = False
    volume: int = 2  # the voice prompts' volume, 0 (mute) .. 3
    replays: int = 0  # how often the resident asked to hear the prompt again
    read_error: str | None = None
    rewrite_error: str | None = None  # the inserted card was not a permit card, or unreadable
    card_address: str | None = field(default=None, repr=False)  # the residence address the permit's chip holds
    rewrite_decision: Any = None  # kiosk.endorsement.Rewrite the card was rewritten to
    card_rewritten: bool = False
    record_refusals: tuple[Refusal, ...] = ()
    registered_address: str | None = field(default=None, repr=False)
    lives_there: bool | None = None
    photo_attempts: int = 0
    photo_problem: str | None = None
    photo_request: int | None = None
    portrait: Photo | None = field(default=None, repr=False)
    portrait_png: bytes = field(default=b"", repr=False)
    face_match: bool | None = None
    face_checks: int = 0  # the backend's face checks asked this session (each its own request id)
    face_mismatches: int = 0  # of which did not match (FACE_MISMATCH after the one retake)
    countdown: int | None = None  # seconds left of the 3-2-1 before the capture
    photo_guidance: str | None = None  # the live preview's advice (kiosk/photo_guidance.py)
    phone: str = field(default="", repr=False)
    grant: Any = field(default=None, repr=False)  # kiosk.backend.PermitGrant
    last_reply: Any = field(default=None, repr=False)
    issuing_step: str | None = None
    card_inside: bool = False
    card_retained: bool = False
    fault_device: str | None = None
    # Why the fault screen shows: a fixed code ("decision_disagreed": the approval system's answer
    # did not pass the kiosk's own check of RULES.md, so nothing was printed or rewritten).
    fault_detail: str | None = None
    refusal: Refusal | None = None
    outcome: Outcome | None = None
    reason: Reason | None = None
    screens: list[str] = field(default_factory=list)
    # issue 13: "确定要取消吗？" is on the screen; how often "more time" was taken; the retention
    # record of a card the kiosk kept (kiosk/retention.py: its number, nothing personal).
    cancel_asked: bool = False
    more_time_taken: int = 0
    retention: Any = None
    no_phone: bool = False  # the resident declared they have no mobile number: no SMS
    phone_error: str | None = None  # kiosk.phone.PhoneProblem of the number confirmed, until a key is touched
    # The running service's own state (its flow's dataclass), personal data included: it goes
    # with the session, so a new service keeps its fields in its own module, not here.
    service_data: Any = field(default=None, repr=False)

    def request_id(self, op: str) -> str:
        """One id per operation of a session: a retry of the same call replays, never doubles."""
        return f"{self.id}-{op}"

    def end(self, outcome: Outcome, reason: Reason) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.reason = reason

    @property
    def available_on(self) -> date | None:
        return self.refusal.available_on if self.refusal is not None else None


@dataclass(frozen=True)
class SessionSummary:
    """What is kept of a session after it ends: nothing personal."""

    session: str
    service: str | None
    outcome: str
    reason: str
    available_on: str | None
    screens: tuple[str, ...]
    large_text: bool = False  # SH-AGE-2: the session switched to large text


class SessionHistory:
    """The summaries of the sessions that ended, numbered from 0 since start, of which only the last
    `keep` are held: a terminal runs for months, and a list of every summary grew by about 1 kB a
    session (the 10,000-session soak's RSS crept up with it). Every summary also went to the log
    channel (SESSION_ENDED), which is where history lives. Indexing and slicing use the numbers since
    start (`len` is how many ended), so a caller that noted `len` before a session reads its
    summaries after it; a number no longer held is an IndexError, never another session's summary."""

    def __init__(self, keep: int = 100) -> None:
        self._recent: deque[SessionSummary] = deque(maxlen=keep)
        self._ended = 0

    def append(self, summary: SessionSummary) -> None:
        self._recent.append(summary)
        self._ended += 1

    def __len__(self) -> int:
        return self._ended

    def __iter__(self) -> Iterator[SessionSummary]:
        return iter(self._recent)

    @overload
    def __getitem__(self, i: int) -> SessionSummary: ...
    @overload
    def __getitem__(self, i: slice) -> list[SessionSummary]: ...

    def __getitem__(self, i: int | slice) -> SessionSummary | list[SessionSummary]:
        first = self._ended - len(self._recent)  # the number of the oldest summary held
        if isinstance(i, slice):
            start, stop, step = i.indices(self._ended)
            if start < first and start < stop:
                raise IndexError(f"sessions before {first} are no longer held")
            return [self._recent[n - first] for n in range(start, stop, step)]
        n = i + self._ended if i < 0 else i
        if not first <= n < self._ended:
            raise IndexError(f"session {i} is not held (held: {first}..{self._ended - 1})")
        return self._recent[n - first]
