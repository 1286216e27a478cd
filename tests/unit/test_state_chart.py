"""The transition table: the committed chart is its rendering, every state is reachable, every
waiting state can be left, and a trigger the table does not take is an error, never silence."""

from __future__ import annotations

from enum import StrEnum

import pytest

from kiosk.chart import ChartPart, Edge, StateSpec, Trigger
from kiosk.flows import FLOWS, chart_parts
from kiosk.machine import Chart, InvalidTrigger, KioskMachine, build_machine, fire
from kiosk.reasons import Outcome
from kiosk.statechart import CHART, render


def chart() -> Chart:
    return Chart(chart_parts())


def test_committed_chart_matches_the_table():
    assert CHART.read_text(encoding="utf-8") == render(), "run: python -m kiosk.statechart"


def test_every_state_is_reached():
    c = chart()
    dests = {e.dest for _, e in c.edges if e.dest}
    for name in set(c.specs) - {"boot"}:
        assert name in dests, f"{name} is never entered"


def test_every_waiting_state_of_a_service_can_be_cancelled_timed_out_and_faulted():
    c = chart()
    for name, spec in c.specs.items():
        if not spec.session:
            continue
        for trigger in (Trigger.TAP_CANCEL, Trigger.IDLE_TIMEOUT, Trigger.DEVICE_LOST):
            assert c.accepts(name, trigger), f"{name} does not take {trigger}"


def test_a_state_holding_the_resident_card_gives_it_back_on_cancel():
    """card_rewrite.residence: the card is inside, so cancel and the idle timeout return it first."""
    c = chart()
    exits = {(str(e.trigger), e.dest) for _, e in c.edges if "card_rewrite.residence" in e.sources}
    assert ("tap_cancel_confirm", "card_rewrite.return_card") in exits
    assert ("idle_timeout", "card_rewrite.return_card") in exits
    assert ("tap_cancel_confirm", "goodbye") not in exits
    assert ("tap_cancel", None) in exits  # asked first, as everywhere


def test_cancel_asks_once_in_every_state_that_allows_it():
    """Issue 13: cancel is an internal step ("确定要取消吗？"), yes ends, no goes on where it was;
    generated from the StateSpec flags for every session state, none declared by hand."""
    c = chart()
    for name, spec in c.specs.items():
        if not spec.session:
            continue
        out = {(str(e.trigger), e.dest) for _, e in c.edges if name in e.sources}
        assert ("tap_cancel", None) in out, name
        assert ("tap_cancel_keep", None) in out, name
        assert any(t == "tap_cancel_confirm" and d is not None for t, d in out), name
        assert ("tap_cancel", "goodbye") not in out, name
    for owner, e in c.edges:
        if e.trigger in (Trigger.TAP_CANCEL_KEEP, Trigger.TAP_CANCEL) and e.dest is None:
            assert owner == "end", "the confirmation is the shared exits' own pair"
    # A state without a session takes none of it.
    assert not c.accepts("ready.attract", Trigger.TAP_CANCEL_CONFIRM)


def test_back_is_declared_per_state_and_goes_to_the_declared_step():
    c = chart()
    backs = {n: s.back for n, s in c.specs.items() if s.back}
    assert backs["new_permit.phone"] == "new_permit.details"
    assert backs["new_permit.details"] == "new_permit.photo"
    assert backs["registration.confirm"] == "registration.phone"
    for name, dest in backs.items():
        assert dest in c.specs and c.specs[dest].session, f"{name} goes back to a state that waits: {dest}"
        assert {e.dest for _, e in c.edges if e.trigger == Trigger.TAP_BACK and name in e.sources} == {dest}
    # Never back over a card, a backend call or a photo check: no back from these.
    for name in ("new_permit.take_card", "new_permit.residence", "card_rewrite.residence", "registration.receipt"):
        assert not c.accepts(name, Trigger.TAP_BACK), name


def test_screens_that_move_on_by_themselves_show_their_countdown():
    c = chart()
    for name in ("new_permit.take_card", "new_permit.last_call", "card_rewrite.return_card",
                 "card_rewrite.last_call", "refusal", "fault", "kept", "goodbye", "new_permit.done"):
        assert c.shown_timers(name), name
    assert c.shown_timers("ready.attract") == ()


def test_an_untaken_card_gets_a_louder_last_warning_before_the_retract():
    c = chart()
    for flow, slot in (("new_permit", "take_card"), ("card_rewrite", "return_card")):
        take = {e.dest for _, e in c.edges if e.trigger == Trigger.TAKE_TIMEOUT and f"{flow}.{slot}" in e.sources}
        assert take == {f"{flow}.last_call"}
        last = [e for _, e in c.edges if e.trigger == Trigger.TAKE_TIMEOUT and f"{flow}.last_call" in e.sources]
        assert [e.dest for e in last] == ["kept"] and last[0].before is not None
        assert c.accepts(f"{flow}.last_call", Trigger.TAP_MORE_TIME)


def test_closing_screens_close():
    c = chart()
    for name, spec in c.specs.items():
        if spec.closing:
            assert c.accepts(name, Trigger.CLOSING_TIMEOUT) and c.accepts(name, Trigger.TAP_CONFIRM)


def test_every_callback_and_guard_names_a_method_of_its_owner():
    owners = {f.CHART.owner: f for f in FLOWS}
    from kiosk.flows.new_permit_issuing import Issuing

    owners_cls: dict[str, type] = {k: v for k, v in owners.items()}
    owners_cls["issuing"] = Issuing
    for part in chart_parts():
        names: list[tuple[str, str]] = []
        for _, spec in _walk(part.states):
            names += [(part.owner, n) for n in (spec.on_enter, spec.on_exit) if n]
        for e in part.edges:
            names += [(part.owner, n) for n in (*e.conditions, *e.unless, e.before, e.after) if n]
        for owner, name in names:
            if ":" in name:
                owner, name = name.split(":", 1)
            assert callable(getattr(owners_cls[owner], name, None)), f"{owner} has no {name}"


def _walk(specs: tuple[StateSpec, ...], prefix: str = "") -> list[tuple[str, StateSpec]]:
    out = []
    for s in specs:
        out.append((prefix + s.name, s))
        out += _walk(s.children, prefix + s.name + ".")
    return out


class _Toy(StrEnum):
    GO = "go"
    NOWHERE = "nowhere_at_all"


class _Model:
    state: str


def _toy() -> tuple[KioskMachine, _Model, Chart]:
    part = ChartPart("toy", (StateSpec("boot"), StateSpec("a"), StateSpec("goodbye"), StateSpec("fault")),
                     (Edge(_Toy.GO, "boot", "a"),))
    c = Chart([part])
    model = _Model()
    machine = build_machine(model, c, {"toy": object(), "end": object()}, after_state_change=lambda: None)
    return machine, model, c


def test_an_unknown_trigger_raises():
    machine, model, c = _toy()
    with pytest.raises(InvalidTrigger):
        fire(machine, model, c, _Toy.NOWHERE)
    with pytest.raises(InvalidTrigger):
        fire(machine, model, c, "go")  # type: ignore[arg-type]  # a bare string is never a trigger


def test_a_trigger_the_state_does_not_take_raises():
    machine, model, c = _toy()
    assert fire(machine, model, c, _Toy.GO)
    assert model.state == "a"
    with pytest.raises(InvalidTrigger):
        fire(machine, model, c, _Toy.GO)


def test_the_table_refuses_an_edge_from_a_state_it_does_not_have():
    with pytest.raises(ValueError, match="unknown state"):
        Chart([ChartPart("toy", (StateSpec("boot"),), (Edge(_Toy.GO, "bot", "boot"),))])


def test_the_kiosk_raises_on_an_invalid_trigger_in_development():
    """A misspelt or misplaced trigger fails the run that fires it (tests, scenarios)."""
    import queue
    from types import SimpleNamespace

    from kiosk.clock import VirtualClock
    from kiosk.config import load_kiosk_config
    from kiosk.controller import Kiosk
    from kiosk.logevents import EventLog
    from kiosk.policy import load_pack

    class Port(SimpleNamespace):
        def __getattr__(self, name: str):  # every command accepted, nothing happens
            return lambda *a, **k: None

    ports = SimpleNamespace(id_reader=Port(), printer=Port(), encoder=Port(), camera=Port(), backend=Port(),
                            devices=lambda: ())
    from datetime import date

    k = Kiosk(load_kiosk_config(), load_pack("shanghai"), VirtualClock(date(2026, 11, 22)), ports,  # type: ignore[arg-type]
              EventLog(), events=queue.Queue())
    assert k.state == "boot"
    with pytest.raises(InvalidTrigger):
        k.fire(Trigger.TAP_CONFIRM)
    # In production the same bug is logged through the catalog and the kiosk carries on.
    k.strict = False
    k._guarded(lambda _: k.fire(Trigger.TAP_CONFIRM))(None)
    assert k.log.recent[-1]["event"] == "TRIGGER_REFUSED" and k.log.recent[-1]["trigger"] == "tap_confirm"
    assert k.state == "boot"


def test_a_screen_that_offers_services_enters_each_service_as_the_menu_does():
    """Where a state offers services (the refusal screen), every service's entry edge applies,
    after the session is handed over: it ends there, and the offered one starts afresh."""
    c = chart()
    offering = [n for n, s in c.specs.items() if s.offers]
    assert "refusal" in offering
    entries = {e.dest for _, e in c.edges if e.trigger == Trigger.TAP_SERVICE and "ready.menu" in e.sources}
    for name in offering:
        offered = {e.dest for _, e in c.edges if e.trigger == Trigger.TAP_SERVICE and name in e.sources
                   and e.before == "end:hand_over"}
        assert offered == entries


def test_handing_over_closes_the_session_and_keeps_only_the_choice():
    from kiosk.flows.ending import Ending
    from kiosk.logevents import EventLog
    from kiosk.policy import Refusal
    from kiosk.reasons import Reason, Service
    from kiosk.session import Session

    class Core:
        log = EventLog()
        session = Session(service=Service.NEW_PERMIT, chosen=Service.REGISTRATION, phone="13800138000",
                          large_text=True, refusal=Refusal(Reason.NO_REGISTRATION))

    core = Core()
    ending = Ending(core)  # type: ignore[arg-type]
    core.session.end(Outcome.COUNTER_REFERRAL, Reason.NO_REGISTRATION)
    old_id = core.session.id
    ending.hand_over()
    assert [(f.session, f.outcome, f.reason) for f in ending.finished] == [
        (old_id, "counter_referral", "NO_REGISTRATION")]
    new = core.session
    assert new.id != old_id and new.chosen is Service.REGISTRATION and new.large_text
    assert new.phone == "" and new.refusal is None and new.service is None
