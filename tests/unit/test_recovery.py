"""Recovery decisions: every rule of the table, and the invariants over every reachable row.

These check the plans against the journal's own pure rules; the real procedure that carries
plans out is tested over the same rows, on a real journal, in test_recovery_run.py.

Rows are built with the journal's own pure rules (`advance`, `record`, `conclude`), and
every plan is executed against them: a plan the journal would refuse fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition
from kiosk.journal import (
    SEQUENCE,
    SIDE,
    Final,
    JournalError,
    JournalRow,
    Kind,
    Mark,
    Step,
    StepStatus,
    advance,
    conclude,
    record,
)
from kiosk.recovery import (
    ANY,
    RULES,
    Action,
    ActionKind,
    BackendFacts,
    BackendStatus,
    CardPlace,
    PrinterFacts,
    RecoveryPlan,
    phase,
    plan,
    plan_stray_card,
)

T0 = datetime(2025, 3, 1, 9, 0)
N, R = Kind.NEW_PERMIT, Kind.REWRITE
IN, SLOT, GONE = CardPlace.INSIDE, CardPlace.AT_SLOT, CardPlace.NONE
BACKENDS: tuple[BackendFacts | None, ...] = (None, *(BackendFacts(s) for s in BackendStatus))
STARTED, DONE = StepStatus.STARTED, StepStatus.DONE


def opening(kind: Kind) -> JournalRow:
    first = SEQUENCE[kind][0]
    return JournalRow(
        id=7, kind=kind, request_id="abc123-approve", permit_number="SH20250000001",
        card_serial="04AA" if kind is R else None, step=first, step_status=DONE, created=T0, updated=T0,
        final=None, attempts=1, marks=(Mark(first, DONE, T0),),
    )


def row_of(kind: Kind, *spec: str) -> JournalRow:
    """`picked` started and done, `picked>` started only, `taken!` done only."""
    row = opening(kind)
    for item in spec:
        if item.endswith(">"):
            row = advance(row, Step(item[:-1]), STARTED, T0)
        elif item.endswith("!"):
            row = advance(row, Step(item[:-1]), DONE, T0)
        else:
            row = advance(advance(row, Step(item), STARTED, T0), Step(item), DONE, T0)
    return row


def execute(row: JournalRow, p: RecoveryPlan, *, resident_takes: bool = True) -> JournalRow:
    """Apply a plan's journal marks to an in-memory row (the journal's pure rules refuse an
    impossible plan); kiosk/recovery_run.py is the procedure that carries plans out."""
    for a in p.actions:
        if a.kind is ActionKind.MARK_FINAL:
            assert a.final is not None
            row = conclude(row, a.final, T0)
            continue
        assert a.step is not None
        if a.kind is ActionKind.RECORD:
            row = record(row, a.step, T0)
            continue
        row = advance(row, a.step, STARTED, T0)
        if a.kind is ActionKind.RETURN_CARD and not resident_takes:
            return row  # the controller retracts after the take-card timeout, then plans again
        row = advance(row, a.step, DONE, T0)
    return row


def kinds_of(p: RecoveryPlan) -> list[ActionKind]:
    return [a.kind for a in p.actions]


# --- the table, rule by rule --------------------------------------------------------------

RETRACT = Action(ActionKind.RETRACT_TO_BIN, Step.RETRACTED)
VOID = Action(ActionKind.VOID_APPROVAL, Step.VOIDED)
CONFIRM = Action(ActionKind.CONFIRM_ISSUANCE, Step.CONFIRMED)


def final(f: Final) -> Action:
    return Action(ActionKind.MARK_FINAL, final=f)


ISSUE = ("picked", "printed", "encoded", "verified", "presented")
REWRITE = ("chip_updated", "face_rewritten")

CASES = [
    # new permit
    (N, (), GONE, "approval_without_card", (VOID, final(Final.VOIDED))),
    (N, (), IN, "approval_without_card", (VOID, final(Final.VOIDED))),  # not this row's card
    (N, ("picked>",), IN, "pick_cut_short_card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ("picked>",), SLOT, "pick_cut_short_card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ("picked>",), GONE, "pick_never_fed", (VOID, final(Final.VOIDED))),
    (N, ("picked", "printed>"), IN, "card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ("picked", "printed", "encoded>"), SLOT, "card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ISSUE, SLOT, "card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, (*ISSUE[:-1], "presented>"), IN, "card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ("picked", "printed"), GONE, "card_removed_by_technician", (VOID, final(Final.RETAINED))),
    (N, ISSUE, GONE, "presented_card_gone",
     (Action(ActionKind.RECORD, Step.TAKEN), CONFIRM, final(Final.ISSUED))),
    (N, (*ISSUE[:-1], "presented>"), GONE, "presented_card_gone",
     (Action(ActionKind.RECORD, Step.TAKEN), CONFIRM, final(Final.ISSUED))),
    (N, (*ISSUE, "taken!"), GONE, "card_taken", (CONFIRM, final(Final.ISSUED))),
    (N, (*ISSUE, "taken!", "confirmed>"), IN, "card_taken", (CONFIRM, final(Final.ISSUED))),
    (N, (*ISSUE, "retracted>"), SLOT, "retract_cut_short", (RETRACT, VOID, final(Final.RETAINED))),
    (N, ("picked>", "retracted>"), IN, "retract_cut_short", (RETRACT, VOID, final(Final.RETAINED))),
    (N, (*ISSUE, "retracted>"), GONE, "retract_finished", (VOID, final(Final.RETAINED))),
    (N, (*ISSUE, "retracted>", "voided>"), GONE, "retract_finished", (VOID, final(Final.RETAINED))),
    (N, (*ISSUE, "retracted>", "taken!"), GONE, "card_taken", (CONFIRM, final(Final.ISSUED))),
    (N, ("picked", "retracted"), IN, "card_in_bin", (VOID, final(Final.RETAINED))),
    (N, ("picked", "retracted", "voided"), GONE, "card_in_bin", (final(Final.RETAINED),)),
    # rewrite
    (R, (), IN, "unchanged_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED_UNCHANGED), VOID, final(Final.RETURNED))),
    (R, ("voided",), SLOT, "unchanged_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED_UNCHANGED), final(Final.RETURNED))),
    (R, ("returned_unchanged>",), SLOT, "unchanged_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED_UNCHANGED), VOID, final(Final.RETURNED))),
    (R, ("returned_unchanged>",), IN, "unchanged_card_inside",  # the move to the slot was cut short
     (Action(ActionKind.RETURN_CARD, Step.RETURNED_UNCHANGED), VOID, final(Final.RETURNED))),
    (R, ("returned_unchanged>",), GONE, "returned_card_gone",
     (Action(ActionKind.RECORD, Step.RETURNED_UNCHANGED), VOID, final(Final.RETURNED))),
    (R, (), GONE, "card_removed_by_technician", (VOID, final(Final.RETAINED))),
    (R, ("chip_updated>",), IN, "incoherent_card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (R, ("chip_updated",), SLOT, "incoherent_card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (R, ("chip_updated", "face_rewritten>"), IN, "incoherent_card_inside", (RETRACT, VOID, final(Final.RETAINED))),
    (R, (*REWRITE, "voided"), IN, "incoherent_card_inside", (RETRACT, final(Final.RETAINED))),
    (R, ("chip_updated",), GONE, "card_removed_by_technician", (VOID, final(Final.RETAINED))),
    (R, REWRITE, IN, "rewritten_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED), CONFIRM, final(Final.RETURNED))),
    (R, REWRITE, SLOT, "rewritten_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED), CONFIRM, final(Final.RETURNED))),
    (R, (*REWRITE, "returned>"), IN, "rewritten_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED), CONFIRM, final(Final.RETURNED))),
    (R, (*REWRITE, "returned>"), SLOT, "rewritten_card_inside",
     (Action(ActionKind.RETURN_CARD, Step.RETURNED), CONFIRM, final(Final.RETURNED))),
    (R, REWRITE, GONE, "card_removed_by_technician", (VOID, final(Final.RETAINED))),
    (R, (*REWRITE, "returned>"), GONE, "returned_card_gone",
     (Action(ActionKind.RECORD, Step.RETURNED), CONFIRM, final(Final.RETURNED))),
    (R, (*REWRITE, "returned"), IN, "card_returned", (CONFIRM, final(Final.RETURNED))),
    (R, ("returned_unchanged",), GONE, "card_returned", (VOID, final(Final.RETURNED))),
    (R, (*REWRITE, "returned>", "retracted>"), SLOT, "retract_cut_short", (RETRACT, VOID, final(Final.RETAINED))),
    (R, ("chip_updated>", "retracted>"), IN, "retract_cut_short", (RETRACT, VOID, final(Final.RETAINED))),
    (R, ("chip_updated", "retracted>"), GONE, "retract_finished", (VOID, final(Final.RETAINED))),
    (R, ("retracted",), IN, "card_in_bin", (VOID, final(Final.RETAINED))),
]


@pytest.mark.parametrize(("kind", "spec", "place", "rule", "actions"), CASES)
def test_rule(kind: Kind, spec: tuple[str, ...], place: CardPlace, rule: str,
              actions: tuple[Action, ...]) -> None:
    row = row_of(kind, *spec)
    p = plan(row, PrinterFacts(place), None)
    assert (p.row_id, p.rule, p.actions) == (row.id, rule, actions)
    end = execute(row, p)
    assert end.final is p.final
    assert plan(end, PrinterFacts(GONE), None).actions == ()


def test_every_table_entry_has_a_case() -> None:
    used = set()
    for kind, spec, place, _, _ in CASES:
        row = row_of(kind, *spec)
        key = (kind, phase(row), place)
        used.add(key if key in RULES else (kind, phase(row), ANY))
    assert used == set(RULES)


@pytest.mark.parametrize("f", [Final.ISSUED, Final.VOIDED, Final.RETAINED])
def test_finished_rows_need_nothing(f: Final) -> None:
    spec = {Final.ISSUED: (*ISSUE, "taken!", "confirmed"), Final.VOIDED: ("voided",),
            Final.RETAINED: (*ISSUE, "retracted", "voided")}[f]
    row = conclude(row_of(N, *spec), f, T0)
    for place in CardPlace:
        assert plan(row, PrinterFacts(place), BackendFacts(BackendStatus.PENDING)).actions == ()


# --- backend facts --------------------------------------------------------------------------


def test_a_confirmation_the_backend_already_has_is_recorded_not_sent() -> None:
    row = row_of(N, *ISSUE, "taken!", "confirmed>")
    p = plan(row, PrinterFacts(GONE), BackendFacts(BackendStatus.CONFIRMED))
    assert p.actions == (Action(ActionKind.RECORD, Step.CONFIRMED), final(Final.ISSUED))
    assert execute(row, p).final is Final.ISSUED


def test_a_void_the_backend_already_has_is_recorded_not_sent() -> None:
    row = row_of(N, "picked", "printed>")
    p = plan(row, PrinterFacts(IN), BackendFacts(BackendStatus.VOIDED))
    assert p.actions == (RETRACT, Action(ActionKind.RECORD, Step.VOIDED), final(Final.RETAINED))
    assert execute(row, p).final is Final.RETAINED


def test_the_card_decides_when_the_backend_disagrees() -> None:
    # The backend expired the approval while the kiosk was down, but the resident has the card.
    row = row_of(N, *ISSUE)
    assert plan(row, PrinterFacts(GONE), BackendFacts(BackendStatus.VOIDED)).actions[1] == CONFIRM
    # A confirmation the kiosk never sent does not make a card inside the resident's.
    assert kinds_of(plan(row, PrinterFacts(SLOT), BackendFacts(BackendStatus.CONFIRMED)))[:2] == [
        ActionKind.RETRACT_TO_BIN, ActionKind.VOID_APPROVAL]


# --- printer facts and stray cards --------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "media", "expected"),
    [
        (DeviceState.ONLINE, MediaPosition.NONE, GONE),
        (DeviceState.ONLINE, MediaPosition.RETRACTED, GONE),
        (DeviceState.ONLINE, MediaPosition.ENTERING, SLOT),
        (DeviceState.ONLINE, MediaPosition.PRESENT, IN),
        (DeviceState.HARDWARE_ERROR, MediaPosition.JAMMED, IN),
        (DeviceState.USER_ERROR, MediaPosition.PRESENT, IN),  # cover open: the sensors still answer
        (DeviceState.BUSY, MediaPosition.LATCHED, IN),
        (DeviceState.OFFLINE, MediaPosition.NONE, None),  # no answer: the position is a default
        (DeviceState.NO_DEVICE, MediaPosition.NONE, None),
    ],
)
def test_printer_facts_from_status(state: DeviceState, media: MediaPosition, expected: CardPlace | None) -> None:
    facts = PrinterFacts.from_status(DeviceStatus(DeviceKind.PRINTER, state, media))
    assert (facts.card if facts is not None else None) == expected


def test_a_card_no_row_accounts_for_goes_to_the_bin() -> None:
    done = conclude(row_of(N, "voided"), Final.VOIDED, T0)
    waiting = row_of(N)  # approved, no card
    stray = plan_stray_card([waiting], PrinterFacts(IN))
    assert stray is not None and stray.row_id is None
    assert kinds_of(stray) == [ActionKind.RETRACT_TO_BIN]
    assert plan_stray_card([waiting, done], PrinterFacts(GONE)) is None
    assert plan_stray_card([row_of(N, *ISSUE)], PrinterFacts(SLOT)) is None  # that row's card


# --- invariants over every reachable row --------------------------------------------------

PHYSICAL_NEW_CARD_STEPS = {Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED, Step.PRESENTED}


def coherent(row: JournalRow) -> bool:
    """A rewrite card whose chip and face agree: untouched, or both rewritten."""
    return not row.began(Step.CHIP_UPDATED) or row.completed(Step.FACE_REWRITTEN)


def check_plan(row: JournalRow, place: CardPlace, backend: BackendFacts | None) -> JournalRow:
    p = plan(row, PrinterFacts(place), backend)
    kinds = kinds_of(p)
    steps = {a.step for a in p.actions}
    assert kinds.count(ActionKind.MARK_FINAL) == 1 and kinds[-1] is ActionKind.MARK_FINAL
    # Never two cards for one approval: no plan feeds, prints or presents a new card, and a
    # new permit's card is never handed out by a plan (only seen gone).
    assert not steps & PHYSICAL_NEW_CARD_STEPS
    if row.kind is N:
        assert ActionKind.RETURN_CARD not in kinds
    # A plan confirms or voids, never both.
    assert not ({Step.CONFIRMED, Step.VOIDED} <= steps)
    # A card the sensors see, that this row may hold, does not stay in the machine.
    if row.card_in_play and place is not GONE:
        assert ActionKind.RETRACT_TO_BIN in kinds or (row.kind is R and ActionKind.RETURN_CARD in kinds)
    if ActionKind.RETRACT_TO_BIN in kinds:
        assert p.final is Final.RETAINED
    if ActionKind.RETURN_CARD in kinds:
        assert coherent(row) and not row.began(Step.RETRACTED)

    end = execute(row, p)  # raises JournalError if the journal would refuse the plan
    assert end.final is p.final
    # Every approval ends confirmed or voided: exactly one of the two.
    assert end.completed(Step.CONFIRMED) != end.completed(Step.VOIDED)
    if row.kind is N:
        # Every card that left the hopper ends handed out or retained.
        left = row.completed(Step.PICKED) or row.began(Step.RETRACTED) or (row.card_in_play and place is not GONE)
        if left:
            assert end.final in (Final.ISSUED, Final.RETAINED)
        # Issued means the resident has it: seen taken, or gone from a slot it was sent to.
        assert (end.final is Final.ISSUED) == end.completed(Step.CONFIRMED) == end.completed(Step.TAKEN)
        if end.final is Final.ISSUED:
            assert row.completed(Step.TAKEN) or place is GONE
            # A card whose retract began may be in the bin: only a card seen taken is confirmed.
            assert row.completed(Step.TAKEN) or not row.began(Step.RETRACTED)
    else:
        # The resident's card ends back with them, coherent, or retained.
        assert end.final in (Final.RETURNED, Final.RETAINED)
        if end.completed(Step.RETURNED):
            assert end.completed(Step.FACE_REWRITTEN) and end.completed(Step.CONFIRMED)
        if end.completed(Step.RETURNED_UNCHANGED):
            assert not end.began(Step.CHIP_UPDATED) and end.completed(Step.VOIDED)
    assert plan(end, PrinterFacts(place), backend).actions == ()

    if ActionKind.RETURN_CARD in kinds:
        # Nobody takes the card: the controller retracts it and plans again.
        waiting = execute(row, p, resident_takes=False)
        retracted = advance(advance(waiting, Step.RETRACTED, STARTED, T0), Step.RETRACTED, DONE, T0)
        again = plan(retracted, PrinterFacts(GONE), backend)
        assert again.final is Final.RETAINED
        assert execute(retracted, again).final is Final.RETAINED
    return end


def legal(change: Callable[[], JournalRow]) -> list[JournalRow]:
    try:
        return [change()]
    except JournalError:
        return []


def moves(row: JournalRow, *, retries: bool) -> Iterator[JournalRow]:
    """Every row one legal mark further on."""
    for step in (*SEQUENCE[row.kind], *SIDE[row.kind]):
        for status in StepStatus:
            if not (status is STARTED and row.open(step) and not retries):
                yield from legal(lambda step=step, status=status: advance(row, step, status, T0))


def reachable(kind: Kind) -> list[JournalRow]:
    """Every unfinished row the journal allows, without retries (they repeat a mark)."""
    seen: dict[tuple[tuple[Step, StepStatus], ...], JournalRow] = {}
    todo = [opening(kind)]
    while todo:
        row = todo.pop()
        key = tuple((m.step, m.status) for m in row.marks)
        if key in seen:
            continue
        seen[key] = row
        todo.extend(moves(row, retries=False))
    return list(seen.values())


@pytest.mark.parametrize("kind", list(Kind))
def test_invariants_over_every_reachable_row(kind: Kind) -> None:
    rows = reachable(kind)
    assert len(rows) > 20
    covered = set()
    for row in rows:
        for place in CardPlace:
            for backend in BACKENDS:
                check_plan(row, place, backend)
            key = (kind, phase(row), place)
            covered.add(key if key in RULES else (kind, phase(row), ANY))
    # Every entry of the table for this kind is met by some reachable row.
    assert covered == {k for k in RULES if k[0] is kind}


@st.composite
def walked_rows(draw: st.DrawFn) -> JournalRow:
    """A random legal history, retries and records included."""
    row = opening(draw(st.sampled_from(list(Kind))))
    for _ in range(draw(st.integers(0, 16))):
        options = list(moves(row, retries=True))
        for step in Step:
            options += legal(lambda step=step, row=row: record(row, step, T0))
        if not options:
            break
        row = draw(st.sampled_from(options))
    return row


places = st.sampled_from(list(CardPlace))
backends = st.sampled_from(BACKENDS)


@settings(max_examples=300, deadline=None)
@given(walked_rows(), places, backends)
def test_invariants_over_random_histories(row: JournalRow, place: CardPlace, backend: BackendFacts | None) -> None:
    check_plan(row, place, backend)


@settings(max_examples=300, deadline=None)
@given(walked_rows(), places, places, backends, st.data())
def test_a_plan_cut_short_is_finished_by_the_next(row: JournalRow, place: CardPlace, later: CardPlace,
                                                  backend: BackendFacts | None, data: st.DataObject) -> None:
    """Power fails, or an action fails, part-way through a plan; the next boot plans again."""
    p = plan(row, PrinterFacts(place), backend)
    cut = data.draw(st.integers(0, len(p.actions)))
    partial = execute(row, RecoveryPlan(p.row_id, p.rule, p.actions[:cut]))
    if cut < len(p.actions) and p.actions[cut].step is not None and p.actions[cut].kind is not ActionKind.RECORD:
        partial = advance(partial, p.actions[cut].step, STARTED, T0)  # the intent was journaled
    if partial.finished:
        assert plan(partial, PrinterFacts(later), backend).actions == ()
    else:
        check_plan(partial, later, backend)


# --- a retract of a card at the slot that the printer never answered (issue 15) ---------------

def _retract_unanswered(tmp_path: Path, kind: str, bin_before: int) -> JournalRow:
    from kiosk.journal import Journal

    with Journal(tmp_path / f"{kind}.sqlite") as j:
        if kind == "new_permit":
            row = j.begin_issuance("s1", "SH20260000001")
            steps = (Step.PICKED, Step.PRINTED, Step.ENCODED, Step.VERIFIED, Step.PRESENTED)
        else:
            row = j.begin_rewrite("s1", "SH20260000001", "5A01", date(2026, 12, 1), date(2027, 12, 1))
            steps = (Step.CHIP_UPDATED, Step.FACE_REWRITTEN)
        for step in steps:
            j.step_started(row, step)
            j.step_done(row, step)
        if kind == "rewrite":
            j.step_started(row, Step.RETURNED)
        j.step_started(row, Step.RETRACTED, bin_count=bin_before)  # and then the printer fell silent
        return j.get(row)


@pytest.mark.parametrize("kind", ["new_permit", "rewrite"])
def test_a_card_gone_while_the_bin_counts_the_same_was_taken_by_a_hand(tmp_path: Path, kind: str) -> None:
    row = _retract_unanswered(tmp_path, kind, 4)
    p = plan(row, PrinterFacts(CardPlace.NONE, bin_count=4), None)
    assert p.rule == "taken_during_retract"
    assert p.final is (Final.ISSUED if kind == "new_permit" else Final.RETURNED)
    assert [a.kind for a in p.actions] == [ActionKind.RECORD, ActionKind.CONFIRM_ISSUANCE, ActionKind.MARK_FINAL]


@pytest.mark.parametrize("kind", ["new_permit", "rewrite"])
@pytest.mark.parametrize("now", [5, 0, None])  # in the bin; the bin emptied since; a printer without a count
def test_a_card_gone_otherwise_reached_the_bin(tmp_path: Path, kind: str, now: int | None) -> None:
    row = _retract_unanswered(tmp_path, kind, 4)
    p = plan(row, PrinterFacts(CardPlace.NONE, bin_count=now), None)
    assert (p.rule, p.final) == ("retract_finished", Final.RETAINED)
