"""Events the core posts to its own queue: results of work it ran off the main thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devices.events import CameraFailed, PhotoCaptured


@dataclass(frozen=True)
class BackendReply:
    session: str
    op: str  # precheck | face_check | apply | confirm | void | health
    result: Any = field(repr=False)
    # Runs on the main thread with the result, whatever session is current: what must happen
    # even after the session ended (journaling a confirm or a void).
    then: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class PhotoAnalysed:
    session: str
    request_id: int
    problem: str | None
    portrait: Any = field(repr=False)  # kiosk.view.Photo | None
    png: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class FaceRendered:
    session: str
    bits: bytes = field(repr=False)
    width: int = 0
    height: int = 0
    ticket: dict[str, str] = field(default_factory=dict, repr=False)
    chip: Any = field(default=None, repr=False)  # devices.permit_profile.PermitContents


@dataclass(frozen=True)
class WorkFailed:
    """Work off the main thread raised: a bug, reported as a typed event, never a crash."""

    session: str
    what: str


@dataclass(frozen=True)
class GuidanceAnalysed:
    """The photo checks' verdict on a live preview frame, as advice (kiosk/photo_guidance.py);
    `key` None: the analysis failed, no new advice."""

    session: str
    key: str | None


# Events whose arrival ends work the runtime counted as in flight.
DONE_WORK: dict[type, Callable[[Any], str]] = {
    PhotoCaptured: lambda e: "camera", CameraFailed: lambda e: "camera",
    PhotoAnalysed: lambda e: "work.photo", FaceRendered: lambda e: "work.face",
    WorkFailed: lambda e: f"work.{e.what}",
}
