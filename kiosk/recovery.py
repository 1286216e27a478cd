"""What to do, at boot, with a journal row that never finished (DESIGN.md, Issuing a card).

Pure decisions, no I/O: `plan(row, printer, backend)` reads the row's history, what the
printer's sensors see and, when reachable, what the backend knows, and returns the actions
that resolve the row. The rules are one table, `RULES`; `docs/journal.md` explains them.

Physical facts decide; backend facts only spare a call whose answer is already known (the
action becomes RECORD). The controller executes a plan in order, journaling each action
around its `step` (`step_started` before, `step_done` after; RECORD is `Journal.record`;
MARK_FINAL is `Journal.finish`). When an action fails, or RETURN_CARD ends with the card
retracted after the take-card timeout, it stops, reads the row and the printer again and
plans again: every plan moves the row forward, so this ends once the devices answer. A
jammed card makes RETRACT_TO_BIN fail every time: that is for a technician
(out_of_service), and the next plan starts where the journal stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from devices.status import DeviceState, DeviceStatus, MediaPosition
from kiosk.journal import Final, JournalRow, Kind, Step


class CardPlace(StrEnum):
    INSIDE = "inside"  # in the print station, at the encoder, or jammed
    AT_SLOT = "at_slot"  # at the front slot, within the resident's reach
    NONE = "none"


@dataclass(frozen=True)
class PrinterFacts:
    card: CardPlace
    bin_count: int | None = None  # the reject bin's count, when the printer reports one

    @classmethod
    def from_status(cls, status: DeviceStatus) -> PrinterFacts | None:
        """The printer's sensors, or None when the printer does not answer.

        Without an answer the media position is only a default: planning on it would
        confirm a presented card that may still be inside. Plan nothing until it answers.
        """
        if status.state in (DeviceState.OFFLINE, DeviceState.NO_DEVICE):
            return None
        count = bin_count(status)
        if status.media in (MediaPosition.NONE, MediaPosition.RETRACTED):
            return cls(CardPlace.NONE, count)
        if status.media is MediaPosition.ENTERING:  # ST0 31: at the front slot
            return cls(CardPlace.AT_SLOT, count)
        return cls(CardPlace.INSIDE, count)  # present (print station, encoder), jammed, latched


def bin_count(status: DeviceStatus | None) -> int | None:
    """The reject bin's count in a printer status, or None (no status, or a printer that counts nothing)."""
    if status is None:
        return None
    return next((s.count for s in status.supplies if s.name == "reject_bin"), None)


class LastBinCount:
    """The reject bin's count in the printer's latest status, else in the last one that reported it
    (taken when made, and at every call). A printer that stops answering is published offline, with
    no supplies; its bin moves meanwhile only by the card in play (one card at a time), whose
    retract is what the count is journaled for. Fault matrix card_rewrite/printer/silent/@read_chip:
    the printer fell silent before the TAKE_IN, a hand took the card from the slot, and the intake's
    retract journaled no count, so the boot booked the card retained while the bin never moved."""

    def __init__(self, status: Callable[[], DeviceStatus | None]) -> None:
        self._status = status
        self._known: int | None = None
        self()

    def __call__(self) -> int | None:
        now = bin_count(self._status())
        if now is not None:
            self._known = now
        return self._known


class BackendStatus(StrEnum):
    PENDING = "pending"  # approved, neither confirmed nor voided
    CONFIRMED = "confirmed"
    VOIDED = "voided"


@dataclass(frozen=True)
class BackendFacts:
    status: BackendStatus


class ActionKind(StrEnum):
    RETRACT_TO_BIN = "retract_to_bin"
    RETURN_CARD = "return_card"  # rewrite only: present the resident's card and wait for it to be taken
    RECORD = "record"  # journal `step` done; no device or backend call (it already happened)
    CONFIRM_ISSUANCE = "confirm_issuance"
    VOID_APPROVAL = "void_approval"
    MARK_FINAL = "mark_final"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    step: Step | None = None  # the journal step to record around the action
    final: Final | None = None  # MARK_FINAL only


@dataclass(frozen=True)
class RecoveryPlan:
    row_id: int | None  # None: a card in the machine that no row accounts for
    rule: str  # the table entry that decided, for the log
    actions: tuple[Action, ...]

    @property
    def final(self) -> Final | None:
        return next((a.final for a in self.actions if a.kind is ActionKind.MARK_FINAL), None)


class Phase(StrEnum):
    """Where a row's card is, according to the journal alone."""

    # new permit
    NO_CARD = "no_card"  # no pick ever started
    PICKING = "picking"  # the pick began and never finished: a card may or may not have left the hopper
    IN_PRINTER = "in_printer"  # picked, not yet sent to the slot
    PRESENTING = "presenting"  # sent to the slot (the move began), not seen taken
    TAKEN = "taken"  # seen taken by the resident
    # rewrite
    UNCHANGED = "unchanged"  # the chip write never began: chip and face are the old ones
    # The chip write began but the face is not (completely) rewritten, or a void already
    # told the backend the rewrite failed: chip, face and backend may disagree.
    MIXED = "mixed"
    REWRITTEN = "rewritten"  # chip and face both rewritten
    RETURNING = "returning"  # the rewritten card was sent to the slot, not seen taken
    RETURNING_UNCHANGED = "returning_unchanged"
    RETURNED = "returned"  # the resident took the rewritten card
    RETURNED_UNCHANGED = "returned_unchanged"
    # both
    RETRACTING = "retracting"  # a retract began and never finished
    IN_BIN = "in_bin"


def phase(row: JournalRow) -> Phase:
    """The row's phase; the first test that holds wins, later steps before earlier ones."""
    began, done = row.began, row.completed
    checks: tuple[tuple[bool, Phase], ...]
    if row.kind is Kind.NEW_PERMIT:
        checks = (
            (done(Step.TAKEN), Phase.TAKEN),  # before the retract: a resident can win that race
            (done(Step.RETRACTED), Phase.IN_BIN),
            (began(Step.RETRACTED), Phase.RETRACTING),
            (began(Step.PRESENTED), Phase.PRESENTING),
            (done(Step.PICKED), Phase.IN_PRINTER),
            (began(Step.PICKED), Phase.PICKING),
        )
        default = Phase.NO_CARD
    else:
        checks = (
            (done(Step.RETURNED), Phase.RETURNED),
            (done(Step.RETURNED_UNCHANGED), Phase.RETURNED_UNCHANGED),
            (done(Step.RETRACTED), Phase.IN_BIN),
            (began(Step.RETRACTED), Phase.RETRACTING),
            (began(Step.RETURNED), Phase.RETURNING),
            (began(Step.RETURNED_UNCHANGED), Phase.RETURNING_UNCHANGED),
            (not began(Step.CHIP_UPDATED), Phase.UNCHANGED),
            # A void already sent means the backend no longer expects the new validity.
            (done(Step.FACE_REWRITTEN) and not began(Step.VOIDED), Phase.REWRITTEN),
        )
        default = Phase.MIXED
    return next((p for holds, p in checks if holds), default)


class Card(StrEnum):
    """What the rule does with the card."""

    NOTHING = "nothing"
    RETRACT = "retract"
    RETURN = "return"  # RETURN_CARD with the rewrite's return step
    SEEN_TAKEN = "seen_taken"  # RECORD the step by which it left: it is gone from the slot


class Backend(StrEnum):
    CONFIRM = "confirm"
    VOID = "void"


@dataclass(frozen=True)
class Rule:
    name: str
    card: Card
    backend: Backend
    final: Final


ANY: None = None  # a rule that holds wherever the sensors see the card
IN, SLOT, GONE = CardPlace.INSIDE, CardPlace.AT_SLOT, CardPlace.NONE
N, R = Kind.NEW_PERMIT, Kind.REWRITE

# (kind, phase, card place or ANY) -> what to do. A card place wins over ANY.
RULES: dict[tuple[Kind, Phase, CardPlace | None], Rule] = {
    # --- new permit --------------------------------------------------------------------
    # The approval never got a card: void it.
    (N, Phase.NO_CARD, ANY): Rule("approval_without_card", Card.NOTHING, Backend.VOID, Final.VOIDED),
    # The pick was cut short and a card is in the printer: it left the hopper; to the bin.
    (N, Phase.PICKING, IN): Rule("pick_cut_short_card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (N, Phase.PICKING, SLOT): Rule("pick_cut_short_card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    # The pick was cut short and the printer is empty: no card left the hopper (a feed jam
    # would still be inside); the approval has no card.
    (N, Phase.PICKING, GONE): Rule("pick_never_fed", Card.NOTHING, Backend.VOID, Final.VOIDED),
    # A picked card still inside or at the slot, never seen taken: to the bin, never handed out.
    (N, Phase.IN_PRINTER, IN): Rule("card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (N, Phase.IN_PRINTER, SLOT): Rule("card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (N, Phase.PRESENTING, IN): Rule("card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (N, Phase.PRESENTING, SLOT): Rule("card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    # A picked card never sent to the slot is gone: only a technician clearing a jam takes a
    # card out that way. It did not reach a resident.
    (N, Phase.IN_PRINTER, GONE): Rule("card_removed_by_technician", Card.NOTHING, Backend.VOID, Final.RETAINED),
    # A card sent to the slot is gone: the resident took it. Confirm it.
    (N, Phase.PRESENTING, GONE): Rule("presented_card_gone", Card.SEEN_TAKEN, Backend.CONFIRM, Final.ISSUED),
    # The resident took the card; the confirmation may not have gone out or been answered.
    (N, Phase.TAKEN, ANY): Rule("card_taken", Card.NOTHING, Backend.CONFIRM, Final.ISSUED),
    # --- rewrite -----------------------------------------------------------------------
    # The chip was never touched: the card is the resident's, coherent; give it back.
    (R, Phase.UNCHANGED, IN): Rule("unchanged_card_inside", Card.RETURN, Backend.VOID, Final.RETURNED),
    (R, Phase.UNCHANGED, SLOT): Rule("unchanged_card_inside", Card.RETURN, Backend.VOID, Final.RETURNED),
    (R, Phase.RETURNING_UNCHANGED, IN): Rule("unchanged_card_inside", Card.RETURN, Backend.VOID, Final.RETURNED),
    (R, Phase.RETURNING_UNCHANGED, SLOT): Rule("unchanged_card_inside", Card.RETURN, Backend.VOID, Final.RETURNED),
    # Chip and face both rewritten: coherent; give it back and confirm the rewrite.
    (R, Phase.REWRITTEN, IN): Rule("rewritten_card_inside", Card.RETURN, Backend.CONFIRM, Final.RETURNED),
    (R, Phase.REWRITTEN, SLOT): Rule("rewritten_card_inside", Card.RETURN, Backend.CONFIRM, Final.RETURNED),
    (R, Phase.RETURNING, IN): Rule("rewritten_card_inside", Card.RETURN, Backend.CONFIRM, Final.RETURNED),
    (R, Phase.RETURNING, SLOT): Rule("rewritten_card_inside", Card.RETURN, Backend.CONFIRM, Final.RETURNED),
    # Chip and face may disagree (chip written, face old or half printed): such a card would
    # fail every check that compares chip and face, so it does not go back; to the bin.
    (R, Phase.MIXED, IN): Rule("incoherent_card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (R, Phase.MIXED, SLOT): Rule("incoherent_card_inside", Card.RETRACT, Backend.VOID, Final.RETAINED),
    # A card never sent to the slot is gone: a technician took it out. Not returned.
    (R, Phase.UNCHANGED, GONE): Rule("card_removed_by_technician", Card.NOTHING, Backend.VOID, Final.RETAINED),
    (R, Phase.MIXED, GONE): Rule("card_removed_by_technician", Card.NOTHING, Backend.VOID, Final.RETAINED),
    (R, Phase.REWRITTEN, GONE): Rule("card_removed_by_technician", Card.NOTHING, Backend.VOID, Final.RETAINED),
    # A card sent to the slot is gone: the resident took it.
    (R, Phase.RETURNING, GONE): Rule("returned_card_gone", Card.SEEN_TAKEN, Backend.CONFIRM, Final.RETURNED),
    (R, Phase.RETURNING_UNCHANGED, GONE): Rule("returned_card_gone", Card.SEEN_TAKEN, Backend.VOID, Final.RETURNED),
    # The resident has the card; only the backend is left.
    (R, Phase.RETURNED, ANY): Rule("card_returned", Card.NOTHING, Backend.CONFIRM, Final.RETURNED),
    (R, Phase.RETURNED_UNCHANGED, ANY): Rule("card_returned", Card.NOTHING, Backend.VOID, Final.RETURNED),
    # --- both ----------------------------------------------------------------------------
    # A retract was cut short and the card is still there: finish it. Once the kiosk decided
    # to retain a card it never hands it back (the resident has gone).
    (N, Phase.RETRACTING, IN): Rule("retract_cut_short", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (N, Phase.RETRACTING, SLOT): Rule("retract_cut_short", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (R, Phase.RETRACTING, IN): Rule("retract_cut_short", Card.RETRACT, Backend.VOID, Final.RETAINED),
    (R, Phase.RETRACTING, SLOT): Rule("retract_cut_short", Card.RETRACT, Backend.VOID, Final.RETAINED),
    # A retract was cut short and the printer is empty: the card reached the bin. (Had the
    # resident snatched it first, the taken event would be journaled: see TAKEN above.)
    (N, Phase.RETRACTING, GONE): Rule("retract_finished", Card.NOTHING, Backend.VOID, Final.RETAINED),
    (R, Phase.RETRACTING, GONE): Rule("retract_finished", Card.NOTHING, Backend.VOID, Final.RETAINED),
    # The card is in the bin; only the backend is left.
    (N, Phase.IN_BIN, ANY): Rule("card_in_bin", Card.NOTHING, Backend.VOID, Final.RETAINED),
    (R, Phase.IN_BIN, ANY): Rule("card_in_bin", Card.NOTHING, Backend.VOID, Final.RETAINED),
}

# The journal step each backend answer is recorded as, and the backend status that already says it.
_BACKEND_STEP = {Backend.CONFIRM: Step.CONFIRMED, Backend.VOID: Step.VOIDED}
_ALREADY = {Backend.CONFIRM: BackendStatus.CONFIRMED, Backend.VOID: BackendStatus.VOIDED}
_CALL = {Backend.CONFIRM: ActionKind.CONFIRM_ISSUANCE, Backend.VOID: ActionKind.VOID_APPROVAL}


# A retract of a card at the slot the printer never answered (silent, unplugged), and the card is
# gone while the reject bin counts what it counted when the retract began: the card left through the
# slot, so a hand took it (issue 15, the fault matrix: printer silent at take_card / return_card).
_TAKEN_DURING_RETRACT = {
    N: Rule("taken_during_retract", Card.SEEN_TAKEN, Backend.CONFIRM, Final.ISSUED),
    R: Rule("taken_during_retract", Card.SEEN_TAKEN, Backend.CONFIRM, Final.RETURNED),
}


def _retract_never_reached_bin(row: JournalRow, p: Phase, printer: PrinterFacts) -> bool:
    at_slot = row.began(Step.PRESENTED) if row.kind is Kind.NEW_PERMIT else row.began(Step.RETURNED)
    return (p is Phase.RETRACTING and printer.card is CardPlace.NONE and at_slot and not row.began(Step.VOIDED)
            and row.bin_before is not None and printer.bin_count == row.bin_before)


def rule_for(row: JournalRow, printer: PrinterFacts) -> Rule:
    p = phase(row)
    if _retract_never_reached_bin(row, p, printer):
        return _TAKEN_DURING_RETRACT[row.kind]
    found = RULES.get((row.kind, p, printer.card)) or RULES.get((row.kind, p, ANY))
    if found is None:  # the table is total; a test walks every reachable row
        raise LookupError(f"no recovery rule for {row.kind} in {p} with the card {printer.card}")
    return found


def plan(row: JournalRow, printer: PrinterFacts, backend_known: BackendFacts | None) -> RecoveryPlan:
    if row.finished:
        return RecoveryPlan(row.id, "finished", ())
    rule = rule_for(row, printer)
    actions: list[Action] = []
    if rule.card is Card.RETRACT:
        actions.append(Action(ActionKind.RETRACT_TO_BIN, Step.RETRACTED))
    elif rule.card is Card.RETURN:
        actions.append(Action(ActionKind.RETURN_CARD, _return_step(row)))
    elif rule.card is Card.SEEN_TAKEN:
        actions.append(Action(ActionKind.RECORD, _leaving_step(row)))
    step = _BACKEND_STEP[rule.backend]
    if not row.completed(step):
        if backend_known is not None and backend_known.status is _ALREADY[rule.backend]:
            actions.append(Action(ActionKind.RECORD, step))
        else:
            # Also when the backend says the opposite: the card's whereabouts decide, and the
            # backend's refusal then reaches an operator through the log.
            actions.append(Action(_CALL[rule.backend], step))
    actions.append(Action(ActionKind.MARK_FINAL, final=rule.final))
    return RecoveryPlan(row.id, rule.name, tuple(actions))


def plan_stray_card(unfinished: Sequence[JournalRow], printer: PrinterFacts) -> RecoveryPlan | None:
    """A card in the machine that no unfinished row accounts for goes to the bin.

    It can be a resident's card inserted for a rewrite whose row never began, or a card a
    technician left behind. Nobody is at the kiosk to give it to.
    """
    if printer.card is CardPlace.NONE or any(r.card_in_play for r in unfinished):
        return None
    return RecoveryPlan(None, "stray_card", (Action(ActionKind.RETRACT_TO_BIN),))


def _return_step(row: JournalRow) -> Step:
    unchanged = not row.began(Step.CHIP_UPDATED)
    return Step.RETURNED_UNCHANGED if unchanged else Step.RETURNED


def _leaving_step(row: JournalRow) -> Step:
    if row.kind is Kind.NEW_PERMIT:
        return Step.TAKEN
    return Step.RETURNED if row.began(Step.RETURNED) else Step.RETURNED_UNCHANGED
