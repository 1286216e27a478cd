"""Open rows settled with the backend while the kiosk runs, not only at the next boot.

A confirm, void or rewrite confirmation that got no answer leaves its journal row open. The
settler sends the same request again (same request id: a replay, never a double), with
backoff, whatever the kiosk is doing: a resident's approval is not held until a reboot. The
void of a new permit's approval goes out even while its card is still jammed inside (it will
never be handed out); anything else waits until the card's whereabouts are settled.
What to send is what recovery would plan (kiosk/recovery.py), so the two cannot disagree.

Applications journaled before they were sent and never answered (a lost reply, a power cut
before the approval was journaled) are withdrawn by their request id: the backend voids the
approval it may have made, or refuses the request if it ever arrives, so no approval is left
that nobody accounts for. None goes out while an application is under way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.backend_types import ApplicationVoided, BackendFailure, FailureKind
from kiosk.commands import BackendCommand, BackendOp
from kiosk.journal import Journal, JournalRow, Kind, Step, attempt
from kiosk.logevents import EventLog, LogEvent
from kiosk.reasons import Reason
from kiosk.recovery import ActionKind, CardPlace, PrinterFacts, plan
from kiosk.recovery_run import Facts, backend_command, settled

FIRST_DELAY = 5.0
MAX_DELAY = 300.0


@dataclass(frozen=True)
class Call:
    row_id: int | None  # None: an application's withdrawal (`command.application`)
    step: Step | None
    command: BackendCommand

    @property
    def key(self) -> object:
        return self.row_id if self.row_id is not None else ("application", self.command.application)


class Settler:
    def __init__(self, journal: Journal, facts: Facts, log: EventLog) -> None:
        self.journal = journal
        self.facts = facts
        self.log = log
        self.failures = 0
        self.in_flight: set[object] = set()

    @property
    def delay(self) -> float:
        return min(MAX_DELAY, FIRST_DELAY * (2 ** self.failures))

    def due(self, busy_row: int | None, applying: bool = False) -> list[Call]:
        """The calls to send now; `busy_row` belongs to the card job under way and is left alone,
        and while `applying` (an application is under way) no application is withdrawn."""
        calls = [] if applying else self._withdrawals()
        for row in self.journal.unfinished():
            if row.id == busy_row or row.id in self.in_flight:
                continue
            call = self._call_for(row)
            if call is not None:
                attempt(self.journal, row.id, "step_started", call.step)  # journaled before it goes out
                calls.append(call)
                self.in_flight.add(row.id)
        return calls

    def _withdrawals(self) -> list[Call]:
        calls = []
        for rid in self.journal.open_applications():
            call = Call(None, None, BackendCommand(BackendOp.VOID_APPLICATION, f"{rid}-withdraw", "",
                                                   reason=Reason.BACKEND_UNAVAILABLE, application=rid))
            if call.key not in self.in_flight:
                self.in_flight.add(call.key)
                calls.append(call)
        return calls

    def waiting(self, busy_row: int | None) -> bool:
        """Some row has a backend part the settler could send, or an application is unanswered."""
        return bool(self.journal.open_applications()) or any(
            r.id != busy_row and self._call_for(r) is not None for r in self.journal.unfinished())

    def answered(self, call: Call, result: Any) -> bool:
        """Journals the answer; True when the backend answered (or refused: it settled it already)."""
        self.in_flight.discard(call.key)
        if call.row_id is None:
            return self._withdrawn(call, result)
        answer = settled(result)
        if answer is None:
            self.failures += 1
            return False
        self.failures = 0
        assert call.step is not None
        attempt(self.journal, call.row_id, "step_done", call.step)
        row = self.journal.get(call.row_id)
        facts = self._facts_for(row)
        if facts is not None:
            p = plan(row, facts, None)
            if all(a.kind in (ActionKind.RECORD, ActionKind.MARK_FINAL) for a in p.actions):
                for a in p.actions:
                    if a.kind is ActionKind.RECORD and a.step is not None:
                        attempt(self.journal, row.id, "record", a.step)
                    elif a.final is not None:
                        attempt(self.journal, row.id, "finish", a.final)
        self.log.emit(LogEvent.RECOVERY_ACTION, row=row.id, rule="settle", action=str(call.command.op),
                      disposition="ok" if answer else "backend_disagrees")
        return True

    def _withdrawn(self, call: Call, result: Any) -> bool:
        rid = call.command.application
        assert rid is not None
        if isinstance(result, ApplicationVoided):
            self.failures = 0
            self.journal.application_voided(rid)
            self.log.emit(LogEvent.RECOVERY_ACTION, row=None, rule="settle", action=str(call.command.op),
                          disposition=result.state)
            return True
        if isinstance(result, BackendFailure) and result.kind is FailureKind.REFUSED_REQUEST:
            # 409: the backend holds this application as issued, which no card of this kiosk is:
            # nothing to withdraw here; the discrepancy is logged for a technician.
            self.journal.application_answered(rid)
            self.log.emit(LogEvent.RECOVERY_ACTION, row=None, rule="settle", action=str(call.command.op),
                          disposition="backend_disagrees")
            return True
        self.failures += 1
        return False

    def _facts_for(self, row: JournalRow) -> PrinterFacts | None:
        return self.facts() if row.card_in_play else PrinterFacts(CardPlace.NONE)

    def _call_for(self, row: JournalRow) -> Call | None:
        facts = self._facts_for(row)
        if facts is None:
            return None
        p = plan(row, facts, None)
        card_pending = any(a.kind in (ActionKind.RETRACT_TO_BIN, ActionKind.RETURN_CARD) for a in p.actions)
        for a in p.actions:
            if a.kind not in (ActionKind.CONFIRM_ISSUANCE, ActionKind.VOID_APPROVAL) or a.step is None:
                continue
            if row.kind is Kind.REWRITE and a.kind is ActionKind.VOID_APPROVAL:
                return None  # a rewrite's void is local: recovery records it
            if card_pending and not (row.kind is Kind.NEW_PERMIT and a.kind is ActionKind.VOID_APPROVAL):
                return None
            if not row.began(a.step) and a.kind is not ActionKind.VOID_APPROVAL:
                return None  # a confirmation never sent is recovery's to decide at boot
            command = backend_command(row, a.step)
            return Call(row.id, a.step, command) if command is not None else None
        return None
