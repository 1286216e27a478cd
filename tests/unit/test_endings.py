"""Issue 13, the ends of a session, in the core: cancel asks once, back goes to the declared step,
countdowns come from the state's timers, "more time" restarts them (a bounded number of times),
the phone screen says what is wrong, a resident without a mobile number finishes, goodbye tells the
truth, and a kept card's retention record is written once with nothing personal in it."""

from __future__ import annotations

import queue
import sqlite3
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.chart import MORE_TIME_TIMES
from kiosk.clock import VirtualClock
from kiosk.config import load_kiosk_config
from kiosk.controller import Kiosk
from kiosk.flows.closing_views import EndingKind, ending_of
from kiosk.intents import Tap
from kiosk.journal_model import JournalError
from kiosk.logevents import EventLog
from kiosk.phone import PhoneProblem, phone_problem
from kiosk.policy import load_pack
from kiosk.reasons import Outcome, Reason, Service
from kiosk.retention import RetentionStore, create_or_migrate, keep, referral_payload
from kiosk.session import Session
from kiosk.view import OverlayKind
from sim import endings_check
from tests.unit.test_core import Port, all_up


def kiosk() -> Kiosk:
    ports = SimpleNamespace(id_reader=Port(), printer=Port(), encoder=Port(), camera=Port(), backend=Port(),
                            qr_scanner=None, devices=lambda: ())
    k = Kiosk(load_kiosk_config(), load_pack("shanghai"), VirtualClock(date(2026, 11, 22)),
              ports, EventLog(), events=queue.Queue())  # type: ignore[arg-type]
    all_up(k)
    return k


def at(k: Kiosk, state: str) -> None:
    """Put the machine in `state` as if it had been entered (its timers armed)."""
    k.machine.set_state(state, model=k)
    k._after_state_change()


def ids(k: Kiosk) -> list[str]:
    return [b.id for b in k.view().all_buttons()]


def test_cancel_asks_once_and_no_goes_on_where_the_resident_was():
    k = kiosk()
    k.session.service = Service.NEW_PERMIT
    at(k, "new_permit.details")
    k.handle_intent(Tap("cancel"))
    assert k.state == "new_permit.details" and k.session.outcome is None
    view = k.view()
    assert view.overlay is not None and view.overlay.kind is OverlayKind.CANCEL
    assert view.screen_id == "cancel_confirm" and ids(k) == ["cancel_keep", "cancel_confirm"]
    k.handle_intent(Tap("confirm"))  # not on the screen now: a stale touch changes nothing
    assert k.state == "new_permit.details"
    k.handle_intent(Tap("cancel_keep"))
    assert k.state == "new_permit.details" and k.view().overlay is None and "cancel" in ids(k)
    k.handle_intent(Tap("cancel"))
    k.handle_intent(Tap("cancel_confirm"))
    assert k.state == "goodbye"
    assert (k.session.outcome, k.session.reason) == (Outcome.ABORTED, Reason.USER_CANCELLED)
    assert k.finished[-1].screens.count("cancel_confirm") == 2


def test_back_is_shown_where_declared_and_returns_to_that_step():
    k = kiosk()
    at(k, "new_permit.phone")
    assert ids(k).index("back") == ids(k).index("cancel") - 1  # beside cancel, before it
    k.handle_intent(Tap("back"))
    assert k.state == "new_permit.details"
    at(k, "new_permit.residence")
    assert "back" not in ids(k)  # after the backend's precheck: nothing to go back to safely


def test_the_take_card_countdown_ticks_on_the_kiosk_clock_and_more_time_restarts_it():
    k = kiosk()
    at(k, "new_permit.take_card")
    full = int(k.config.timeouts.take_card)
    assert k.view().countdown == full
    k.clock.advance(full - 10)  # type: ignore[attr-defined]
    assert k.view().countdown == 10
    for _ in range(MORE_TIME_TIMES):
        k.handle_intent(Tap("more_time"))
        assert k.view().countdown == full and k.state == "new_permit.take_card"
    assert "more_time" not in ids(k)  # bounded: a card is not left at an open slot for ever
    assert k.session.more_time_taken == MORE_TIME_TIMES


def test_screens_that_do_not_move_on_by_themselves_show_no_countdown():
    k = kiosk()
    at(k, "new_permit.details")
    assert k.view().countdown is None
    at(k, "refusal")
    assert k.view().countdown == int(k.config.timeouts.done)


@pytest.mark.parametrize(("digits", "problem"), [
    ("138", PhoneProblem.TOO_SHORT), ("1380013800", PhoneProblem.TOO_SHORT),
    ("12800138000", PhoneProblem.NOT_MOBILE), ("02112345678", PhoneProblem.NOT_MOBILE),
    ("13800138000", None), ("19912345678", None),
])
def test_sh_end_4_the_phone_error_says_what_is_wrong(digits, problem):
    """SH-END-4: the number is for the endorsement's SMS; a wrong one is told why, not just "wrong"."""
    assert phone_problem(digits) == problem


def test_sh_end_4_the_phone_screen_shows_the_problem_and_a_resident_without_a_number_finishes():
    from tests.unit.test_policy import CARD

    k = kiosk()
    k.session.service, k.session.identity = Service.NEW_PERMIT, CARD
    at(k, "new_permit.phone")
    for d in "138":
        k.handle_intent(Tap(f"key.{d}"))
    k.handle_intent(Tap("confirm"))
    assert k.state == "new_permit.phone" and k.view().data["error"] == "too_short"
    k.handle_intent(Tap("key.0"))  # typing again clears the error
    assert k.view().data["error"] is None
    k.handle_intent(Tap("choice.no_phone"))
    assert k.state == "new_permit.submit"
    assert k.session.no_phone and k.session.phone == ""


def test_goodbye_tells_the_truth_for_each_ending():
    def ended(outcome: Outcome, reason: Reason, **fields: object) -> EndingKind:
        s = Session()
        for name, value in fields.items():
            setattr(s, name, value)
        s.end(outcome, reason)
        return ending_of(s)

    read = {"identity": object()}
    assert ended(Outcome.ISSUED, Reason.OK, **read) is EndingKind.ISSUED
    assert ended(Outcome.COUNTER_REFERRAL, Reason.REG_TOO_RECENT, **read) is EndingKind.REFUSED
    assert ended(Outcome.COUNTER_REFERRAL, Reason.DEVICE_FAULT, **read) is EndingKind.FAULT
    assert ended(Outcome.ABORTED, Reason.USER_CANCELLED, **read) is EndingKind.CANCELLED
    assert ended(Outcome.ABORTED, Reason.USER_CANCELLED) is EndingKind.NOTHING_DONE
    assert ended(Outcome.ABORTED, Reason.TIMEOUT) is EndingKind.TIMED_OUT
    assert ended(Outcome.ABORTED, Reason.TIMEOUT, card_retained=True, **read) is EndingKind.CARD_KEPT


def test_goodbye_asks_for_the_id_card_only_when_one_was_read():
    k = kiosk()
    k.session.service = Service.CARD_REWRITE
    at(k, "goodbye")
    assert k.view().data["id_card_used"] is False


# --- retention records --------------------------------------------------------------------------


def store(tmp_path: Path) -> RetentionStore:
    return RetentionStore(tmp_path / "journal.db", now=lambda: datetime(2026, 11, 22, 9, 3, 4))


def test_a_retention_record_holds_terminal_time_reason_and_serial_and_its_number_is_digits(tmp_path):
    s = store(tmp_path)
    r = s.record("SH-CN-0001", Reason.TIMEOUT, "04A1B2C3D4")
    assert r.number == "00000001" and r.number.isdigit()
    assert r.payload() == "JZZ1|K|00000001|TIMEOUT|2026-11-22|SH-CN-0001"
    assert s.get(r.number) == r and s.rows() == [r]
    db = sqlite3.connect(tmp_path / "journal.db")
    columns = [c[1] for c in db.execute("PRAGMA table_info(card_retention)")]
    assert columns == ["id", "terminal", "at", "reason", "card_serial"]  # nothing personal has a column


def test_the_retention_table_is_created_once_and_shares_the_journal_file(tmp_path):
    store(tmp_path).record("SH-CN-0001", Reason.DEVICE_FAULT, None)
    db = sqlite3.connect(tmp_path / "journal.db")
    assert create_or_migrate(db) is None  # current: nothing to do
    assert store(tmp_path).rows()[0].card_serial is None  # reopening keeps the records


def test_personal_data_never_reaches_a_retention_record(tmp_path):
    s = store(tmp_path)
    with pytest.raises(JournalError):
        s.record("SH-CN-0001", Reason.TIMEOUT, "340102199003070010")  # an ID number as a "serial"
    with pytest.raises(JournalError):
        s.record("SH-CN-0001", Reason.TIMEOUT, "13800138000")
    db = sqlite3.connect(tmp_path / "journal.db")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO card_retention (terminal, at, reason) VALUES ('张伟', 'x', 'TIMEOUT')")


def test_a_kept_card_gets_one_record_however_many_steps_see_it_kept(tmp_path):
    k = kiosk()
    k.config = _with_journal(k, tmp_path)
    first = keep(k, k.session, Reason.TIMEOUT, "04A1")
    again = keep(k, k.session, Reason.DEVICE_FAULT, "04A1")
    assert first is not None and again is first and k.session.retention is first
    assert len(RetentionStore(tmp_path / "j.db").rows()) == 1


def _with_journal(k: Kiosk, tmp_path: Path) -> object:
    import dataclasses

    return dataclasses.replace(k.config, journal=dataclasses.replace(k.config.journal, file=str(tmp_path / "j.db")))


def test_the_referral_payload_carries_the_reason_and_the_day_to_come_back():
    assert referral_payload(Reason.REG_TOO_RECENT, date(2026, 11, 22), date(2026, 11, 23), "SH-CN-0001") \
        == "JZZ1|R|REG_TOO_RECENT|2026-11-22|2026-11-23|SH-CN-0001"
    assert referral_payload(Reason.DEVICE_FAULT, date(2026, 11, 22), None, "SH-CN-0001").split("|")[4] == "-"


# --- the scenario check can fail -----------------------------------------------------------------


def _scenario(**expect: object) -> object:
    from sim.scenario import Expect

    return SimpleNamespace(expect=Expect(**expect), today=date(2026, 11, 22))  # type: ignore[arg-type]


def test_the_retention_check_fails_without_a_code_or_with_a_record_that_disagrees():
    s = _scenario(retention_qr=True)
    row = {"number": "00000001", "terminal": "SH-CN-0001", "reason": "TIMEOUT", "at": "2026-11-22T09:01:20"}
    good = {"end_qr": {"kept": ["JZZ1|K|00000001|TIMEOUT|2026-11-22|SH-CN-0001"]}, "retentions": [row]}
    assert endings_check.check(s, good) == []
    assert endings_check.check(s, {"end_qr": {}, "retentions": [row]})
    assert endings_check.check(s, {**good, "retentions": []})
    assert endings_check.check(s, {**good, "retentions": [{**row, "reason": "DEVICE_FAULT"}]})


def test_the_referral_check_wants_the_reason_and_the_back_date():
    s = _scenario(referral_qr=True)
    report = {"reason": "REG_TOO_RECENT", "available_on": "2026-11-23",
              "end_qr": {"refusal": ["JZZ1|R|REG_TOO_RECENT|2026-11-22|2026-11-23|SH-CN-0001"]}}
    assert endings_check.check(s, report) == []
    assert endings_check.check(s, {**report, "available_on": "2026-11-24"})
    assert endings_check.check(s, {**report, "end_qr": {}})
