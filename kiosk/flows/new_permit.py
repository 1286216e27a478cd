"""New permit on the spot (新办快证, 当场出证: SH-PMT-3): the ID card, the records, the residence
question, the photo and the face, the details and the phone, the application.

The card itself is issued by kiosk/flows/new_permit_issuing.py (the issuance procedure);
screens' views are in kiosk/flows/new_permit_views.py.
"""

from __future__ import annotations

import sqlite3
from enum import StrEnum
from typing import Any

from devices.events import CameraError, CameraFailed, IdCardRead, IdReadFailed, PhotoCaptured, PreviewSampled
from devices.status import DeviceKind
from kiosk import backend as bk
from kiosk import photo as photo_checks
from kiosk import photo_guidance
from kiosk.availability import Needs
from kiosk.chart import ChartPart, Edge, StateSpec, TimerSpec
from kiosk.chart import Trigger as T
from kiosk.events import FaceRendered, GuidanceAnalysed, PhotoAnalysed, WorkFailed
from kiosk.flows.base import Flow
from kiosk.flows.id_card_step import IdCardStep
from kiosk.flows.new_permit_issuing import Issuing
from kiosk.flows.new_permit_views import SCREENS
from kiosk.flows.phone_step import PhoneStep
from kiosk.journal import JournalError
from kiosk.logevents import LogEvent
from kiosk.policy import NEW_PERMIT_ORDER, Refusal, first_refusal, grant_disagreement
from kiosk.reasons import Outcome, Reason, Service
from kiosk.view import Waiting

P = "new_permit"
# RULES.md, Order of checks, new permit: the checks at the ID card.
ID_CARD_ORDER = NEW_PERMIT_ORDER[:NEW_PERMIT_ORDER.index(Reason.UNDER_16) + 1]
# FACE_MISMATCH: the backend's face check may fail on an old ID card photo (a 长期 card's may be
# decades old), so a second photo is offered before the refusal (issue 12).
FACE_CHECK_TRIES = 2
COUNTDOWN_S = 3  # the 3-2-1 before the capture, in seconds of the kiosk's clock


class NP(StrEnum):
    ID_READ = "id_read"
    PRECHECK_DONE = "precheck_done"
    PHOTO_CHECKED = "photo_checked"
    FACE_CHECKED = "face_checked"
    APPLIED = "applied"
    CARD_PRESENTED = "card_presented"
    CARD_TAKEN = "card_taken"


class NewPermit(PhoneStep, Flow):
    SERVICE = Service.NEW_PERMIT
    NEEDS = Needs((DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PRINTER, DeviceKind.PERMIT_CARD,
                   DeviceKind.BACKEND), blank_cards=True, may_retract=True, journals=True)
    SCREENS = SCREENS
    CHART = ChartPart(
        owner=P,
        states=(StateSpec(P, on_enter="enter_service", children=(
            StateSpec("notice", Waiting.TOUCH, session=True),
            StateSpec("read_id", Waiting.ID_CARD, session=True, back=f"{P}.notice",
                      on_enter="enter_read_id", on_exit="exit_read_id"),
            StateSpec("precheck", on_enter="enter_precheck"),
            StateSpec("residence", Waiting.TOUCH, session=True),
            StateSpec("photo", Waiting.FACE, session=True, on_enter="enter_photo", on_exit="exit_photo"),
            StateSpec("verify_face", on_enter="enter_verify_face"),
            StateSpec("retake", Waiting.TOUCH, session=True),
            StateSpec("details", Waiting.TOUCH, session=True, back=f"{P}.photo"),
            StateSpec("phone", Waiting.DIGITS, session=True, back=f"{P}.details"),
            StateSpec("submit", on_enter="enter_submit"),
            StateSpec("issuing", on_enter="issuing:enter_issuing"),
            StateSpec("take_card", Waiting.TAKE_CARD, more_time=True,
                      timers=(TimerSpec("take_card", "take_card", T.TAKE_TIMEOUT, shown=True),)),
            # The louder last warning: the card is still at the slot, a sound cue plays.
            StateSpec("last_call", Waiting.TAKE_CARD, more_time=True, on_enter="end:warn_retract",
                      timers=(TimerSpec("take_card", "take_card_last", T.TAKE_TIMEOUT, shown=True),)),
            StateSpec("done", Waiting.TOUCH, closing=True, on_enter="issuing:enter_done"),
        )),),
        edges=(
            Edge(T.TAP_SERVICE, "ready.menu", f"{P}.notice", conditions=("chosen",)),
            Edge(T.TAP_CONFIRM, f"{P}.notice", f"{P}.read_id"),
            Edge(NP.ID_READ, f"{P}.read_id", f"{P}.precheck"),
            Edge(NP.PRECHECK_DONE, f"{P}.precheck", f"{P}.residence"),
            Edge(T.TAP_ANSWER_NO, f"{P}.residence", "refusal", before="note_address_changed"),
            Edge(T.TAP_ANSWER_YES, f"{P}.residence", "refusal", conditions=("refused_after_address",),
                 before="note_record_refusal"),
            Edge(T.TAP_ANSWER_YES, f"{P}.residence", f"{P}.photo", before="note_lives_there"),
            Edge(T.TAP_CAPTURE, f"{P}.photo", None, unless=("photo_pending",), after="start_countdown"),
            Edge(NP.PHOTO_CHECKED, f"{P}.photo", f"{P}.verify_face", conditions=("photo_usable",)),
            Edge(NP.PHOTO_CHECKED, f"{P}.photo", "refusal", conditions=("photo_attempts_exhausted",),
                 before="note_photo_quality"),
            Edge(NP.PHOTO_CHECKED, f"{P}.photo", None),
            Edge(NP.FACE_CHECKED, f"{P}.verify_face", f"{P}.details", conditions=("face_matches",)),
            Edge(NP.FACE_CHECKED, f"{P}.verify_face", f"{P}.retake", conditions=("face_retake_left",)),
            Edge(NP.FACE_CHECKED, f"{P}.verify_face", "refusal", before="note_face_mismatch"),
            Edge(T.TAP_CONFIRM, f"{P}.retake", f"{P}.photo"),
            Edge(T.TAP_CONFIRM, f"{P}.details", f"{P}.phone"),
            Edge(T.TAP_KEY, f"{P}.phone", None),
            Edge(T.TAP_CONFIRM, f"{P}.phone", f"{P}.submit", conditions=("phone_valid",)),
            Edge(T.TAP_CONFIRM, f"{P}.phone", None, after="note_phone_problem"),  # says what is wrong
            Edge(T.TAP_CHOICE, f"{P}.phone", f"{P}.submit", conditions=("no_phone_declared",)),
            Edge(NP.APPLIED, f"{P}.submit", f"{P}.issuing"),
            Edge(NP.CARD_PRESENTED, f"{P}.issuing", f"{P}.take_card"),
            Edge(NP.CARD_TAKEN, (f"{P}.take_card", f"{P}.last_call"), f"{P}.done"),
            Edge(T.TAKE_TIMEOUT, f"{P}.take_card", f"{P}.last_call"),
            Edge(T.TAKE_TIMEOUT, f"{P}.last_call", "kept", before="issuing:not_taken"),
            Edge(T.REFUSED, P, "refusal"),
            Edge(T.FAULTED, P, "fault"),
        ),
    )

    def __init__(self, core: Any) -> None:
        super().__init__(core)
        self.issuing = Issuing(core, NP.CARD_PRESENTED, NP.CARD_TAKEN)
        self.photo_decoder: Any = None  # set by the controller (kiosk.wlt.photo_decoder)
        self.id_card = IdCardStep(core, f"{P}.read_id", NP.ID_READ, ID_CARD_ORDER, keep_photo=True,
                                  photo_decoder=lambda: self.photo_decoder)
        self.photo_detector: Any = None
        self._next_photo_request = 1
        self._guiding = False  # a preview frame is being analysed for guidance

    def handlers(self) -> dict[type, Any]:
        return {IdCardRead: self.id_card.on_read, IdReadFailed: self.id_card.on_failed, PhotoCaptured: self.on_photo,
                CameraFailed: self.on_camera_failed, PhotoAnalysed: self.on_photo_analysed,
                PreviewSampled: self.on_preview_sample, GuidanceAnalysed: self.on_guidance,
                WorkFailed: self.on_work_failed, FaceRendered: self.issuing.on_face}

    # --- guards (pure) ------------------------------------------------------------------------

    def chosen(self) -> bool:
        return self.core.session.chosen is Service.NEW_PERMIT and self.core.availability.offers(Service.NEW_PERMIT)

    def refused_after_address(self) -> bool:
        return first_refusal(list(self.core.session.record_refusals)) is not None

    def photo_pending(self) -> bool:
        s = self.core.session
        return s.photo_request is not None or s.countdown is not None

    def photo_usable(self) -> bool:
        s = self.core.session
        return s.photo_problem is None and s.portrait is not None

    def photo_attempts_exhausted(self) -> bool:
        return self.core.session.photo_attempts >= self.core.pack.photo_max_tries

    def face_matches(self) -> bool:
        return bool(self.core.session.face_match)

    def face_retake_left(self) -> bool:
        s = self.core.session
        return s.face_match is False and s.face_mismatches < FACE_CHECK_TRIES

    def on_choice(self, choice: str) -> None:
        if choice == "no_phone" and self.core.state == f"{P}.phone":
            s = self.core.session
            s.no_phone, s.phone, s.phone_error = True, "", None

    # --- notes (before callbacks: they write the session) ----------------------------------------

    def note_address_changed(self) -> None:
        s = self.core.session
        s.lives_there = False
        s.refusal = Refusal(Reason.ADDRESS_CHANGED)

    def note_record_refusal(self) -> None:
        s = self.core.session
        s.lives_there = True
        s.refusal = first_refusal(list(s.record_refusals))

    def note_lives_there(self) -> None:
        self.core.session.lives_there = True

    def note_photo_quality(self) -> None:
        self.core.session.refusal = Refusal(Reason.PHOTO_QUALITY)

    def note_face_mismatch(self) -> None:
        self.core.session.refusal = Refusal(Reason.FACE_MISMATCH)

    # --- states -------------------------------------------------------------------------------

    def enter_precheck(self) -> None:
        s = self.core.session
        card, rid, backend = s.identity, s.request_id("precheck"), self.core.ports.backend
        assert card is not None
        self.call_backend("precheck", lambda: backend.precheck(rid, card), self._prechecked)

    def _prechecked(self, result: Any) -> None:
        if self.core.state != f"{P}.precheck" or self.backend_failed(result):
            return
        s = self.core.session
        if isinstance(result, bk.Precheck):
            s.record_refusals = tuple(result.refusals)
            s.registered_address = result.registered_address
        # The checks before ADDRESS_CHANGED refuse at once; the question comes before the rest.
        limit = NEW_PERMIT_ORDER.index(Reason.ADDRESS_CHANGED)
        early = [r for r in s.record_refusals if NEW_PERMIT_ORDER.index(r.reason) < limit]
        s.refusal = first_refusal(early)
        self.core.fire(T.REFUSED if s.refusal is not None else NP.PRECHECK_DONE)

    def enter_photo(self) -> None:
        s = self.core.session
        if s.portrait is not None:  # back from details or a face retake: a new photo starts afresh
            s.portrait, s.portrait_png, s.photo_attempts = None, b"", 0
        s.photo_problem = None
        s.face_match = None
        self.core.ports.camera.set_preview(True)

    def exit_photo(self) -> None:
        # The preview's frames are the resident's picture: the camera stops sending them and
        # drops what its channel holds (SH-PRIV-1).
        self.core.ports.camera.set_preview(False)
        self.core.runtime.cancel("photo_countdown")
        s = self.core.session
        s.countdown, s.photo_guidance = None, None
        self._guiding = False

    def start_countdown(self) -> None:
        self.core.session.countdown = COUNTDOWN_S
        self.core.runtime.set_timer("photo_countdown", 1.0)

    def on_timer(self, name: str) -> None:
        s = self.core.session
        if name != "photo_countdown" or self.core.state != f"{P}.photo" or s.countdown is None:
            return
        s.countdown -= 1
        if s.countdown > 0:
            self.core.runtime.set_timer("photo_countdown", 1.0)
            return
        s.countdown = None
        self.capture_photo()

    def on_preview_sample(self, event: PreviewSampled) -> None:
        """A live frame: the checks run on it off the main thread, one at a time (a frame that
        arrives meanwhile is dropped), and their verdict becomes the guidance the screen shows.
        None while a photo is taken and checked: its checks then have the CPU to themselves."""
        s = self.core.session
        if self.core.state != f"{P}.photo" or self._guiding or s.photo_request is not None:
            return
        self._guiding = True
        session, detector = s.id, self.photo_detector

        def analyse() -> GuidanceAnalysed:
            kwargs = {"detector": detector} if detector is not None else {}
            check = photo_checks.check_photo(event.width, event.height, event.rgb, **kwargs)
            return GuidanceAnalysed(session, photo_guidance.guidance(check, event.width, event.height).key)

        self.core.runtime.background(analyse, lambda: self.core.runtime.post(GuidanceAnalysed(session, None)))

    def on_guidance(self, event: GuidanceAnalysed) -> None:
        self._guiding = False
        s = self.core.session
        if event.session == s.id and self.core.state == f"{P}.photo":
            s.photo_guidance = event.key

    def capture_photo(self) -> None:
        s = self.core.session
        s.photo_attempts += 1
        s.photo_request = self._next_photo_request
        self._next_photo_request += 1
        self.core.runtime.pending.add("camera")
        self.core.ports.camera.capture(s.photo_request)
        # The picture stops at the photo taken while it is checked (the check gets the CPU the
        # preview used: its frames and their scaling were half a core); a problem resumes it.
        self.core.ports.camera.hold_preview()

    def on_photo(self, event: PhotoCaptured) -> None:
        self.core.runtime.pending.discard("camera")
        s = self.core.session
        if event.request_id != s.photo_request or self.core.state != f"{P}.photo":
            return
        session, detector = s.id, self.photo_detector

        def analyse() -> PhotoAnalysed:
            kwargs = {"detector": detector} if detector is not None else {}
            check = photo_checks.check_photo(event.width, event.height, event.rgb, **kwargs)
            if check.problem is not None or check.face_box is None:
                problem = check.problem.value if check.problem is not None else "no_face"
                return PhotoAnalysed(session, event.request_id, problem, None)
            portrait = photo_checks.portrait(event.width, event.height, event.rgb, check.face_box)
            return PhotoAnalysed(session, event.request_id, None, portrait, photo_checks.to_png(portrait))

        self.core.runtime.work("photo", session, analyse)

    def on_camera_failed(self, event: CameraFailed) -> None:
        self.core.runtime.pending.discard("camera")
        s = self.core.session
        if event.request_id != s.photo_request or self.core.state != f"{P}.photo":
            return
        if event.error is CameraError.NO_DEVICE:
            s.fault_device = DeviceKind.CAMERA.value
            self.core.fire(T.DEVICE_LOST)
            return
        self.core.runtime.post(PhotoAnalysed(s.id, event.request_id, "camera", None))

    def on_photo_analysed(self, event: PhotoAnalysed) -> None:
        self.core.runtime.pending.discard("work.photo")
        s = self.core.session
        if event.session != s.id or event.request_id != s.photo_request:
            return
        s.photo_request = None
        s.photo_problem = event.problem
        if event.problem is None:
            s.portrait, s.portrait_png = event.portrait, event.png
        self.core.log.emit(LogEvent.PHOTO_CHECKED, session=s.id, attempt=s.photo_attempts, problem=event.problem)
        if self.core.state == f"{P}.photo":
            if event.problem is not None:
                self.core.ports.camera.set_preview(True)  # live again for the next try
            self.core.fire(NP.PHOTO_CHECKED)

    def on_work_failed(self, event: WorkFailed) -> None:
        self.core.runtime.pending.discard(f"work.{event.what}")
        s = self.core.session
        if event.session != s.id:
            return
        if event.what == "face":
            self.issuing.render_failed()
        elif event.what == "photo" and self.core.state == f"{P}.photo":
            s.photo_request, s.photo_problem = None, "camera"
            self.core.ports.camera.set_preview(True)
            self.core.fire(NP.PHOTO_CHECKED)

    def enter_verify_face(self) -> None:
        s = self.core.session
        s.face_checks += 1
        # A retake's photo is another request: the backend refuses a request id used with other content.
        op = "face_check" if s.face_checks == 1 else f"face_check.{s.face_checks}"
        card, png, rid, backend = s.identity, s.portrait_png, s.request_id(op), self.core.ports.backend
        assert card is not None
        self.call_backend("face_check", lambda: backend.face_check(rid, card, png), self._face_checked)

    def _face_checked(self, result: Any) -> None:
        if self.core.state != f"{P}.verify_face" or self.backend_failed(result):
            return
        if isinstance(result, bk.FaceCheck):
            s = self.core.session
            s.face_match = result.match
            s.face_mismatches += 0 if result.match else 1
        self.core.fire(NP.FACE_CHECKED)

    def on_key(self, key: str) -> None:
        s = self.core.session
        s.phone_error = None
        if key == "del":
            s.phone = s.phone[:-1]
        elif key.isdigit() and len(s.phone) < 11:
            s.phone += key

    def enter_submit(self) -> None:
        s = self.core.session
        card, phone, png, rid = s.identity, s.phone, s.portrait_png, s.request_id("apply")
        backend, journal = self.core.ports.backend, self.core.journal
        assert card is not None
        if journal is not None:
            # Journaled before it goes out: should the reply be lost, the kiosk still withdraws
            # the application by its request id (kiosk/settle.py), so no approval is stranded.
            try:
                journal.application_sent(rid)
            except (JournalError, sqlite3.Error) as exc:
                self.core.log.emit(LogEvent.JOURNAL_REFUSED, write="application_sent", row=None, value=None,
                                   problem=getattr(exc, "problem", "storage"), detail=type(exc).__name__)
                s.fault_device = "journal"
                self.core.fire(T.FAULTED)
                return
        self.call_backend("apply", lambda: backend.apply(rid, card, True, phone, png), self._applied)

    def _applied(self, result: Any) -> None:
        if self.core.state != f"{P}.submit" or self.backend_failed(result):
            return
        s = self.core.session
        if isinstance(result, Refusal):
            if self.core.journal is not None:
                self.core.journal.application_answered(s.request_id("apply"))
            s.refusal = result
            self.core.fire(T.REFUSED)
            return
        if not isinstance(result, bk.Approval):
            s.fault_device = DeviceKind.BACKEND.value
            self.core.fire(T.FAULTED)
            return
        g = result.permit
        disagreement = grant_disagreement(g.issued, g.valid_from, g.valid_until, self.core.clock.today(),
                                          self.core.pack)
        if disagreement is not None:
            # The backend is the authority, but no card is printed on a decision the kiosk's own
            # reading of RULES.md does not share: the approval is voided, the case goes to a counter.
            self.core.log.emit(LogEvent.DECISION_DISAGREED, session=s.id, op="apply",
                               backend=f"{g.valid_from.isoformat()}/{g.valid_until.isoformat()}", kiosk=disagreement)
            s.fault_device, s.fault_detail = DeviceKind.BACKEND.value, "decision_disagreed"
            s.end(Outcome.COUNTER_REFERRAL, Reason.BACKEND_UNAVAILABLE)
            self.issuing.void_unprinted(g.number, s.request_id("apply"))
            self.core.fire(T.FAULTED)
            return
        s.grant = g
        self.core.fire(NP.APPLIED)
