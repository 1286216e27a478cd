"""The core without devices: guards are pure, availability follows statuses and supplies."""

from __future__ import annotations

import copy
import queue
from datetime import date
from types import SimpleNamespace

import pytest

from devices.status import DeviceKind, DeviceState, DeviceStatus, MediaPosition, Supply, SupplyLevel
from kiosk.clock import VirtualClock
from kiosk.config import load_kiosk_config
from kiosk.controller import Kiosk
from kiosk.flows import FLOWS, chart_parts
from kiosk.logevents import EventLog
from kiosk.policy import Refusal, load_pack
from kiosk.reasons import Reason, Service


class Port(SimpleNamespace):
    def __getattr__(self, name: str):
        return lambda *a, **k: None


def kiosk() -> Kiosk:
    ports = SimpleNamespace(id_reader=Port(), printer=Port(), encoder=Port(), camera=Port(), backend=Port(),
                            devices=lambda: ())
    return Kiosk(load_kiosk_config(), load_pack("shanghai"), VirtualClock(date(2026, 11, 22)),
                 ports, EventLog(), events=queue.Queue())  # type: ignore[arg-type]


def printer(hopper: SupplyLevel = SupplyLevel.HIGH, bin_: SupplyLevel = SupplyLevel.LOW,
            state: DeviceState = DeviceState.ONLINE, media: MediaPosition = MediaPosition.NONE) -> DeviceStatus:
    return DeviceStatus(DeviceKind.PRINTER, state, media, (Supply("hopper", hopper, 50), Supply("reject_bin", bin_, 1)))


def all_up(k: Kiosk, p: DeviceStatus | None = None) -> None:
    for kind in (DeviceKind.ID_READER, DeviceKind.CAMERA, DeviceKind.PERMIT_CARD):
        k.availability.update(DeviceStatus(kind, DeviceState.ONLINE))
    k.availability.update(p or printer())
    k.availability.set_backend(True)


def test_guards_are_pure_predicates():
    """No guard writes the session (issue 8): a guard that did would decide by side effect."""
    k = kiosk()
    all_up(k)
    s = k.session
    s.chosen, s.phone, s.photo_attempts = Service.NEW_PERMIT, "13800138000", 3
    s.record_refusals = (Refusal(Reason.INFO_MISMATCH),)
    owners = {f.CHART.owner: f for f in k.flows}
    names = {(p.owner, c) for p in chart_parts() for e in p.edges for c in (*e.conditions, *e.unless)}
    assert len(names) > 10
    for owner, name in sorted(names):
        before = copy.deepcopy(vars(k.session))
        result = getattr(owners[owner], name)()
        assert isinstance(result, bool), f"{owner}.{name} is not a predicate"
        assert vars(k.session) == before, f"{owner}.{name} wrote the session"


def test_every_service_is_offered_when_its_devices_are_up():
    k = kiosk()
    all_up(k)
    assert set(k.availability.offered()) == {Service.NEW_PERMIT, Service.CARD_REWRITE, Service.REGISTRATION,
                                             Service.STATUS_QUERY}


def test_a_full_reject_bin_offers_nothing_that_may_retract():
    """Bug 3: a card that cannot be retracted would stay at the open slot with a resident's data."""
    k = kiosk()
    all_up(k, printer(bin_=SupplyLevel.FULL))
    # neither moves a card
    assert set(k.availability.offered()) == {Service.REGISTRATION, Service.STATUS_QUERY}
    assert "reject_bin_full" in k.availability.problems(Service.NEW_PERMIT)


def test_an_empty_hopper_stops_only_the_new_permit():
    k = kiosk()
    all_up(k, printer(hopper=SupplyLevel.EMPTY))
    assert set(k.availability.offered()) == {Service.CARD_REWRITE, Service.REGISTRATION, Service.STATUS_QUERY}


def test_a_stuck_card_blocks_the_printer_until_it_is_cleared():
    k = kiosk()
    all_up(k, printer(state=DeviceState.HARDWARE_ERROR, media=MediaPosition.JAMMED))
    k.availability.mark_card_stuck()
    k.availability.update(printer(state=DeviceState.ONLINE, media=MediaPosition.JAMMED))
    assert k.availability.card_stuck
    assert set(k.availability.offered()) == {Service.REGISTRATION, Service.STATUS_QUERY}
    k.availability.update(printer())  # a technician cleared it
    assert not k.availability.card_stuck
    assert k.availability.offers(Service.NEW_PERMIT)


def test_registration_needs_no_qr_scanner_the_number_can_be_typed():
    k = kiosk()
    all_up(k)
    assert k.availability.offers(Service.REGISTRATION)
    needs = k.availability.needs[Service.REGISTRATION]
    assert set(needs.devices) == {DeviceKind.ID_READER, DeviceKind.BACKEND}


@pytest.mark.parametrize("flow", FLOWS, ids=[f.__name__ for f in FLOWS])
def test_every_service_flow_declares_what_it_needs(flow):
    if flow.SERVICE is not None:
        assert flow.NEEDS is not None and DeviceKind.BACKEND in flow.NEEDS.devices


def test_an_application_that_cannot_be_journaled_is_not_sent(tmp_path):
    """Issue 15: the application is journaled before it goes out; when the journal refuses the write
    (here: a database that refuses writes), nothing is sent, so no approval can be made that the kiosk could
    not account for, and the fault screen names the journal."""
    import sqlite3

    from kiosk.chart import Trigger
    from kiosk.flows.new_permit import NewPermit
    from kiosk.journal import Journal, JournalError, Problem
    from kiosk.session import Session

    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    journal._db.execute("PRAGMA query_only = ON")  # every write refused, as on a full or read-only disk
    sent: list[str] = []
    fired: list[object] = []
    session = Session(identity=SimpleNamespace(), phone="13800138000")
    core = SimpleNamespace(session=session, journal=journal, log=EventLog(), fire=fired.append,
                           ports=SimpleNamespace(backend=SimpleNamespace(apply=lambda *a: sent.append("apply"))),
                           runtime=SimpleNamespace(call=lambda op, fn, sid, then: sent.append(op)))
    flow = NewPermit(core)  # type: ignore[arg-type]
    with pytest.raises(JournalError) as refused:
        journal.application_sent("probe-apply")  # the write itself is refused, as a typed error
    assert refused.value.problem is Problem.STORAGE and isinstance(refused.value.__cause__, sqlite3.OperationalError)
    flow.enter_submit()
    assert sent == [] and fired == [Trigger.FAULTED] and session.fault_device == "journal"
    assert core.log.recent[-1]["event"] == "JOURNAL_REFUSED"
    journal.close()
