"""Diagnostics' self-tests, run one after another: each gathers its facts from the device (a
status it reports now, the technician card read again at the encoder, a camera frame, a backend
health call timed), is judged by kiosk/selftest.py, and is stored with its cause
(kiosk/diagnostics_store.py: the latest by row order), audited and logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from devices.events import CameraFailed, PhotoCaptured
from devices.status import DeviceKind
from kiosk import selftest as stt
from kiosk.diagnostics_store import AuditAction
from kiosk.diagnostics_store import Outcome as TestOutcome
from kiosk.logevents import LogEvent
from kiosk.printer_test import TEST_PRINT

CAMERA_REQUEST = 900_001  # a request id no resident's capture uses


class Tests:
    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.core = flow.core
        self.queue: list[tuple[DeviceKind, stt.Test]] = []
        self.current: tuple[DeviceKind, stt.Test] | None = None

    @property
    def running(self) -> bool:
        return self.current is not None

    def start(self) -> None:
        a = self.core.availability
        card_out = self.flow.card is None  # given back for a printer test: nothing to read
        self.queue = [(d, t) for d in stt.BOARD_ORDER for t in stt.TESTS[d]
                      if (d in a.status or d is DeviceKind.BACKEND) and not (t is stt.Test.CARD and card_out)]
        self._next()

    def _next(self) -> None:
        self.current = None
        self.flow.st.testing = ""
        while self.queue:
            device, test = self.queue.pop(0)
            self.current = (device, test)
            self.flow.st.testing = f"{device.value}.{test.value}"
            if self._run(device, test):
                return  # its answer comes later
        self.current = None
        self.flow.st.testing = ""
        self.flow.board.refresh()
        self.flow.tests_done()

    def _run(self, device: DeviceKind, test: stt.Test) -> bool:
        """Starts one test; True when its verdict comes later, False when it was judged now."""
        a = self.core.availability
        if test is stt.Test.CARD:
            card = self.flow.card
            if card is None or not a.is_up(DeviceKind.PERMIT_CARD):
                self._verdict(stt.failed(device, test, "no_card" if card is None else "no_reader"), later=False)
                return False
            self.flow._carry_out(card.read_again())
            return True
        if test is stt.Test.FRAME:
            if not a.is_up(DeviceKind.CAMERA):
                self._verdict(stt.status_test(device, test, a.status.get(device)), later=False)
                return False
            self.core.runtime.pending.add("camera")
            self.core.ports.camera.capture(CAMERA_REQUEST)
            return True
        if test is stt.Test.HEALTH:
            backend = self.core.ports.backend

            def timed() -> tuple[bool, int]:
                started = time.monotonic()
                up = bool(backend.health())
                return up, round((time.monotonic() - started) * 1000)

            self.core.runtime.call("diag_health", timed, "", then=self._health)
            return True
        if device is DeviceKind.PRINTER and a.status.get(device) is not None:
            # A STATUS round trip now: the printer's answer (or its silence), not the last poll's.
            self.core.runtime.pending.add("diag.printer_status")
            self.core.ports.printer.refresh_status()
            return True
        self._verdict(stt.status_test(device, test, a.status.get(device)), later=False)
        return False

    def printer_status(self) -> None:
        """The printer's status arrived (a refresh always posts one)."""
        if self.current == (DeviceKind.PRINTER, stt.Test.STATUS) and "diag.printer_status" in self.core.runtime.pending:
            self.core.runtime.pending.discard("diag.printer_status")
            self._verdict(stt.status_test(DeviceKind.PRINTER, stt.Test.STATUS,
                                          self.core.availability.status.get(DeviceKind.PRINTER)))

    # --- answers ------------------------------------------------------------------------------

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {PhotoCaptured: self._frame, CameraFailed: self._camera_failed}

    def _frame(self, event: PhotoCaptured) -> None:
        self.core.runtime.pending.discard("camera")
        if self.current == (DeviceKind.CAMERA, stt.Test.FRAME) and event.request_id == CAMERA_REQUEST:
            self._verdict(stt.frame_test(event.width, event.height, event.rgb))

    def _camera_failed(self, event: CameraFailed) -> None:
        self.core.runtime.pending.discard("camera")
        if self.current == (DeviceKind.CAMERA, stt.Test.FRAME) and event.request_id == CAMERA_REQUEST:
            self._verdict(stt.failed(DeviceKind.CAMERA, stt.Test.FRAME, event.error.value))

    def _health(self, result: Any) -> None:
        if self.current != (DeviceKind.BACKEND, stt.Test.HEALTH):
            return
        up, ms = result if isinstance(result, tuple) else (False, 0)
        self._verdict(stt.health_test(up, ms))

    def card_read(self, ok: bool, error: str) -> None:
        if self.current == (DeviceKind.PERMIT_CARD, stt.Test.CARD):
            verdict = stt.passed(DeviceKind.PERMIT_CARD, stt.Test.CARD) if ok else \
                stt.failed(DeviceKind.PERMIT_CARD, stt.Test.CARD, error or "unreadable")
            self._verdict(verdict)

    def on_timer(self, name: str) -> None:
        return None

    def path_blocked(self, cause: str) -> None:
        """The technician card could not be given back to free the card path: the printer test fails so."""
        test = stt.Test.PRINT if self.flow.job == TEST_PRINT else stt.Test.FEED
        self._verdict(stt.failed(DeviceKind.PRINTER, test, cause), later=False)
        self.flow.board.refresh()

    def printer_job(self, ptest: Any) -> None:
        """The feed test or the test print ended: its verdict, with the card's way as its cause."""
        test = stt.Test.PRINT if ptest.bits else stt.Test.FEED
        if ptest.retracted and not ptest.failed:
            verdict = stt.passed(DeviceKind.PRINTER, test, "card=reject_bin")
        else:
            verdict = stt.failed(DeviceKind.PRINTER, test, ptest.failed or ("stuck" if ptest.stuck else "failed"))
        self._verdict(verdict, later=False)

    def _verdict(self, v: stt.Verdict, later: bool = True) -> None:
        store = self.flow.store
        outcome = TestOutcome.PASS if v.passed else TestOutcome.FAIL
        if store is not None:
            store.record_selftest(v.device.value, v.test.value, outcome, v.message)
        self.flow.audit(AuditAction.SELFTEST, f"{v.device.value}.{v.test.value}:{outcome.value}")
        self.core.log.emit(LogEvent.SELFTEST_RESULT, device=v.device, test=v.test.value, outcome=outcome.value,
                           message=v.message)
        if later:
            self._next()
