"""The kiosk's link to the fleet broker: a worker thread fed from the core's log channel.

The core never waits on the network: `sink` (an EventLog sink, called on whatever thread logs)
only puts the record on a queue. The worker derives messages (fleet/derive.py), writes each to
the on-disk outbox (fleet/outbox.py) and hands them to paho in seq order while connected, a
window at a time; a row leaves the outbox only at its PUBACK. paho resends what it was handed
after a reconnect; rows never handed (or handed by a process that since died) go next time, so
delivery is at least once, in order. Every payload carries its `seq` (per terminal) and `ts`.

Commands arrive on the terminal's command topic; the broker already checked the sender's
certificate against its ACL, and this link checks the message (the terminal's own topic, not
retained, a known command, an id, issued within COMMAND_MAX_AGE_S, not seen before) before
posting a `kiosk.remote.RemoteCommand` into the core's event queue. A refusal is logged
(`FLEET_COMMAND`) and replied here; the core logs and replies what it carries out.
"""

from __future__ import annotations

import json
import queue
import re
import sqlite3
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from fleet import topics
from fleet.derive import Deriver, FleetState
from fleet.outbox import Outbox
from kiosk.logevents import EventLog, LogEvent
from kiosk.remote import RemoteAction, RemoteCommand

STOP_DRAIN_S = 3.0  # at the kiosk's stop, how long the link may still deliver before it says offline
WINDOW = 100  # messages handed to paho and not yet acknowledged
COMMAND_MAX_AGE_S = 300.0
COMMAND_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$")
OWN_EVENTS = frozenset({"FLEET_LINK", "FLEET_DROPPED"})  # the link's own records are not telemetry


@dataclass(frozen=True)
class LinkSettings:
    host: str
    port: int
    terminal: str
    prefix: str = topics.DEFAULT_PREFIX
    outbox_file: Path = Path("out/telemetry-outbox.sqlite")
    outbox_max: int = 10000
    keepalive: int = 30
    ca_file: str = ""  # empty: no TLS (development only: config.py refuses it in production)
    cert_file: str = ""
    key_file: str = ""
    reconnect_max_s: int = 10

    @classmethod
    def from_config(cls, config: Any, root: Path) -> LinkSettings:
        t = config.telemetry
        outbox = Path(t.outbox_file)
        return cls(t.broker_host, t.broker_port, t.terminal_id or config.terminal.id, t.topic_prefix,
                   outbox if outbox.is_absolute() else root / outbox, t.outbox_max, t.keepalive,
                   t.ca_file if t.tls else "", t.cert_file if t.tls else "", t.key_file if t.tls else "")


class FleetLink:
    def __init__(self, settings: LinkSettings, post: Callable[[Any], None], log: EventLog | None = None) -> None:
        self.settings, self._post, self._log = settings, post, log
        self.topics = topics.Topics(settings.prefix, settings.terminal)
        self._q: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._handed: dict[int, int] = {}  # paho mid -> outbox seq
        self._last_handed = 0
        self._connected = False
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name=f"fleet-{settings.terminal}", daemon=False)
        self._stopped = threading.Event()
        self.outbox: Outbox | None = None
        self.deriver = Deriver(FleetState())
        self.client = self._client()

    # --- the core's side: never blocks ----------------------------------------------------------

    def sink(self, record: dict[str, Any]) -> None:
        if self._stopped.is_set():
            return  # the worker has ended: nothing would take the records off the queue
        if record.get("event") == "KIOSK_STOPPED":  # the core's last word: deliver, say offline, close
            self._q.put(("stop", time.monotonic() + STOP_DRAIN_S))
        elif record.get("event") not in OWN_EVENTS:
            self._q.put(("record", (record, time.time())))  # ts: when the core logged it

    def start(self) -> FleetLink:
        self._thread.start()
        return self

    def close(self, timeout: float = 3.0) -> None:
        """Delivers what it can within `timeout`, says offline, disconnects; the rest waits on disk."""
        if self._thread.is_alive():
            self._q.put(("stop", time.monotonic() + timeout))
            self._thread.join(timeout + 2.0)

    # --- paho's thread ------------------------------------------------------------------------------

    def _client(self) -> mqtt.Client:
        s = self.settings
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"kiosk-{s.terminal}", clean_session=True)
        c.will_set(self.topics.of(topics.STATE), self._state_payload("offline"), qos=1, retain=True)
        if s.ca_file:
            c.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file,
                      tls_version=ssl.PROTOCOL_TLS_CLIENT)
        c.reconnect_delay_set(1, s.reconnect_max_s)
        c.on_connect = lambda cl, ud, flags, rc, props: self._q.put(("connected", rc))
        c.on_disconnect = lambda cl, ud, flags, rc, props: self._q.put(("disconnected", rc))
        c.on_publish = lambda cl, ud, mid, rc, props: self._q.put(("acked", mid))
        c.on_message = lambda cl, ud, msg: self._q.put(("command", msg))
        return c

    def _state_payload(self, state: str) -> bytes:
        return json.dumps({"state": state, "terminal": self.settings.terminal, "ts": time.time()}).encode()

    # --- the worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        s = self.settings
        try:
            self.outbox = Outbox(s.outbox_file, s.outbox_max)
            self.deriver.state.restore(self.outbox.load("state"))
        except (OSError, sqlite3.Error, ValueError) as exc:  # the kiosk goes on; the fleet hears nothing
            if self._log is not None:
                self._log.emit(LogEvent.FLEET_LINK, state="failed", queued=0, detail=f"outbox:{type(exc).__name__}")
            self._stopped.set()
            return
        self.client.connect_async(s.host, s.port, keepalive=s.keepalive)
        self.client.loop_start()
        try:
            while True:
                kind, value = self._q.get()
                if kind == "stop":
                    self._drain(value)
                    break
                self._handle(kind, value)
                self._pump()
        finally:
            self.client.loop_stop()
            self.outbox.close()
            self._stopped.set()

    def _handle(self, kind: str, value: Any) -> None:
        ob = self.outbox
        assert ob is not None
        if kind == "record":
            record, logged = value
            messages = self.deriver.feed(record)
            for k, payload in messages:
                self._queue(f"{k}/{payload['key']}" if k == topics.ALERT else k, payload, logged)
            if messages:
                ob.save("state", self.deriver.state.saved())
        elif kind == "acked":
            seq = self._handed.pop(value, None)
            if seq is not None:
                ob.ack(seq)
        elif kind == "connected":
            if not value.is_failure:
                self._connected = True
                self.client.subscribe(self.topics.of(topics.COMMAND), qos=1)
                self.client.publish(self.topics.of(topics.STATE), self._state_payload("online"), qos=1, retain=True)
            self._link("connected" if not value.is_failure else "refused", str(value))
        elif kind == "disconnected":
            if self._connected:
                self._link("disconnected", str(value))
            self._connected = False
        elif kind == "command":
            self._command(value)
        elif kind == "reply":
            self._queue(topics.REPLY, value)
            if value.get("command") == RemoteAction.REPORT_NOW and value.get("result") == "accepted":
                self._report_all()

    def _link(self, state: str, detail: str) -> None:
        if self._log is not None:
            self._log.emit(LogEvent.FLEET_LINK, state=state, queued=self.outbox.count() if self.outbox else 0,
                           detail=detail)

    def _queue(self, kind: str, payload: dict[str, Any], ts: float | None = None) -> None:
        assert self.outbox is not None
        body = {"terminal": self.settings.terminal, "ts": time.time() if ts is None else ts, **payload}
        before = self.outbox.dropped()
        self.outbox.put(self.topics.of(kind), json.dumps(body, sort_keys=True).encode(), retain=topics.retained(kind))
        if self.outbox.dropped() != before and self._log is not None:
            self._log.emit(LogEvent.FLEET_DROPPED, dropped=self.outbox.dropped())

    def _report_all(self) -> None:
        st = self.deriver.state
        self._queue(topics.STATUS, st.status())
        self._queue(topics.COUNTERS, {**st.counter_payload(), "dropped": self.outbox.dropped() if self.outbox else 0})
        for key, alert in st.alerts.items():
            self._queue(f"{topics.ALERT}/{key}", alert)

    def _pump(self) -> None:
        if not self._connected or self.outbox is None:
            return
        room = WINDOW - len(self._handed)
        if room <= 0:
            return
        for row in self.outbox.peek(self._last_handed, room):
            body = json.loads(row.payload)
            body["seq"] = row.seq
            info = self.client.publish(row.topic, json.dumps(body, sort_keys=True).encode(), qos=1, retain=row.retain)
            self._handed[info.mid] = row.seq
            self._last_handed = row.seq

    def _drain(self, deadline: float) -> None:
        """Hands over and waits for acknowledgements until the outbox is empty or time is up
        (waiting for a connection too: a link closed right after it started has not connected yet)."""
        ob = self.outbox
        assert ob is not None
        while ob.count() > 0 and time.monotonic() < deadline:
            self._pump()
            try:
                kind, value = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if kind != "stop":
                self._handle(kind, value)
        # `_connected` lags paho: its notice of a lost connection may still wait on the queue (the
        # broker went while this drained). paho's own state decides, and a publish that paho did not
        # take (rc, e.g. "not currently connected") is not waited for: it would raise in this thread.
        if self._connected and self.client.is_connected():
            info = self.client.publish(self.topics.of(topics.STATE), self._state_payload("offline"), qos=1, retain=True)
            if info.rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
                info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        self.client.disconnect()

    # --- commands ----------------------------------------------------------------------------------

    def _command(self, msg: mqtt.MQTTMessage) -> None:
        try:
            data = json.loads(msg.payload)
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        raw_id = data.get("id")
        cid = raw_id if isinstance(raw_id, str) and COMMAND_ID.match(raw_id) else "unknown"
        name = str(data.get("command", ""))
        why = self._refusal(msg, data, cid, name)
        if why:
            if self._log is not None:
                self._log.emit(LogEvent.FLEET_COMMAND, command=name[:32] or "none", id=cid, result="refused", why=why)
            self._handle("reply", {"id": cid, "command": name[:32], "result": "refused", "why": why})
            return
        self._seen[cid] = None
        while len(self._seen) > 1000:
            self._seen.popitem(last=False)
        self._post(RemoteCommand(RemoteAction(name), cid, reply=lambda p: self._q.put(("reply", p))))

    def _refusal(self, msg: mqtt.MQTTMessage, data: dict[str, Any], cid: str, name: str) -> str:
        if msg.topic != self.topics.of(topics.COMMAND):
            return "wrong_topic"
        if msg.retain:
            return "retained"  # a retained command would run again at every connect
        if not data or cid == "unknown":
            return "malformed"
        if name not in {a.value for a in RemoteAction}:
            return "unknown_command"
        issued = data.get("issued_at")
        if not isinstance(issued, int | float) or abs(time.time() - issued) > COMMAND_MAX_AGE_S:
            return "stale"
        if cid in self._seen:
            return "duplicate"
        return ""
