"""Fleet telemetry, one layer at a time: the outbox (a SQLite file on disk), what is derived from
the log channel, the [telemetry] config section, the layers. The broker itself: tests/fleet/."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fleet import topics
from fleet.derive import REPEAT_FAILURES, Deriver, FleetState
from fleet.outbox import Outbox, OutboxError
from kiosk.config import ConfigError, load_kiosk_config
from tests.unit.test_architecture import ROOT, offending, package_files

# --- the outbox ----------------------------------------------------------------------------------


def test_outbox_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    ob = Outbox(path, 100)
    seqs = [ob.put(f"t/{i}", json.dumps({"i": i}).encode()) for i in range(5)]
    ob.ack(seqs[0])
    ob.close()
    again = Outbox(path, 100)  # a kiosk restart
    rows = again.peek()
    assert [r.topic for r in rows] == ["t/1", "t/2", "t/3", "t/4"]
    assert [r.seq for r in rows] == seqs[1:]
    assert again.put("t/5", b"{}") > seqs[-1]  # seq keeps rising across a restart (AUTOINCREMENT)
    assert [r.seq for r in again.peek(after=seqs[2], limit=1)] == [seqs[3]]
    again.close()


def test_outbox_is_bounded_dropping_the_oldest_non_retained_first(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", 3)
    ob.put("state", b"{}", retain=True)
    for i in range(4):
        ob.put(f"outcome/{i}", b"{}")
    assert ob.count() == 3
    assert [r.topic for r in ob.peek()] == ["state", "outcome/2", "outcome/3"]
    assert ob.dropped() == 2
    # A retained message superseded by a newer one of its topic goes before any outcome.
    ob.put("status", b'{"n": 1}', retain=True)
    ob.put("status", b'{"n": 2}', retain=True)
    assert [(r.topic, r.payload) for r in ob.peek()] == [("state", b"{}"), ("outcome/3", b"{}"),
                                                          ("status", b'{"n": 2}')]
    ob.close()
    with pytest.raises(OutboxError):
        Outbox(tmp_path / "x.sqlite", 0)


def test_outbox_is_a_real_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    ob = Outbox(path, 10)
    ob.put("a", b'{"x": 1}')
    ob.save("state", {"counters": {"sessions": 2}})
    other = sqlite3.connect(path)  # another process's view of the file: committed, not cached
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert other.execute("SELECT topic, payload FROM outbox").fetchall() == [("a", '{"x": 1}')]
    other.close()
    assert ob.load("state") == {"counters": {"sessions": 2}}
    ob.close()


# --- derived from the log channel -------------------------------------------------------------------


def rec(event: str, **fields: object) -> dict[str, object]:
    return {"event": event, **fields}


def kinds(msgs: list[tuple[str, dict[str, object]]]) -> list[str]:
    return [k for k, _ in msgs]


def test_status_and_supplies_on_change_only() -> None:
    d = Deriver()
    st = rec("DEVICE_STATUS", device="printer", state="online", media="none", detail="",
             supplies="hopper=high:80,reject_bin=high:2")
    out = d.feed(st)
    assert kinds(out) == [topics.STATUS]
    assert out[0][1]["devices"]["printer"]["supplies"]["hopper"] == {"level": "high", "count": 80}
    assert d.feed(st) == []  # the same status again: nothing published
    assert kinds(d.feed(rec("SERVICES_CHANGED", available="new_permit,registration", unavailable=""))) == \
        [topics.STATUS]
    assert d.state.status()["in_service"] is True


def test_alerts_are_raised_once_and_cleared_once() -> None:
    d = Deriver()
    low = rec("DEVICE_STATUS", device="printer", state="online", media="none", detail="",
              supplies="hopper=low:5,reject_bin=full:50")
    out = d.feed(low)
    alerts = [p for k, p in out if k == topics.ALERT]
    assert {a["kind"] for a in alerts} == {"hopper_low", "bin_full"} and all(a["active"] for a in alerts)
    # The same condition reported again, or through SUPPLY_ALERT: de-duplicated.
    assert [k for k, _ in d.feed({**low, "detail": "x"}) if k == topics.ALERT] == []
    assert d.feed(rec("SUPPLY_ALERT", supply="hopper", level="low")) == []
    ok = rec("DEVICE_STATUS", device="printer", state="online", media="none", detail="",
             supplies="hopper=high:90,reject_bin=high:0")
    cleared = [p for k, p in d.feed(ok) if k == topics.ALERT]
    assert {(a["kind"], a["active"]) for a in cleared} == {("hopper_low", False), ("bin_full", False)}


def test_device_fault_staff_called_and_repeated_failures() -> None:
    d = Deriver()
    out = d.feed(rec("DEVICE_STATUS", device="camera", state="offline", media="none", detail="port_gone"))
    assert [p["key"] for k, p in out if k == topics.ALERT] == ["device_fault:camera"]
    assert d.feed(rec("DEVICE_FAULT", session="s1", device="camera", error="port_gone")) == []  # already raised
    # The voice helper's STAFF_CALLED log event; any later session's end clears it.
    assert [p["kind"] for _, p in d.feed(rec("STAFF_CALLED"))] == ["staff_called"]
    fail = rec("SESSION_ENDED", session="s-secret", service="new_permit", outcome="aborted", reason="DEVICE_FAULT")
    raised = []
    for _ in range(REPEAT_FAILURES):
        raised += [p for k, p in d.feed(fail) if k == topics.ALERT and p["active"]]
    assert [p["kind"] for p in raised] == ["repeated_failures"]
    assert [p["kind"] for k, p in d.feed(fail) if k == topics.ALERT] == []  # still one alert
    back = d.feed(rec("SESSION_ENDED", session="s2", service="new_permit", outcome="issued", reason="OK"))
    assert [(p["kind"], p["active"]) for k, p in back if k == topics.ALERT] == [("repeated_failures", False)]
    assert d.state.counters["sessions"] == REPEAT_FAILURES + 2
    assert d.state.counters["reason.DEVICE_FAULT"] == REPEAT_FAILURES + 1


def test_no_resident_data_leaves_the_deriver() -> None:
    """SH-PRIV-1: a session id, a masked ID number, a permit number never reach a payload."""
    d = Deriver()
    secrets = ("s-7f3a", "310***********1234", "SH2026000123")
    out = d.feed(rec("SESSION_ENDED", session=secrets[0], service="new_permit", outcome="issued", reason="OK"))
    out += d.feed(rec("ID_CARD_READ", session=secrets[0], card_type="resident", masked_id=secrets[1]))
    out += d.feed(rec("ISSUANCE_ENDED", session=secrets[0], permit_number=secrets[2], disposition="taken"))
    text = json.dumps(out)
    assert out and not any(s in text for s in secrets)
    assert [p for k, p in out if k == topics.OUTCOME] == [{"service": "new_permit", "outcome": "issued",
                                                            "reason": "OK"}]


def test_counters_and_alerts_survive_a_restart() -> None:
    d = Deriver()
    d.feed(rec("STAFF_CALLED"))
    d.feed(rec("SESSION_ENDED", service="registration", outcome="registered", reason="OK"))
    again = FleetState()
    again.restore(json.loads(json.dumps(d.state.saved())))
    assert again.counters == d.state.counters and again.alerts == d.state.alerts


# --- [telemetry] -----------------------------------------------------------------------------------


def write_config(tmp_path: Path, telemetry: str, mode: str = "development") -> Path:
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8").replace(
        'mode = "development"', f'mode = "{mode}"', 1)
    head, _, _ = text.partition("\n[telemetry]")
    path = tmp_path / "kiosk.toml"
    path.write_text(head + "\n[telemetry]\n" + telemetry, encoding="utf-8")
    return path


def test_telemetry_is_off_by_default_and_optional() -> None:
    assert load_kiosk_config(ROOT / "config" / "kiosk.toml").telemetry.enabled is False


@pytest.mark.parametrize(("section", "key"), [
    ("broker_port = 0", "telemetry.broker_port"),
    ("outbox_max = 0", "telemetry.outbox_max"),
    ('terminal_id = "a/b"', "telemetry.terminal_id"),
    ('terminal_id = "#"', "telemetry.terminal_id"),
    ('topic_prefix = "x/+/y"', "telemetry.topic_prefix"),
    ("keepalive = 1", "telemetry.keepalive"),
    ('enabled = true\nca_file = "/nonexistent.pem"', "telemetry.ca_file"),
    ("broker_port = \"x\"", "telemetry.broker_port"),
    ("colour = 1", "telemetry.colour"),
])
def test_telemetry_errors_name_the_key(tmp_path: Path, section: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_kiosk_config(write_config(tmp_path, section + "\n"))
    assert key in str(err.value)


def test_telemetry_without_tls_is_refused_in_production(tmp_path: Path) -> None:
    assert not load_kiosk_config(write_config(tmp_path, "enabled = true\ntls = false\n")).telemetry.tls
    with pytest.raises(ConfigError, match=r"telemetry\.tls"):
        load_kiosk_config(write_config(tmp_path, "enabled = true\ntls = false\n", mode="production"))


def test_telemetry_enabled_with_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / name).write_text("x")
    cfg = load_kiosk_config(write_config(tmp_path, f'enabled = true\nca_file = "{tmp_path}/ca.pem"\n'
                                                   f'cert_file = "{tmp_path}/c.pem"\nkey_file = "{tmp_path}/c.key"\n'))
    assert cfg.telemetry.enabled and cfg.telemetry.broker_port == 8883


# --- layers ------------------------------------------------------------------------------------------


def test_the_core_never_imports_the_fleet_adapter() -> None:
    bad = offending("kiosk", ("fleet", "paho"))
    assert not bad, "kiosk/ never imports fleet/ or paho (it posts to nobody; fleet/ reads its log):\n  " + \
        "\n  ".join(bad)


def test_the_fleet_adapter_imports_no_screens_devices_or_sim() -> None:
    bad = offending("fleet", ("pygame", "screens", "devices", "sim"))
    assert not bad, "\n  ".join(bad)
    assert all(len(p.read_text().splitlines()) <= 400 for p in package_files("fleet"))


# --- the view's table ----------------------------------------------------------------------------


def test_the_view_keeps_the_latest_and_draws_every_terminal() -> None:
    from rich.console import Console

    from fleet import view

    fleet = view.Fleet()
    status = {"devices": {"printer": {"state": "online", "supplies": {"hopper": {"level": "low", "count": 4}}},
                          "camera": {"state": "offline"}}, "services": [], "in_service": False}
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-1/state", json.dumps({"state": "online"}).encode(), retained=True)
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-1/status", json.dumps(status).encode())
    alert = {"key": "hopper_low", "kind": "hopper_low", "active": True}
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-1/alert/hopper_low", json.dumps(alert).encode())
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-2/state", json.dumps({"state": "offline"}).encode())
    fleet.on_message("elsewhere/T-3/state", b'{"state": "online"}')  # not the fleet's prefix
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-2/status", b"not json")
    snap = fleet.snapshot()
    assert set(snap) == {"T-1", "T-2"}
    assert snap["T-1"]["supplies"] == {"hopper": "low:4"} and snap["T-1"]["devices_down"] == ["camera"]
    assert snap["T-1"]["alerts"] == ["hopper_low"] and snap["T-1"]["in_service"] is False
    fleet.on_message(f"{topics.DEFAULT_PREFIX}/T-1/alert/hopper_low", json.dumps({**alert, "active": False}).encode())
    assert fleet.snapshot()["T-1"]["alerts"] == []
    console = Console(record=True, width=160)
    console.print(view.table(snap))
    text = console.export_text()
    assert "T-1" in text and "T-2" in text and "out of service" in text and "hopper_low" in text


def test_unloadable_certificates_stop_the_start_naming_the_key(tmp_path: Path) -> None:
    import run_kiosk
    from kiosk.logevents import EventLog

    for name in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / name).write_text("not a certificate")
    cfg = load_kiosk_config(write_config(tmp_path, f'enabled = true\nca_file = "{tmp_path}/ca.pem"\n'
                                                   f'cert_file = "{tmp_path}/c.pem"\nkey_file = "{tmp_path}/c.key"\n'))
    with pytest.raises(ConfigError, match=r"telemetry\.cert_file"):
        run_kiosk.start_fleet_link(cfg, EventLog(), lambda e: None)


def test_an_outbox_that_cannot_be_opened_is_logged_and_the_kiosk_goes_on(tmp_path: Path) -> None:
    from fleet.link import FleetLink, LinkSettings
    from kiosk.logevents import EventLog

    blocker = tmp_path / "file"
    blocker.write_text("")
    log = EventLog()
    link = FleetLink(LinkSettings("127.0.0.1", 1, "T-1", outbox_file=blocker / "outbox.sqlite"), lambda e: None, log)
    link.start()
    link.close(timeout=1.0)
    failed = [r for r in log.recent if r["event"] == "FLEET_LINK"]
    assert [(r["state"], r["detail"]) for r in failed] == [("failed", "outbox:FileExistsError")]
    before = link._q.qsize()  # close() may have queued its "stop" before the worker ended
    link.sink({"event": "SESSION_ENDED"})  # still never blocks nor raises, nor keeps the record
    assert link._q.qsize() == before


def test_the_link_keeps_at_most_the_bound_while_no_broker_answers(tmp_path: Path) -> None:
    from fleet.link import FleetLink, LinkSettings
    from kiosk.logevents import EventLog
    from sim.mosquitto import free_port

    log = EventLog()
    path = tmp_path / "outbox.sqlite"
    link = FleetLink(LinkSettings("127.0.0.1", free_port(), "T-1", outbox_file=path, outbox_max=5), lambda e: None,
                     log).start()
    for i in range(10):  # 2 messages each (outcome, counters)
        link.sink({"event": "SESSION_ENDED", "service": "new_permit", "outcome": "aborted", "reason": f"R{i}"})
    link.close(timeout=0.2)
    ob = Outbox(path, 5)
    kept = [json.loads(r.payload) for r in ob.peek()]
    assert len(kept) == 5 and ob.dropped() == 15
    # The older counters were superseded by the newest; then the oldest outcomes went.
    assert [k.get("reason") for k in kept if "reason" in k] == ["R6", "R7", "R8", "R9"]
    assert [k["counters"]["sessions"] for k in kept if "counters" in k] == [10]
    ob.close()
    assert max(r["dropped"] for r in log.recent if r["event"] == "FLEET_DROPPED") == 15
