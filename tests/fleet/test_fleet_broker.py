"""The fleet link against a real Mosquitto: retained state and last will, telemetry at QoS 1,
commands authenticated by certificates and the broker's ACL and checked and audited by the link,
and the outbox across a broker outage and a restart of the link (the kiosk's process)."""

from __future__ import annotations

import json
import queue
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from fleet import topics, view
from fleet.link import FleetLink, LinkSettings
from fleet.outbox import Outbox
from kiosk.logevents import EventLog
from kiosk.remote import RemoteAction, RemoteCommand
from sim.mosquitto import OPERATOR, Broker, Pki
from tests.fleet.conftest import connect

ROOT = Path(__file__).resolve().parents[2]
PREFIX = topics.DEFAULT_PREFIX
WAIT = 20.0


def settings(broker: Broker, terminal: str, outbox: Path) -> LinkSettings:
    ident = broker.pki.clients[terminal]
    return LinkSettings("127.0.0.1", broker.port, terminal, PREFIX, outbox, 10000, 10,
                        str(broker.pki.ca), str(ident.cert), str(ident.key), reconnect_max_s=1)


def session(i: int) -> dict[str, Any]:
    services = ("new_permit", "registration", "status_query")
    return {"event": "SESSION_ENDED", "session": f"s{i}", "service": services[i % 3], "outcome": "aborted",
            "reason": f"TIMEOUT_{i}"}  # the reason carries i so the order can be checked


def log_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_online_retained_then_the_last_will_on_a_crash(broker: Broker, tmp_path: Path) -> None:
    """A terminal that dies without a word is shown offline by the broker's last will."""
    script = ("import sys, threading; sys.path.insert(0, sys.argv[1]);"
              "from pathlib import Path; from fleet.link import FleetLink, LinkSettings;"
              "s = LinkSettings('127.0.0.1', int(sys.argv[2]), 'T-0001', 'rpkiosk/v1', Path(sys.argv[3]), 100, 10,"
              " sys.argv[4], sys.argv[5], sys.argv[6]);"
              "FleetLink(s, lambda e: None).start(); threading.Event().wait()")
    ident = broker.pki.clients["T-0001"]
    fleet, sub = connect(broker, OPERATOR)
    proc = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(broker.port), str(tmp_path / "o.sqlite"),
                             str(broker.pki.ca), str(ident.cert), str(ident.key)])
    try:
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).state == "online", WAIT)
        proc.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the will
        proc.wait(10)
        assert fleet.wait_for(lambda f: f.terminals["T-0001"].state == "offline", WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        sub.loop_stop()  # type: ignore[attr-defined]
    # Retained: a view that joins later still sees the terminal offline.
    late, sub2 = connect(broker, OPERATOR)
    try:
        assert late.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).state == "offline", WAIT)
    finally:
        sub2.loop_stop()  # type: ignore[attr-defined]


def test_telemetry_status_alerts_and_a_clean_stop(broker: Broker, tmp_path: Path) -> None:
    fleet, sub = connect(broker, OPERATOR)
    link = FleetLink(settings(broker, "T-0001", tmp_path / "o.sqlite"), lambda e: None).start()
    try:
        link.sink({"event": "DEVICE_STATUS", "device": "printer", "state": "online", "media": "none", "detail": "",
                   "supplies": "hopper=low:4,reject_bin=high:1"})
        link.sink({"event": "SERVICES_CHANGED", "available": "new_permit,registration", "unavailable": ""})
        link.sink(session(1))
        # The counters are made after the outcome: in order, so when they arrive everything has.
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).counters.get("sessions") == 1,
                              WAIT)
        snap = fleet.snapshot()["T-0001"]
        assert snap["state"] == "online" and snap["in_service"] is True
        assert snap["supplies"] == {"hopper": "low:4", "reject_bin": "high:1"}
        assert snap["alerts"] == ["hopper_low"] and snap["outcomes"] == 1
    finally:
        link.close()
    assert fleet.wait_for(lambda f: f.terminals["T-0001"].state == "offline", WAIT)
    ob = Outbox(tmp_path / "o.sqlite", 10)
    assert ob.count() == 0, "every message was acknowledged (QoS 1) and left the outbox"
    ob.close()
    sub.loop_stop()  # type: ignore[attr-defined]


def test_nothing_lost_across_a_broker_outage_and_a_link_restart(broker: Broker, tmp_path: Path) -> None:
    """The broker is stopped (by PID) while messages are in flight, the kiosk's link is restarted
    while it is down, and after the broker comes back every message arrives, in order."""
    fleet, sub = connect(broker, OPERATOR, persistent=True, client_id="fleet-backend")
    outbox = tmp_path / "outbox.sqlite"
    link = FleetLink(settings(broker, "T-0001", outbox), lambda e: None).start()
    n = 0
    try:
        for _ in range(20):
            n += 1
            link.sink(session(n))
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).outcomes == 20, WAIT)
        for _ in range(20):  # mid-run: the broker goes while these are handed over
            n += 1
            link.sink(session(n))
        broker.stop()
        for _ in range(10):
            n += 1
            link.sink(session(n))
        link.close(timeout=0.5)  # the kiosk restarts while the broker is away
        waiting = Outbox(outbox, 10000)
        assert waiting.count() > 0, "messages wait on disk"
        waiting.close()
        link = FleetLink(settings(broker, "T-0001", outbox), lambda e: None).start()
        for _ in range(10):
            n += 1
            link.sink(session(n))
        broker.start()
        assert fleet.wait_for(lambda f: {o["reason"] for _, o in f.outcome_log} >= {f"TIMEOUT_{i}"
                                                                                  for i in range(1, n + 1)}, 40.0)
        # In order: the first arrival of each message follows the order they were made in.
        first_seen: list[str] = []
        for _, o in fleet.outcome_log:
            if o["reason"] not in first_seen:
                first_seen.append(o["reason"])
        assert first_seen == [f"TIMEOUT_{i}" for i in range(1, n + 1)]
        seqs = [o["seq"] for _, o in fleet.outcome_log]
        assert sorted(set(seqs)) == list(dict.fromkeys(seqs)), "seq rises with every new message"
        # The counters went on across the restart (kept in the outbox's file).
        assert fleet.wait_for(lambda f: f.terminals["T-0001"].counters.get("sessions") == n, WAIT)
    finally:
        link.close()
        sub.loop_stop()  # type: ignore[attr-defined]
        sub.disconnect()  # type: ignore[attr-defined]


def operator(broker: Broker) -> mqtt.Client:
    _, c = connect(broker, OPERATOR)
    return c  # type: ignore[return-value]


def test_commands_are_checked_audited_and_answered(broker: Broker, tmp_path: Path) -> None:
    log_path = tmp_path / "kiosk.jsonl"
    log = EventLog(log_path)
    posted: queue.Queue[Any] = queue.Queue()
    fleet, op = connect(broker, OPERATOR)
    link = FleetLink(settings(broker, "T-0001", tmp_path / "o.sqlite"), posted.put, log).start()
    try:
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).state == "online", WAIT)
        cid = view.send_command(op, "T-0001", "out_of_service")  # type: ignore[arg-type]
        cmd = posted.get(timeout=WAIT)
        assert isinstance(cmd, RemoteCommand) and cmd.action is RemoteAction.OUT_OF_SERVICE and cmd.command_id == cid
        cmd.reply({"id": cid, "command": "out_of_service", "result": "accepted", "why": ""})
        assert fleet.wait_for(lambda f: any(r["id"] == cid for r in f.terminals["T-0001"].replies), WAIT)
        # Refused by the link: stale, retained, unknown, malformed, a replay of an id already carried out.
        bad = {
            "stale": {"id": "c-stale", "command": "report_now", "issued_at": time.time() - 3600},
            "unknown_command": {"id": "c-unknown", "command": "format_disk", "issued_at": time.time()},
            "malformed": {"command": "report_now"},
            "duplicate": {"id": cid, "command": "out_of_service", "issued_at": time.time()},
        }
        for body in bad.values():
            op.publish(f"{PREFIX}/T-0001/cmd", json.dumps(body), qos=1).wait_for_publish(10)  # type: ignore[attr-defined]
        expected = {k: v.get("id", "unknown") for k, v in bad.items()}
        assert fleet.wait_for(lambda f: {r["why"] for r in f.terminals["T-0001"].replies if r["result"] == "refused"}
                              >= set(expected), WAIT)
        assert posted.empty(), "a refused command never reaches the core"
        # A retained command would run at every connect: the link restarts and is given it as retained.
        link.close()
        op.publish(f"{PREFIX}/T-0001/cmd", json.dumps({"id": "c-retained", "command": "out_of_service",  # type: ignore[attr-defined]
                                                       "issued_at": time.time()}), qos=1, retain=True)
        link = FleetLink(settings(broker, "T-0001", tmp_path / "o.sqlite"), posted.put, log).start()
        expected["retained"] = "c-retained"
        assert fleet.wait_for(lambda f: any(r["why"] == "retained" for r in f.terminals["T-0001"].replies), WAIT)
        assert posted.empty()
        audit = [(r["id"], r["why"]) for r in log_records(log_path) if r["event"] == "FLEET_COMMAND"]
        assert sorted(audit) == sorted((cid_, why) for why, cid_ in expected.items())
    finally:
        op.publish(f"{PREFIX}/T-0001/cmd", b"", qos=1, retain=True).wait_for_publish(10)  # type: ignore[attr-defined]
        link.close()
        op.loop_stop()  # type: ignore[attr-defined]


def test_the_broker_lets_only_the_operator_command_and_only_the_fleet_ca_in(broker: Broker, pki: Pki,
                                                                             tmp_path: Path) -> None:
    posted: queue.Queue[Any] = queue.Queue()
    link = FleetLink(settings(broker, "T-0001", tmp_path / "o.sqlite"), posted.put).start()
    fleet, op = connect(broker, OPERATOR)
    # Another terminal's certificate: it may neither command T-0001 nor read T-0001's commands.
    spy_fleet, spy = connect(broker, "T-0002")
    try:
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).state == "online", WAIT)
        body = json.dumps({"id": "c-forged", "command": "out_of_service", "issued_at": time.time()})
        spy.publish(f"{PREFIX}/T-0001/cmd", body, qos=1).wait_for_publish(10)  # type: ignore[attr-defined]
        # The forged publish was acknowledged (and dropped by the ACL) before this one was sent,
        # and the broker handles them in that order: when this one arrives, the other would have.
        cid = view.send_command(op, "T-0001", "report_now")  # type: ignore[arg-type]
        cmd = posted.get(timeout=WAIT)
        assert cmd.command_id == cid
        assert posted.empty()
        # The spy subscribed to every terminal's topics, but the ACL lets it read its own commands only:
        # a command to T-0002, sent after T-0001's, reaches it; T-0001's (queued before it) never did.
        view.send_command(op, "T-0002", "report_now")  # type: ignore[arg-type]
        assert spy_fleet.wait_for(lambda f: "T-0002" in f.terminals, WAIT)
        assert set(spy_fleet.terminals) == {"T-0002"}, "T-0002 read another terminal's topics"
    finally:
        link.close()
        for c in (op, spy):
            c.loop_stop()  # type: ignore[attr-defined]
    # A certificate from another CA, and none at all: the TLS handshake fails.
    other = Pki.make(tmp_path / "other", name="not the fleet CA")
    stranger = other.issue(OPERATOR)
    # The client's loop runs in this thread only: paho's loop thread and a second caller of loop()
    # would use one OpenSSL connection from two threads at once, which crashed the test worker.
    for cert, key in ((str(stranger.cert), str(stranger.key)), ("", "")):
        c = view.client("127.0.0.1", broker.port, str(pki.ca), cert, key)
        try:
            with pytest.raises((ssl.SSLError, OSError)):
                c.connect("127.0.0.1", broker.port, keepalive=10)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not c.is_connected():
                    if c.loop(0.1) != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
                        raise OSError("refused")
                raise OSError("refused") if not c.is_connected() else AssertionError("a stranger connected")
        finally:
            c.disconnect()


def test_nothing_lost_when_the_broker_comes_back_to_the_same_link(broker: Broker, tmp_path: Path) -> None:
    """The same process throughout: what paho was handed before the outage is resent by paho,
    what waited in the outbox follows, in order."""
    fleet, sub = connect(broker, OPERATOR, persistent=True, client_id="fleet-backend-2")
    link = FleetLink(settings(broker, "T-0001", tmp_path / "outbox.sqlite"), lambda e: None).start()
    try:
        for i in range(1, 31):
            link.sink(session(i))
        broker.stop()  # mid-run: some of the 30 are in flight
        for i in range(31, 61):
            link.sink(session(i))
        broker.start()
        want = [f"TIMEOUT_{i}" for i in range(1, 61)]
        assert fleet.wait_for(lambda f: {o["reason"] for _, o in f.outcome_log} >= set(want), 40.0)
        assert list(dict.fromkeys(o["reason"] for _, o in fleet.outcome_log)) == want
    finally:
        link.close()
        sub.loop_stop()  # type: ignore[attr-defined]
        sub.disconnect()  # type: ignore[attr-defined]
    ob = Outbox(tmp_path / "outbox.sqlite", 10)
    assert ob.count() == 0
    ob.close()


def test_a_stop_during_an_outage_the_link_has_not_noticed_yet(broker: Broker, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The kiosk stops while the broker is gone but the link's worker has not yet taken paho's
    notice of it (it waits on the queue behind the stop): the link must not publish and wait on a
    connection that is no longer there (paho raised "Message publish failed: The client is not
    currently connected" in the worker thread); it ends cleanly and the messages wait on disk."""
    crashed: list[BaseException | None] = []
    monkeypatch.setattr("threading.excepthook", lambda args: crashed.append(args.exc_value))
    fleet, sub = connect(broker, OPERATOR, persistent=True, client_id="fleet-backend-3")
    outbox = tmp_path / "outbox.sqlite"
    link = FleetLink(settings(broker, "T-0001", outbox), lambda e: None).start()
    try:
        assert fleet.wait_for(lambda f: f.terminals.get("T-0001", view.Terminal()).state == "online", WAIT)
        gone = threading.Event()
        # The worst case of a late notice: paho's disconnect never reaches the worker's queue.
        link.client.on_disconnect = lambda cl, ud, flags, rc, props: gone.set()
        broker.stop()
        assert gone.wait(WAIT) and not link.client.is_connected()
        link.sink(session(1))
        link.close(timeout=0.5)
        assert not link._thread.is_alive()
        assert crashed == [], crashed
        waiting = Outbox(outbox, 10)
        assert waiting.count() > 0, "the outcome and the counters wait on disk"
        waiting.close()
        # And it is delivered by the next start.
        broker.start()
        link = FleetLink(settings(broker, "T-0001", outbox), lambda e: None).start()
        assert fleet.wait_for(lambda f: any(o["reason"] == "TIMEOUT_1" for _, o in f.outcome_log), 40.0)
    finally:
        link.close()
        sub.loop_stop()  # type: ignore[attr-defined]
        sub.disconnect()  # type: ignore[attr-defined]
