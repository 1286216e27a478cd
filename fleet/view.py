"""The fleet view: subscribes to every terminal's topics and shows state, supplies, counters and
alerts as a live table (rich), or as JSON for scripts.

  python -m fleet.view --host H --port P --ca CA --cert CERT --key KEY            live table
  python -m fleet.view ... --json [--seconds S]       one JSON document after S seconds (default 3)

Its certificate should be the read-only viewer's (the broker's ACL: `fleet-view`); the operator's
also works. `send_command` is what an operator's tool uses to publish a command (docs/fleet.md).
"""

from __future__ import annotations

import argparse
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from fleet import topics


@dataclass
class Terminal:
    state: str = "unknown"
    status: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: int = 0
    replies: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    seqs: list[int] = field(default_factory=list)  # every non-retained seq received, in arrival order
    messages: int = 0
    last_ts: float = 0.0


class Fleet:
    """What the view knows; fed from paho's thread, read from any (under its lock)."""

    def __init__(self, prefix: str = topics.DEFAULT_PREFIX, keep_seqs: bool = False) -> None:
        self.prefix, self.keep_seqs = prefix, keep_seqs
        self.terminals: dict[str, Terminal] = {}
        self.lock = threading.Condition()
        self.messages = 0
        self.latencies: list[float] = []
        self.outcome_log: list[tuple[str, dict[str, Any]]] = []

    def on_message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        where = topics.split(self.prefix, topic)
        if where is None:
            return
        name, kind = where
        try:
            data = json.loads(payload)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        now = time.time()
        with self.lock:
            t = self.terminals.setdefault(name, Terminal())
            self.messages += 1
            t.messages += 1
            ts = data.get("ts")
            if isinstance(ts, int | float):
                t.last_ts = max(t.last_ts, float(ts))
                if not retained:
                    self.latencies.append(now - float(ts))
            seq = data.get("seq")
            if isinstance(seq, int):
                t.last_seq = max(t.last_seq, seq)
                if self.keep_seqs and not retained:
                    t.seqs.append(seq)
            if kind == topics.STATE:
                t.state = str(data.get("state", "unknown"))
            elif kind == topics.STATUS:
                t.status = data
            elif kind == topics.COUNTERS:
                t.counters = dict(data.get("counters", {}))
            elif kind.startswith(topics.ALERT + "/"):
                key = str(data.get("key", ""))
                if data.get("active"):
                    t.alerts[key] = data
                else:
                    t.alerts.pop(key, None)
            elif kind == topics.OUTCOME:
                t.outcomes += 1
                if self.keep_seqs:
                    self.outcome_log.append((name, data))
            elif kind == topics.REPLY:
                t.replies.append(data)
            self.lock.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self), timeout)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {name: {"state": t.state, "in_service": t.status.get("in_service"),
                           "services": t.status.get("services", []), "supplies": _supplies(t.status),
                           "devices_down": sorted(d for d, v in t.status.get("devices", {}).items()
                                                  if v.get("state") not in ("online", "busy")),
                           "counters": t.counters, "alerts": sorted(t.alerts), "outcomes": t.outcomes,
                           "last_seq": t.last_seq, "messages": t.messages}
                    for name, t in sorted(self.terminals.items())}


def _supplies(status: dict[str, Any]) -> dict[str, str]:
    printer = status.get("devices", {}).get("printer", {})
    return {name: f"{v.get('level')}:{v.get('count')}" for name, v in printer.get("supplies", {}).items()}


def client(host: str, port: int, ca: str, cert: str, key: str, client_id: str = "", *,
           persistent: bool = False) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"view-{uuid.uuid4().hex[:8]}",
                    clean_session=not persistent)
    if ca:
        c.tls_set(ca_certs=ca, certfile=cert or None, keyfile=key or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.reconnect_delay_set(1, 5)
    c.user_data_set({"host": host, "port": port})
    return c


def watch(fleet: Fleet, c: mqtt.Client, host: str, port: int) -> mqtt.Client:
    """Subscribes (again at every connect) and feeds `fleet`; paho's loop runs in its own thread.
    Returns once the broker granted the subscription (SUBACK), so nothing published after is missed."""
    subscribed = threading.Event()

    def on_connect(cl: mqtt.Client, ud: Any, flags: Any, rc: Any, props: Any) -> None:
        if not rc.is_failure:
            cl.subscribe(f"{fleet.prefix}/+/#", qos=1)

    c.on_connect = on_connect
    c.on_subscribe = lambda cl, ud, mid, codes, props: subscribed.set()
    c.on_message = lambda cl, ud, msg: fleet.on_message(msg.topic, bytes(msg.payload), bool(msg.retain))
    c.connect(host, port, keepalive=30)
    c.loop_start()
    if not subscribed.wait(15.0):
        c.loop_stop()
        raise OSError("the broker did not grant the subscription")
    return c


def send_command(c: mqtt.Client, terminal: str, command: str, prefix: str = topics.DEFAULT_PREFIX,
                 command_id: str = "") -> str:
    cid = command_id or uuid.uuid4().hex[:16]
    body = json.dumps({"id": cid, "command": command, "issued_at": time.time()})
    c.publish(f"{prefix}/{terminal}/{topics.COMMAND}", body, qos=1).wait_for_publish(10)
    return cid


def table(snap: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"fleet: {len(snap)} terminals, "
                    f"{sum(1 for v in snap.values() if v['state'] == 'online')} online")
    for col in ("terminal", "state", "service", "supplies", "down", "sessions", "alerts"):
        t.add_column(col)
    for name, v in snap.items():
        state = v["state"]
        style = "green" if state == "online" else "red"
        service = "in service" if v["in_service"] else ("out of service" if v["in_service"] is False else "?")
        t.add_row(name, f"[{style}]{state}[/]", service,
                  " ".join(f"{k}={x}" for k, x in v["supplies"].items()), ",".join(v["devices_down"]),
                  str(v["counters"].get("sessions", 0)), f"[yellow]{','.join(v['alerts'])}[/]")
    return t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8883)
    ap.add_argument("--ca", default="")
    ap.add_argument("--cert", default="")
    ap.add_argument("--key", default="")
    ap.add_argument("--prefix", default=topics.DEFAULT_PREFIX)
    ap.add_argument("--json", action="store_true", help="print one JSON document and exit")
    ap.add_argument("--seconds", type=float, default=3.0, help="with --json: how long to listen first")
    args = ap.parse_args(argv)
    fleet = Fleet(args.prefix)
    try:
        c = watch(fleet, client(args.host, args.port, args.ca, args.cert, args.key), args.host, args.port)
    except (OSError, ssl.SSLError) as exc:
        print(f"fleet.view: cannot connect to {args.host}:{args.port}: {exc}")
        return 2
    try:
        if args.json:
            time.sleep(args.seconds)  # a listening period the caller chose, not a race
            print(json.dumps({"terminals": fleet.snapshot(), "messages": fleet.messages}, indent=1, sort_keys=True))
            return 0
        from rich.live import Live

        with Live(table(fleet.snapshot()), refresh_per_second=2) as live:
            while True:
                time.sleep(0.5)
                live.update(table(fleet.snapshot()))
    except KeyboardInterrupt:
        return 0
    finally:
        c.loop_stop()
        c.disconnect()


if __name__ == "__main__":
    raise SystemExit(main())
