"""The scenario runner: plays a scenario through the real kiosk on emulated hardware.

The kiosk runs exactly as in a terminal (same main loop, same drivers over ptys, the
backend over HTTP); the runner is the person in front of it. Taps are real mouse events
at the buttons' drawn positions, ID cards are placed on the emulated reader, faces shown
to the emulated camera, cards taken from the emulated printer's slot.

Steps are milestones: a step is carried out as soon as it can be (its button is on the
screen, its screen is shown); until then the cooperative resident answers whatever the
screen waits for. After the last step the cooperative resident plays the session out.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices.status import DeviceKind, MediaPosition
from kiosk.clock import VirtualClock
from kiosk.config import KioskConfig, SimConfig
from kiosk.controller import Kiosk
from kiosk.view import OverlayKind, View, Waiting
from sim import answers, endings_check, shots, variants, waits
from sim import diagnostics_report as diag
from sim.answers import status_query as status_answers
from sim.scenario import FACE_SCENES, Scenario, ScenarioError, Step, load, residents_json

BOOTING = ("boot", "self_test", "recovery")
ENCODER_READER = "Virtual PCD 00 00"  # vpcd's first slot (config/sim.toml [pcsc]): the hub's chips appear there
AT_REST = ("ready.attract", "out_of_service")
QR_HOLD_FRAMES = 3  # frames a code shown to the QR scanner's camera stays in view


def post_tap(pos: tuple[int, int]) -> None:
    """A finger on the glass: a real press and release at the button's drawn position."""
    import pygame

    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1))


def screen_matches(actual: str, wanted: str) -> bool:
    """`expect_screen` accepts the full dotted name or its last part ("photo" for "new_permit.photo")."""
    return actual == wanted or actual.rsplit(".", 1)[-1] == wanted


def expand_steps(steps: tuple[Step, ...]) -> list[Step]:
    out: list[Step] = []
    for step in steps:
        if step.do == "digits":
            out.extend(Step("tap", target=f"key.{d}") for d in (step.value or "") if d.isdigit())
        else:
            out.append(step)
    return out


class ScenarioPlayer:
    """The frame hook of the main loop: one decision per frame."""

    def __init__(self, scenario: Scenario, kiosk: Kiosk, display: Any, hub: Any, camera: Any,
                 clock: Any, *, max_session_seconds: float, max_wall_seconds: float,
                 screenshots: Path | None = None, assist_only: bool = False, fps: int = 30,
                 qr_camera: Any = None, variant: Any = None) -> None:
        self.scenario = scenario
        # sim/variants.py: the resident switches to large text and/or English on the first header
        self.switcher = variants.Switcher(variant) if variant is not None else None
        self.kiosk = kiosk
        self.display = display
        self.hub = hub
        self.camera = camera
        self.qr_camera = qr_camera  # the QR scanner's scanning camera (its camera driver)
        self.clock = clock
        self.virtual = isinstance(clock, VirtualClock)
        self.max_session_seconds = max_session_seconds
        self.max_wall_seconds = max_wall_seconds
        self.screenshots = screenshots
        self.assist_only = assist_only  # windowed --sim: a person taps, the runner only plays the devices
        self.frame = 1.0 / max(1, fps)
        self.steps = expand_steps(tuple(diag.expand_digits(scenario, list(scenario.steps))))
        self.step_i = 0
        self.failures: list[str] = []
        self.started_wall = time.monotonic()
        self.start_count = len(kiosk.finished)
        self.last_view: View | None = None
        self.stable = 0
        self.acted_view: View | None = None
        self.effect = waits.Effect()
        self.presented = False
        self.scene_by_step = False
        self.reread = 0
        self.wait_until: float | None = None
        self.shot_index = 0
        self.last_shot_screen = ""
        self.shots: list[str] = []
        self.ended = False
        self.still_here = 0
        self.inserted = False
        self.shown: dict[str, Any] | None = None  # what the status screen showed (sim/answers/status_query.py)
        self.technician_inserted = False
        self.technician_tested = False
        self.technician_fed = False
        self.audit_start = diag.audit_mark(self) if scenario.diagnostics else 0
        self.presented_in = ""  # the session the ID card was placed for
        self.walked_away = False  # the scenario's service was not offered: the resident left the menu
        self.proofs_shown = 0  # how often the registration's proof was held to the scanner
        self.receipt_qr: list[str] | None = None  # what the receipt screen's QR codes read (None: not shown)
        self.registration: dict[str, Any] | None = None  # the registration's part of the report
        self.menu: list[dict[str, Any]] | None = None  # the menu's service tiles as last seen (issue 14)

    # --- the frame hook -------------------------------------------------------------------

    def __call__(self, view: View) -> float | None:
        over_wall = time.monotonic() - self.started_wall > self.max_wall_seconds and not self.assist_only
        if over_wall or (self.virtual and self.clock.monotonic() > self.max_session_seconds):
            limit = f"{self.max_wall_seconds:.0f} s of wall time" if over_wall else \
                f"{self.max_session_seconds:.0f} s of kiosk time"
            where = waits.where(view, self.steps, self.step_i, self.kiosk.config.logging.file)
            self.failures.append(f"the session did not end within {limit} ({where})")
            return None
        if view != self.last_view:
            self.last_view = view
            self.stable = 0
            self.effect.deadline = 0.0
            if view.screen == status_answers.SHOW and view.data and len(self.kiosk.finished) == self.start_count:
                self.shown = status_answers.shown(view.data)
        else:
            self.stable += 1
        if view.screen in BOOTING:
            return self.frame
        if self._session_over(view):
            self._finish_steps(view)
            self.ended = True
            return None if not self.assist_only else self.frame
        if self.wait_until is not None:
            return self._waiting()
        if self.switcher is not None and self.switcher.step(view, self._tap):
            return 0.0
        if not self.assist_only and self.step_i < len(self.steps) and self._try_step(view):
            return 0.0
        if self._cooperate(view):
            return 0.0
        if self._settled():
            self._let_time_pass()
        return self.frame

    def on_new_view(self, view: View) -> None:
        if view.screen == "ready.menu":
            self.menu = [{"id": b.id, "enabled": b.enabled} for b in view.buttons if b.id.startswith("service.")]
        endings_check.on_view(self, view)
        if view.screen_id == "registration.receipt" and self.receipt_qr is None:
            # Read from the glass as shown, every page of it as a resident scrolls down, in memory
            # (sim/shots.py: a PNG written and read back was about 110 ms); saved with screenshots.
            self.receipt_qr = [code for glass in self.display.pages() for code in shots.decode_glass(glass)]
            if self.screenshots is not None:
                self.display.screenshot(str(self.screenshots / "receipt.png"))
        if self.screenshots is None or view.screen_id == self.last_shot_screen:
            return
        self.last_shot_screen = view.screen_id
        self.shot_index += 1
        path = self.screenshots / f"{self.shot_index:02d}_{view.screen_id}.png"
        self.display.screenshot(str(path))
        self.shots.append(str(path))
        # a body that scrolls: its further pages too, as the resident sees them scrolling down
        self.shots += shots.save_pages(self.display, path.with_suffix(""))

    # --- helpers ----------------------------------------------------------------------------

    def _session_over(self, view: View) -> bool:
        if self.assist_only:
            return False
        if self.scenario.diagnostics:
            # The technician's visit is over once every step was taken and the kiosk is at rest
            # with nothing in the printer's slot.
            printer = self.kiosk.availability.status.get(DeviceKind.PRINTER)
            at_slot = printer is not None and printer.media is MediaPosition.ENTERING
            return (self.step_i >= len(self.steps) and view.screen in AT_REST and self._settled()
                    and self.kiosk.card_job is None and not at_slot)
        if len(self.kiosk.finished) > self.start_count and view.screen in AT_REST:
            return True
        if self.walked_away and view.screen in AT_REST and self.kiosk.session.service is None:
            return True
        # Out of service before any session started, and no step left that could wait for it to
        # come back: nobody can be served.
        return (view.screen == "out_of_service" and self.kiosk.session.service is None and self._settled()
                and self.step_i >= len(self.steps))

    def settled(self) -> bool:
        """Nothing in flight, nothing expected, the view unchanged: what a service's answers may wait for."""
        return self._settled()

    def _settled(self) -> bool:
        return self.kiosk.is_idle() and self.effect.over() and self.stable >= 2

    def _let_time_pass(self) -> None:
        if not self.virtual:
            return
        deadline = self.kiosk.next_deadline()
        if deadline is not None:
            self.clock.advance_to(deadline)

    def _expect_effect(self, seconds: float = 3.0) -> None:
        """A device action's consequence is on its way (the reader polls, the printer senses)."""
        self.effect.expect(seconds)

    def tap(self, view: View, button_id: str) -> bool:
        """Taps the button if it is on the screen and enabled (what a service's answers use)."""
        return self._tap(view, button_id)

    def _tap(self, view: View, button_id: str) -> bool:
        button = next((b for b in view.all_buttons() if b.id == button_id and b.enabled), None)
        if button is not None:
            self.display.reveal(button_id)  # an answer further down a scrolling list: scroll to it first
        rect = self.display.button_rect(button_id) if button is not None else None
        if rect is None:
            return False
        post_tap(rect.center)
        return True

    def _present(self, key: str) -> None:
        reply = self.hub.call("present_id", resident=key)
        if not reply.get("ok"):
            self.failures.append(f"the ID card of {key!r} could not be placed: {reply.get('error')}")
        self.presented = True
        self.presented_in = self.kiosk.session.id
        self._expect_effect()

    def _insert(self, key: str) -> None:
        reply = self.hub.call("insert_permit", resident=key)
        if not reply.get("ok"):
            self.failures.append(f"the permit card of {key!r} could not be inserted: {reply.get('error')}")
        self.inserted = True
        # Kiosk time may pass 3 s after it (not waiting for the printer's status as a technician's
        # card does, sim/waits.py): a silent printer's fault cell is timed by the operation timer.
        self._expect_effect()

    def show_proof(self, number: str) -> None:
        """The cooperative resident holds its proof's QR code to the scanner."""
        self.proofs_shown += 1
        self._show_proof(number)

    def _show_face(self, key: str) -> None:
        if key in FACE_SCENES:  # the scenario's resident, in that scene (the face match needs them)
            # A sequence (walk_in, leaving) is timed from now on the kiosk's clock: a `wait` step
            # after it may jump that clock before the camera's worker reads a frame.
            self.camera.show(key, self.scenario.resident, from_now=True)
        else:
            self.camera.show("face", self.scenario.residents[key].face if key in self.scenario.residents else key)

    def _scan(self, text: str | None, raw: bytes | None = None) -> bool:
        """A code of this text (or these bytes) under the QR scanner, or in front of its camera."""
        qr = self.kiosk.config.devices.qr_scanner
        if not qr.enabled:
            self.failures.append("a QR code was shown, but this kiosk has no QR scanner")
            return True
        data = raw if raw is not None else (text or "").encode("utf-8")
        if qr.driver == "camera":
            # Held up for a few frames, then lowered: a code still in view when the kiosk asks
            # again would be read again (the decoders read a clean frame at the first try).
            self.qr_camera.show_qr(data, frames=QR_HOLD_FRAMES)
        else:
            reply = self.hub.call("scan_payload", hex=data.hex())
            if not reply.get("ok") and reply.get("did") != "gone":
                self.failures.append(f"the QR scanner could not scan: {reply.get('error')}")
        self._expect_effect()
        return True

    def _show_proof(self, number: str) -> bool:
        """That proof document's QR code (sim/proofs.py) under the scanner or in front of its camera."""
        from sim.proofs import proof_payload

        return self._scan(proof_payload(number))

    def _waiting(self) -> float:
        assert self.wait_until is not None
        if self.clock.monotonic() >= self.wait_until:
            self.wait_until = None
            self.step_i += 1
            return 0.0
        if self.virtual and self._settled():
            deadline = self.kiosk.next_deadline()
            target = self.wait_until if deadline is None else min(deadline, self.wait_until)
            self.clock.advance_to(target)
        return self.frame

    # --- steps ---------------------------------------------------------------------------------

    def _try_step(self, view: View) -> bool:
        step = self.steps[self.step_i]
        done = True
        if step.do == "tap":
            done = self._tap(view, step.target or "")
        elif step.do == "present_id":
            self._present(step.resident or self.scenario.resident)
        elif step.do == "lift_id":
            self.hub.call("lift_id")
            self.presented = False
        elif step.do == "face":
            self._show_face(step.resident or self.scenario.resident)
            self.scene_by_step = True
        elif step.do == "insert_permit":
            self._insert(step.resident or self.scenario.resident)
        elif step.do == "take_card":
            done = bool(self.hub.call("take_card").get("ok"))
            if done:
                self._expect_effect()
        elif step.do == "scan":
            # As soon as a screen waits for a QR code: the scanner is on only then.
            raw = bytes.fromhex(step.payload_hex) if step.payload_hex is not None else None
            done = view.waiting_for is Waiting.QR and self._scan(step.payload if raw is None else None, raw)
        elif step.do == "show_proof":
            done = view.waiting_for is Waiting.QR and self._show_proof(step.number or "")
        elif step.do == "wait":
            self.wait_until = self.clock.monotonic() + (step.seconds or 0.0)
            return True
        elif step.do == "expect_screen":
            done = screen_matches(view.screen_id, step.screen or "")
        elif step.do == "stall":
            # The main loop blocks (this hook runs on it) for this long of wall time: the watchdog test.
            time.sleep(step.seconds or 0.0)
        elif step.do == "auto":
            self.step_i = len(self.steps)
            return True
        elif diag.hand_step(self, step):
            pass
        else:
            self.failures.append(f"step {step.do!r}: not supported by this kiosk yet")
            self.step_i += 1
            return True
        if done:
            self.step_i += 1
        return done

    def _finish_steps(self, view: View) -> None:
        while self.step_i < len(self.steps):
            step = self.steps[self.step_i]
            if step.do == "expect_screen" and screen_matches(view.screen_id, step.screen or ""):
                self.step_i += 1
                continue
            if step.do in ("wait", "auto", "stall"):
                self.step_i += 1
                continue
            where = step.target or step.screen or step.resident or ""
            self.failures.append(f"step {self.step_i + 1} ({step.do} {where}) was not reached before the session ended")
            break

    # --- the cooperative resident ----------------------------------------------------------------

    def _cooperate(self, view: View) -> bool:
        if view == self.acted_view:
            return False
        acted = self._act(view)
        if acted:
            self.acted_view = view
        return acted

    def _act(self, view: View) -> bool:
        if self.scenario.diagnostics and view.overlay is None and not self.assist_only:
            return answers.technician(self, view)
        if view.overlay is not None and view.overlay.kind is OverlayKind.CANCEL:
            # Issue 13: cancel asks once; a resident who tapped cancel (a step, or an answer) means it.
            # The one place every scenario's cancel is confirmed; a step may answer "cancel_keep" first.
            return self._tap(view, "cancel_confirm")
        if view.overlay is not None:
            # A resident who is stuck answers the warning twice, then walks away.
            if self.assist_only or self.still_here >= 2:
                return False
            self.still_here += 1
            return self._tap(view, "still_here")
        screen = view.screen
        if view.waiting_for is Waiting.ID_CARD:
            error = view.data.get("error")
            if self.presented and self.presented_in != self.kiosk.session.id:
                # An offered service starts its own session and reads the card again: a resident
                # lifts the card still on the reader and places it again.
                self.hub.call("lift_id")
                self.presented = False
            if not self.presented:
                self._present(self.scenario.resident)
                return True
            if error in ("read_failed", "unknown_card") and self.reread < 3:
                self.reread += 1
                self.hub.call("lift_id")
                self._present(self.scenario.resident)
                return True
            return False
        if view.waiting_for is Waiting.PERMIT_CARD:
            if not self.inserted and not self.assist_only:
                self._insert(self.scenario.resident)
                return True
            # The card came back unusable: a resident tries no further.
            return view.data.get("error") is not None and not self.assist_only and self._tap(view, "cancel")
        if view.waiting_for is Waiting.TAKE_CARD:
            if self.hub.call("take_card").get("ok"):
                self._expect_effect()
                return True
            return False
        if view.waiting_for is Waiting.FACE and not self.scene_by_step:
            self._show_face(self.scenario.who.face)
            self.scene_by_step = not self.assist_only  # shown once; a person's face stays
        if self.assist_only:
            return False
        if screen == "ready.attract":
            return self.kiosk.session.service is None and self._tap(view, "start")
        if screen == "ready.menu":
            if self._tap(view, f"service.{self.scenario.service.value}"):
                return True
            # The service is not offered (its tile is greyed out, or not on the menu at all: a
            # terminal not configured for it): the resident goes away.
            tile = next((b for b in view.buttons if b.id == f"service.{self.scenario.service.value}"), None)
            if (tile is None or not tile.enabled) and self.step_i >= len(self.steps) and self._tap(view, "back"):
                self.walked_away = True
                return True
            return False
        acted = answers.answer(self, view)
        if acted is not None:
            return acted
        if view.waiting_for is Waiting.TOUCH:
            return self._tap(view, "confirm")
        return False

    # --- the report ----------------------------------------------------------------------------

    def report(self, hub_state: dict[str, Any], duration_s: float,
               backend_records: dict[str, Any] | None = None) -> dict[str, Any]:
        summary = self.kiosk.finished[self.start_count] if len(self.kiosk.finished) > self.start_count else None
        printer = hub_state.get("printer", {})
        report: dict[str, Any] = {
            "scenario": self.scenario.name,
            "outcome": summary.outcome if summary else None,
            "reason": summary.reason if summary else None,
            "available_on": summary.available_on if summary else None,
            "screens": list(summary.screens) if summary else [],
            "large_text": summary.large_text if summary else None,
            "final_screen": self.last_view.screen_id if self.last_view else None,
            "cards_issued": printer.get("cards_issued", 0),
            "cards_retained": printer.get("cards_retained", 0),
            "printed": printer.get("records", []),
            "duration_s": round(duration_s, 3),
            "kiosk_clock_s": round(self.clock.monotonic(), 3) if self.virtual else None,
            "screenshots": self.shots,
            "journal_open": len(self.kiosk.journal.unfinished()) if self.kiosk.journal is not None else None,
            "approvals_open": approvals_open(self.kiosk, backend_records),
            "shown": self.shown,
            # issue 12: every photo check's result, in order
            "photo_problems": [r.get("problem") or "accepted" for r in list(self.kiosk.log.recent)
                               if r.get("event") == "PHOTO_CHECKED"],
            # every session of the run, in order: an offer taken starts a second one
            "sessions": [{"service": f.service, "outcome": f.outcome, "reason": f.reason}
                         for f in self.kiosk.finished[self.start_count:]],
        }
        if self.scenario.diagnostics:
            report.update(diag.report_fields(self))
            report["resident_served"] = len(self.kiosk.finished) > self.start_count
        if self.registration is not None:
            report["registration"] = self.registration
        report["menu"] = self.menu
        report.update(endings_check.report_part(self))
        scenario = self.scenario
        if self.switcher is not None and self.switcher.variant.large_text:
            # The resident chose large text: whether age would have switched it is not this run's to show.
            scenario = replace(scenario, expect=replace(scenario.expect, large_text=None))
        audit = getattr(self.display, "audit", None)
        if audit is not None:  # a variant's run: every frame's text was checked (sim/overflow.py)
            report["variant"] = str(self.switcher.variant) if self.switcher is not None else None
            report["overflow"] = audit.as_report()
            self.failures += [f"overflow: {p}" for p in audit.problems[:50]]
        failures = list(self.failures) + check_expectations(scenario, report) \
            + endings_check.check(self.scenario, report)
        if self.scenario.diagnostics:
            failures += diag.check(self.scenario, report)
        report["passed"] = not failures
        report["failures"] = failures
        return report


def approvals_open(kiosk: Kiosk, backend_records: dict[str, Any] | None) -> int | None:
    """Approvals nobody accounts for: approved at the backend and neither confirmed nor voided,
    and applications the kiosk sent that were neither answered nor withdrawn."""
    if backend_records is None:
        return None
    pending = sum(1 for i in backend_records.get("issuances", []) if i.get("state") == "approved")
    return pending + (len(kiosk.journal.open_applications()) if kiosk.journal is not None else 0)


def check_expectations(scenario: Scenario, report: dict[str, Any]) -> list[str]:
    e = scenario.expect
    out: list[str] = []

    def differs(name: str, want: Any, got: Any) -> None:
        if want is not None and want != got:
            out.append(f"expected {name} {want!r}, got {got!r}")

    differs("outcome", e.outcome.value if e.outcome else None, report["outcome"])
    differs("reason", e.reason.value if e.reason else None, report["reason"])
    differs("available_on", e.available_on.isoformat() if e.available_on else None, report["available_on"])
    differs("cards_issued", e.cards_issued, report["cards_issued"])
    differs("cards_retained", e.cards_retained, report["cards_retained"])
    if e.printed_validity is not None:
        printed = [r.get("fields", {}).get("validity") for r in report["printed"]]
        got = printed[-1] if printed else None
        differs("printed_validity", e.printed_validity, got)
    for screen in e.screens_include:
        if not any(screen_matches(s, screen) for s in report["screens"]):
            out.append(f"expected screen {screen!r} to be shown; shown: {', '.join(report['screens'])}")
    if e.chip_valid_until is not None:
        chips = [r.get("chip") for r in report["printed"] if r.get("chip")]
        got = chips[-1].get("valid_until") if chips else None
        differs("chip_valid_until", e.chip_valid_until.isoformat(), got)
    if e.large_text is not None:
        differs("large_text", e.large_text, report.get("large_text"))
    differs("journal_open", e.journal_open, report.get("journal_open"))
    differs("approvals_open", e.approvals_open, report.get("approvals_open"))
    if e.photo_problems is not None:
        differs("photo_problems", list(e.photo_problems), report.get("photo_problems"))
    shown = report.get("shown") or {}
    for key, want in e.shown.items():
        if key not in shown:
            out.append(f"expected the status screen to show {key} {want!r}; it did not show it")
        else:
            differs(f"shown.{key}", want, shown[key])
    if e.next_outcome is not None:
        later = report.get("sessions", [])[1:]
        differs("next_outcome", e.next_outcome.value, later[0]["outcome"] if later else None)
    if "registration" in report or scenario.service.value == "registration":
        from sim import registration_check

        out.extend(registration_check.check(scenario, report))
    if e.final_screen is not None and not screen_matches(report["final_screen"] or "", e.final_screen):
        out.append(f"expected final screen {e.final_screen!r}, got {report['final_screen']!r}")
    return out


# --- running one scenario end to end -------------------------------------------------------------

Builder = Callable[..., Kiosk]


def sim_kiosk_config(config: KioskConfig, scenario: Scenario, hub_ready: dict[str, Any], backend_url: str,
                     workdir: Path, qr_driver: str = "serial", warm_text: bool = False) -> KioskConfig:
    """The kiosk's configuration pointed at the emulators: pty paths, the vpcd reader, the local backend.
    `qr_driver`: serial | camera | absent (no scanner at this kiosk). `warm_text`: sim.toml's [run]."""
    qr = config.devices.qr_scanner
    qr = replace(qr, enabled=qr_driver != "absent", driver=qr.driver if qr_driver == "absent" else qr_driver,
                 port=hub_ready.get("qr_scanner", qr.port), camera="sim")
    devices = replace(
        config.devices,
        id_reader=replace(config.devices.id_reader, port=hub_ready["id_reader"]),
        printer=replace(config.devices.printer, port=hub_ready["printer"]),
        encoder=replace(config.devices.encoder, reader=ENCODER_READER),
        camera=replace(config.devices.camera, driver="sim"),
        qr_scanner=qr,
    )
    backend = replace(config.backend, url=backend_url)
    if scenario.backend_tls:  # the kiosk's mutual-TLS files (sim/pki.py made them in _launch)
        from sim.pki import kiosk_backend_tls

        backend = kiosk_backend_tls(backend, scenario.backend_tls, workdir)
    return replace(
        config,
        terminal=replace(config.terminal, policy=scenario.policy),
        display=replace(config.display, warm_text=config.display.warm_text and warm_text),
        devices=devices,
        backend=backend,
        journal=replace(config.journal, file=str(workdir / "journal.sqlite")),
        logging=replace(config.logging, file=str(workdir / "kiosk.jsonl")),
        diagnostics=replace(config.diagnostics, export_dir=str(workdir / "export")),
    )


class SimRig:
    """The emulators, the backend and a kiosk wired to them: what scenarios and the benchmark run on."""

    def __init__(self, scenario: Scenario, *, config: KioskConfig, sim: SimConfig, build: Builder,
                 make_display: Callable[[KioskConfig], Any], workdir: Path | None = None,
                 attach: dict[str, Any] | None = None, notifier: Any = None, variant: Any = None) -> None:
        """`attach`: emulators already running (`hub`: the hub's ready line, `backend_url`), so a
        kiosk process can be killed and started again against the same devices and records."""
        self.scenario = scenario
        self.variant = variant  # sim/variants.Variant: large text and/or English, every frame checked
        self.attach = attach
        self.config = config
        self.sim = sim
        self.build = build
        self.make_display = make_display
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="kiosk-scenario-"))
        self.hub: Any = None
        self.backend: Any = None
        self.pcscd: Any = None
        self.client: Any = None
        self.kiosk: Kiosk | None = None
        self.display: Any = None
        self.clock: Any = None
        self.camera: Any = None
        self.qr_camera: Any = None
        self.started = False
        self.timings: dict[str, float] = {}
        self.notifier = notifier  # kiosk/sdnotify.py's ServiceNotifier: READY, heartbeats, STOPPING
        self.metrics_server: Any = None  # kiosk/metrics.py's endpoint when [metrics] enabled

    def start(self) -> None:
        from kiosk.clock import FixedDateClock
        from kiosk.logevents import EventLog
        from kiosk.policy import load_pack
        from sim.camera_emu import SceneFrameSource
        from sim.hub import HubClient
        from sim.permit_card_emu import TEST_KEYS

        scenario, sim = self.scenario, self.sim
        if self.attach is not None:
            hub_ready, backend_url = self.attach["hub"], self.attach["backend_url"]
        else:
            hub_ready, backend_url = self._launch()
        self.client = HubClient(hub_ready["control"])
        cfg = sim_kiosk_config(self.config, scenario, hub_ready, backend_url, self.workdir, self.qr_driver,
                               sim.run.warm_text)
        self.clock = VirtualClock(scenario.today) if sim.run.virtual_clock else FixedDateClock(scenario.today)
        self.camera = SceneFrameSource(clock=self.clock.monotonic)
        for fault in scenario.faults:
            if fault.device == "camera" and fault.kind in ("dead", "no_frame"):
                self.camera.fail(True)
        self.qr_camera = SceneFrameSource()
        for fault in scenario.faults:
            if fault.device == "qr_scanner" and self.qr_driver == "camera":
                if fault.kind != "vanish":
                    raise ScenarioError(f"qr_scanner fault {fault.kind!r} is a serial scanner's; the camera "
                                        "driver takes vanish only")
                self.qr_camera.unplug(True)
        taps: tuple[Any, ...] = ()
        if cfg.metrics.enabled:  # [metrics] of the kiosk's config: the same endpoint as in production
            from kiosk.metrics import Metrics, MetricsServer

            metrics = Metrics(cfg.terminal.services)
            self.metrics_server = MetricsServer(metrics, cfg.metrics.port)
            self.metrics_server.start()
            taps = (metrics.tap,)
        log = EventLog(Path(cfg.logging.file), level=cfg.logging.level, clock_now=self.clock.now, taps=taps)
        # chip_keys = false: no test keys, so the kiosk reads its config's keys_file as a terminal does
        keys = TEST_KEYS if scenario.chip_keys else None
        self.kiosk = self.build(cfg, load_pack(scenario.policy), self.clock, log, self.camera, chip_keys=keys,
                                qr_camera_source=self.qr_camera)
        self.display = self.make_display(cfg)
        if self.variant is not None:
            from kiosk.fonts import find_cjk_font
            from sim.overflow import CheckedDisplay

            self.display = CheckedDisplay(self.display, find_cjk_font(cfg.display.font or None))
        # The photo screen's live preview: the camera adapter's channel to the display (issue 12).
        preview = getattr(self.kiosk.ports.camera, "preview", None)
        if preview is not None and hasattr(self.display, "attach_preview"):
            self.display.attach_preview(preview)
        self.cfg = cfg
        self.backend_url = backend_url

    @property
    def qr_driver(self) -> str:
        return self.scenario.qr_scanner or self.sim.qr_scanner.driver

    def _launch(self) -> tuple[dict[str, Any], str]:
        from sim.launcher import start_backend, start_hub
        from sim.pcscd import start_pcscd

        scenario, sim = self.scenario, self.sim
        residents_file = self.workdir / "residents.json"
        residents_file.write_text(json.dumps(residents_json(scenario), ensure_ascii=False), encoding="utf-8")
        hub_devices = ("id_reader", "printer", "permit_card", *(("qr_scanner",) if self.qr_driver == "serial" else ()))
        hub_faults = [f.__dict__ for f in scenario.faults if f.device in hub_devices]
        backend_faults = [
            {"op": f.at or "*", "kind": f.kind, "count": f.count, **({"delay_s": f.delay_s} if f.delay_s else {})}
            for f in scenario.faults if f.device == "backend"
        ]
        t0 = time.monotonic()
        tls = None
        if scenario.backend_tls:  # certificates made now, for this run only (issue 15)
            from sim.pki import make_pki

            pki = make_pki(self.workdir / "pki", self.config.terminal.id)
            tls = (pki.cert("server"), pki.key("server"), pki.ca)
        # The backend needs nothing of the others: it starts first and comes up while they do.
        self.backend = start_backend(self.workdir, residents_file, scenario.today.isoformat(), scenario.policy,
                                     backend_faults, wait=False, tls=tls)
        # One pcscd serves the machine: taken under a machine-wide lock, stopped by its PID.
        self.pcscd = start_pcscd(self.workdir / "pcscd.log")
        tp = time.monotonic()
        self.hub = start_hub(self.workdir, residents_file, hub_faults, pace=sim.serial.pace, printer={
            "hopper": sim.printer.hopper, "hopper_capacity": sim.printer.hopper_capacity,
            "low_threshold": sim.printer.low_threshold, "bin_capacity": sim.printer.bin_capacity,
        }, qr_max_line=self.config.devices.qr_scanner.max_line, wait=False)
        self.hub.wait_ready()
        t1 = time.monotonic()
        self.backend.wait_ready()
        t2 = time.monotonic()
        self.timings.update(pcscd_start_s=tp - t0, hub_start_s=t1 - tp, backend_start_s=t2 - t0)
        scheme = "https" if tls else "http"
        return self.hub.ready, f"{scheme}://127.0.0.1:{self.backend.ready['port']}"

    def play(self, screenshots: Path | None = None, *, assist_only: bool = False,
             on_view: Callable[[View], None] | None = None) -> ScenarioPlayer:
        """One session, from wherever the kiosk is (booting or at rest) to the end of the session.
        `on_view`: called with every new view too (sim/faultmatrix.py injects a fault at a screen)."""
        from kiosk.mainloop import run

        assert self.kiosk is not None
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
        player = ScenarioPlayer(
            self.scenario, self.kiosk, self.display, self.client, self.camera, self.clock,
            max_session_seconds=self.sim.run.max_session_seconds + (self.clock.monotonic() if self.started else 0),
            max_wall_seconds=self.sim.run.max_wall_seconds, screenshots=screenshots, fps=self.cfg.display.fps,
            assist_only=assist_only, qr_camera=self.qr_camera, variant=self.variant,
        )
        if not self.started:
            self.kiosk.start()
            self.started = True
        def new_view(view: View) -> None:
            player.on_new_view(view)
            if on_view is not None:
                on_view(view)

        run(self.kiosk, self.display, fps=self.cfg.display.fps, hook=player, on_new_view=new_view,
            watch=self.notifier)
        # Let in-flight work (a confirm, a void, a retract) finish before anyone reads the records.
        # Open journal rows are settled in the background with backoff: let that virtual time pass too.
        settle_until = time.monotonic() + 5.0
        while time.monotonic() < settle_until:
            due = self.kiosk.settle_due()
            if self.kiosk.is_idle() and due is None:
                break
            if self.kiosk.is_idle() and due is not None and isinstance(self.clock, VirtualClock):
                self.clock.advance_to(due)
            self.kiosk.pump(0.05)
        return player

    def hub_state(self) -> dict[str, Any]:
        return self.client.call("state")

    def backend_records(self) -> dict[str, Any] | None:
        """The emulated backend's records (/sim/records: nothing personal), or None if it is gone."""
        import httpx

        from sim.launcher import backend_request

        pki = self.workdir / "pki"  # the scenario's own terminal certificate, whatever the kiosk presents
        cert = (str(pki / "client.pem"), str(pki / "client.key")) if self.cfg.backend.client_cert else None
        try:
            reply = backend_request("GET", self.cfg.backend.url, "/sim/records", cert=cert)
        except httpx.HTTPError:
            return None
        return reply.json() if reply.is_success else None

    def close(self, keep_workdir: bool = False) -> None:
        if self.notifier is not None:
            self.notifier.stopping()
        if self.kiosk is not None:
            self.kiosk.stop()
        if self.display is not None:
            self.display.close()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        if self.client is not None:
            self.client.close()
        # The emulators are told to stop all at once, then waited for one by one.
        procs = [p for p in (self.hub, self.backend) if p is not None]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.stop()
        if self.pcscd is not None:  # last: the hub's vpcd slot hangs up first
            self.pcscd.stop()
        if not keep_workdir and self.attach is None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def run_scenario(path: Path, report_path: Path | None, screenshots: Path | None, *, config: KioskConfig,
                 sim: SimConfig, build: Builder, make_display: Callable[[KioskConfig], Any],
                 keep_workdir: bool = False, notifier: Any = None, variant: Any = None) -> int:
    """Exit code: 0 when every expectation holds, 1 when one fails, 2 when the scenario is malformed."""
    from sim.launcher import LaunchError

    try:
        scenario = load(path)
    except ScenarioError as exc:
        print(f"scenario {path}: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    rig = SimRig(scenario, config=config, sim=sim, build=build, make_display=make_display, notifier=notifier,
                 variant=variant)
    report: dict[str, Any]
    try:
        rig.start()
        player = rig.play(screenshots)
        hub_state = rig.hub_state()
        if screenshots is not None:
            for record in hub_state.get("printer", {}).get("records", []):
                face = record.get("face_png")
                if face and Path(face).is_file():
                    target = screenshots / f"printed_{Path(face).name}"
                    shutil.copyfile(face, target)
                    record["face_png"] = str(target)
        # A diagnostics scenario has a technician and maybe no resident at all.
        resident = scenario.residents.get(scenario.resident)
        if scenario.service.value == "registration" or (resident is not None and resident.declaration is not None):
            from sim import registration_check

            facts = registration_check.registration_facts(rig.backend_url, scenario)
            # check_expectations reads this part of the report: it must be there before the report is made
            player.registration = registration_check.report_part(facts, player.receipt_qr, scenario)
        report = player.report(hub_state, time.monotonic() - started, rig.backend_records())
        if keep_workdir:
            report["workdir"] = str(rig.workdir)
    except ScenarioError as exc:  # what only the rig can tell (a fault the chosen QR driver cannot take)
        print(f"scenario {path}: {exc}", file=sys.stderr)
        return 2  # the rig is closed below
    except LaunchError as exc:
        report = {"scenario": scenario.name, "passed": False, "failures": [str(exc)],
                  "duration_s": round(time.monotonic() - started, 3)}
    except Exception as exc:
        traceback.print_exc()
        report = {"scenario": scenario.name, "passed": False,
                  "failures": [f"the run crashed: {type(exc).__name__}: {exc}" + "".join(
                      p.state() for p in (rig.hub, rig.backend) if p is not None)],
                  "duration_s": round(time.monotonic() - started, 3)}
    finally:
        rig.close(keep_workdir)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if report.get("passed") else 1
