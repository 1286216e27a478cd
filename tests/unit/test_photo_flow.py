"""The new-permit flow at the photo (issue 12), on a stand-in core: the 3-2-1 countdown before the
capture, the live preview on only at the photo screen, and FACE_MISMATCH's one retake (RULES.md,
order of checks, new permit: PHOTO_QUALITY → FACE_MISMATCH; the refusal itself and the whole
retake are in tests/scenarios/cases/issued_after_a_face_retake.toml and refused_face_mismatch_twice.toml)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kiosk import backend as bk
from kiosk.events import PhotoAnalysed, WorkFailed
from kiosk.flows.new_permit import COUNTDOWN_S, FACE_CHECK_TRIES, NP, NewPermit
from kiosk.logevents import EventLog
from kiosk.session import Session


class Runtime:
    def __init__(self) -> None:
        self.timers: dict[str, float] = {}
        self.pending: set[str] = set()
        self.calls: list[tuple[str, Any, Any]] = []

    def set_timer(self, name: str, seconds: float) -> None:
        self.timers[name] = seconds

    def cancel(self, *names: str) -> None:
        for name in names:
            self.timers.pop(name, None)

    def call(self, op: str, fn: Any, sid: str, then: Any = None) -> None:
        self.calls.append((op, fn, then))


class Camera:
    def __init__(self) -> None:
        self.captures: list[int] = []
        self.preview: list[bool | str] = []

    def capture(self, request_id: int) -> None:
        self.captures.append(request_id)

    def set_preview(self, on: bool) -> None:
        self.preview.append(on)

    def hold_preview(self) -> None:
        self.preview.append("held")


def core(state: str = "new_permit.photo") -> SimpleNamespace:
    fired: list[object] = []
    faces: list[str] = []
    backend = SimpleNamespace(face_check=lambda rid, card, png: faces.append(rid) or bk.FaceCheck(False))
    return SimpleNamespace(session=Session(identity=SimpleNamespace()), state=state, fire=fired.append,
                           fired=fired, faces=faces, log=EventLog(), runtime=Runtime(),
                           ports=SimpleNamespace(camera=Camera(), backend=backend))


def test_capture_counts_down_3_2_1_on_the_kiosk_clock_before_the_camera_is_asked():
    c = core()
    flow = NewPermit(c)  # type: ignore[arg-type]
    flow.enter_photo()
    assert c.ports.camera.preview == [True]
    flow.start_countdown()
    assert c.session.countdown == COUNTDOWN_S == 3 and c.runtime.timers == {"photo_countdown": 1.0}
    assert flow.photo_pending(), "a second tap during the countdown starts nothing"
    seen = []
    for _ in range(COUNTDOWN_S):
        assert c.ports.camera.captures == []
        seen.append(c.session.countdown)
        c.runtime.timers.clear()
        flow.on_timer("photo_countdown")
    assert seen == [3, 2, 1]
    assert c.ports.camera.captures == [1] and c.session.countdown is None and c.session.photo_attempts == 1
    assert c.runtime.timers == {}
    assert c.ports.camera.preview == [True, "held"], "the photo taken stays in view while it is checked"
    flow.exit_photo()
    assert c.ports.camera.preview == [True, "held", False], "the preview goes off with the photo screen"


def test_a_photo_with_a_problem_brings_the_live_picture_back_for_the_next_try():
    c = core()
    flow = NewPermit(c)  # type: ignore[arg-type]
    flow.enter_photo()
    flow.capture_photo()
    assert c.ports.camera.preview == [True, "held"]
    flow.on_photo_analysed(PhotoAnalysed(c.session.id, c.session.photo_request, "blurred", None))
    assert c.session.photo_problem == "blurred" and c.fired[-1] is NP.PHOTO_CHECKED
    assert c.ports.camera.preview == [True, "held", True]
    flow.capture_photo()
    flow.on_work_failed(WorkFailed(c.session.id, "photo"))
    assert c.session.photo_problem == "camera" and c.ports.camera.preview == [True, "held", True, "held", True]


def test_leaving_the_photo_screen_stops_the_countdown_and_the_preview():
    c = core()
    flow = NewPermit(c)  # type: ignore[arg-type]
    flow.enter_photo()
    flow.start_countdown()
    c.session.photo_guidance = "closer"
    flow.exit_photo()  # cancel, the idle timeout, a lost device
    assert c.runtime.timers == {} and c.session.countdown is None and c.session.photo_guidance is None
    c.state = "goodbye"
    flow.on_timer("photo_countdown")
    assert c.ports.camera.captures == [] and c.ports.camera.preview == [True, False]


def test_face_mismatch_offers_one_retake_then_refuses_with_a_new_request_each_time():
    """FACE_MISMATCH: the first mismatch goes to the retake, the second to the refusal; each face
    check is its own request (the backend refuses a request id reused with another photo)."""
    c = core("new_permit.verify_face")
    flow = NewPermit(c)  # type: ignore[arg-type]
    for attempt in range(1, FACE_CHECK_TRIES + 1):
        c.session.portrait_png = f"photo {attempt}".encode()
        flow.enter_verify_face()
        op, fn, then = c.runtime.calls[-1]
        assert op == "face_check"
        then(fn())
        assert c.session.face_match is False and c.fired[-1] is NP.FACE_CHECKED
        assert flow.face_retake_left() is (attempt < FACE_CHECK_TRIES)
    assert FACE_CHECK_TRIES == 2
    assert len(set(c.faces)) == 2 and c.faces[0] == c.session.request_id("face_check")
    flow.note_face_mismatch()
    assert c.session.refusal is not None and c.session.refusal.reason == "FACE_MISMATCH"


def test_a_match_needs_no_retake_and_a_later_first_mismatch_still_gets_its_retake():
    """A resident whose photo matched, who goes back from the details to take another, and whose
    new photo does not match, still has the one retake: mismatches are counted, not checks."""
    c = core("new_permit.verify_face")
    c.ports.backend.face_check = lambda rid, card, png: c.faces.append(rid) or bk.FaceCheck(len(c.faces) == 1)
    flow = NewPermit(c)  # type: ignore[arg-type]
    for _ in range(2):
        flow.enter_verify_face()
        _, fn, then = c.runtime.calls[-1]
        then(fn())
        if c.session.face_match:
            assert flow.face_matches() and not flow.face_retake_left()
    assert c.session.face_match is False and flow.face_retake_left()
    assert len(set(c.faces)) == 2
