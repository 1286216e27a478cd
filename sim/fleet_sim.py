"""The fleet simulator: N simulated terminals, each the kiosk's own fleet link (fleet/link.py:
its outbox on disk, its paho client, its certificate), fed log records as a kiosk would log
them, publishing at once against a real Mosquitto, with the fleet view subscribed to them all.

  python -m sim.fleet_sim [--terminals 200] [--seconds 10] [--rate 1.0] [--json OUT]

The terminals run in processes of PER_PROCESS links each (paho's loop uses select()).

Starts its own broker (sim/mosquitto.py: TLS, client certificates, the fleet's ACL) on a free
port on 127.0.0.1 and stops it by PID. Prints the figures: messages made and received, the
view's messages/s, latency from a message's making to the view (p50/p95/max), the broker's RSS
and CPU from /proc/PID, this process's CPU. A benchmark: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fleet import view
from fleet.link import FleetLink, LinkSettings
from sim.mosquitto import VIEWER, Broker, Pki

SERVICES = ("new_permit", "registration", "status_query", "card_rewrite")
OUTCOMES = (("issued", "OK"), ("registered", "OK"), ("info_shown", "OK"), ("counter_referral", "REG_EXPIRED"),
            ("aborted", "USER_CANCELLED"), ("aborted", "TIMEOUT"), ("counter_referral", "DEVICE_FAULT"))


def terminal_ids(n: int) -> list[str]:
    return [f"SIM-{i:04d}" for i in range(n)]


def records_for(rng: random.Random, hopper: int) -> list[dict[str, Any]]:
    """One simulated session's log records: its end, and the printer's status after it."""
    outcome, reason = rng.choice(OUTCOMES)
    level = "empty" if hopper <= 0 else "low" if hopper <= 10 else "high"
    out: list[dict[str, Any]] = [
        {"event": "SESSION_ENDED", "session": "sim", "service": rng.choice(SERVICES), "outcome": outcome,
         "reason": reason},
        {"event": "DEVICE_STATUS", "device": "printer", "state": "online", "media": "none", "detail": "",
         "supplies": f"hopper={level}:{max(hopper, 0)},reject_bin=high:{rng.randint(0, 5)}"},
    ]
    if rng.random() < 0.02:
        out.append({"event": "STAFF_CALLED"})
    return out


def cpu_seconds(pid: int | str = "self") -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


PER_PROCESS = 50  # paho's loop uses select(): past ~1000 descriptors (6 a link) a process fails


def feed(links: list[FleetLink], ids: list[str], seconds: float, rate: float, start: float, seed: int) -> int:
    """The simulated residents: every terminal ends a session every 1/rate s; returns how many."""
    rng = random.Random(seed)
    hoppers = {tid: 100 for tid in ids}
    sessions = tick = 0
    period = 1.0 / rate if rate > 0 else seconds
    while time.time() - start < seconds:
        for tid, link in zip(ids, links, strict=True):
            hoppers[tid] -= 1
            for r in records_for(rng, hoppers[tid]):
                link.sink(r)
            sessions += 1
        tick += 1
        pause = start + tick * period - time.time()
        if pause > 0:
            time.sleep(pause)  # the simulated residents' pace, not a wait for a result
    return sessions


def worker(args: argparse.Namespace) -> int:
    """One process's share of the terminals: connects, waits for the common start, feeds, delivers."""
    pki_dir = Path(args.pki)
    ids = args.ids.split(",")
    links = [FleetLink(LinkSettings("127.0.0.1", args.port, tid, outbox_file=Path(args.outbox) / f"{tid}.sqlite",
                                    keepalive=30, ca_file=str(pki_dir / "ca.pem"),
                                    cert_file=str(pki_dir / f"{tid}.pem"), key_file=str(pki_dir / f"{tid}.key")),
                       lambda e: None).start() for tid in ids]
    # The common start: the main process writes it once the view has seen every terminal online.
    go = Path(args.go)
    deadline = time.monotonic() + 120.0
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # a poll for another process's file, bounded by the deadline
    start_at = float(go.read_text()) if go.exists() else time.time()
    while time.time() < start_at:
        time.sleep(max(0.0, start_at - time.time()))
    sessions = feed(links, ids, args.seconds, args.rate, start_at, seed=int(ids[0].rsplit("-", 1)[-1]))
    cpu = cpu_seconds()
    for link in links:
        link.close(timeout=60.0)  # delivers what is still in its outbox first
    print(json.dumps({"sessions": sessions, "cpu_s": cpu}), flush=True)
    return 0


def run(terminals: int, seconds: float, rate: float, workdir: Path) -> dict[str, Any]:
    import subprocess
    import sys

    t0 = time.monotonic()
    pki = Pki.make(workdir / "pki")
    ids = terminal_ids(terminals)
    for cn in (*ids, VIEWER):
        pki.issue(cn)
    broker = Broker(workdir / "broker", pki).start()
    procs: list[subprocess.Popen[str]] = []
    sub = None
    try:
        fleet = view.Fleet(keep_seqs=True)
        ident = pki.clients[VIEWER]
        sub = view.watch(fleet, view.client("127.0.0.1", broker.port, str(pki.ca), str(ident.cert), str(ident.key)),
                         "127.0.0.1", broker.port)
        go = workdir / "go"
        root = Path(__file__).resolve().parent.parent
        for i in range(0, terminals, PER_PROCESS):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "sim.fleet_sim", "--worker", "--ids", ",".join(ids[i:i + PER_PROCESS]),
                 "--port", str(broker.port), "--pki", str(pki.folder), "--outbox", str(workdir / "outbox"),
                 "--seconds", str(seconds), "--rate", str(rate), "--go", str(go)],
                cwd=root, stdout=subprocess.PIPE, text=True))
        online = fleet.wait_for(lambda f: sum(t.state == "online" for t in f.terminals.values()) == terminals, 90.0)
        t_connected = time.monotonic() - t0
        broker_before = broker.figures()
        cpu_before = cpu_seconds()
        start_at = time.time() + 0.5
        (workdir / "go.tmp").write_text(repr(start_at))
        (workdir / "go.tmp").rename(go)  # whole, at once
        while time.time() < start_at:
            time.sleep(max(0.0, start_at - time.time()))
        fleet.latencies.clear()
        received_before = fleet.messages
        start = time.monotonic()
        results = [json.loads((p.communicate(timeout=seconds + 180)[0] or "{}").strip().splitlines()[-1])
                   for p in procs]
        sessions = sum(int(r.get("sessions", 0)) for r in results)
        delivered = fleet.wait_for(lambda f: sum(t.counters.get("sessions", 0) for t in f.terminals.values())
                                   >= sessions, 120.0)
        elapsed = time.monotonic() - start
        broker_after = broker.figures()
        lat = sorted(fleet.latencies)
        received = fleet.messages - received_before
        in_order = all(t.seqs == sorted(t.seqs) for t in fleet.terminals.values())
        outcomes = sum(t.outcomes for t in fleet.terminals.values())
        return {
            "terminals": terminals, "processes": len(procs), "all_online": online,
            "online_seen": sum(t.last_seq > 0 or t.state == "online" for t in fleet.terminals.values()),
            "connect_s": round(t_connected, 2), "sessions": sessions, "outcomes_received": outcomes,
            "all_delivered": delivered, "in_order": in_order, "feed_seconds": seconds,
            "delivery_seconds": round(elapsed, 2), "view_messages": received,
            "view_messages_per_s": round(received / elapsed, 1),
            "latency_ms": {"p50": round(1000 * statistics.median(lat), 1) if lat else None,
                           "p95": round(1000 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
                           "max": round(1000 * lat[-1], 1) if lat else None},
            "broker": {"pid": broker.pid, "rss_kib": broker_after["rss_kib"],
                       "cpu_s": round(broker_after["cpu_s"] - broker_before["cpu_s"], 2),
                       "cpu_percent": round(100 * (broker_after["cpu_s"] - broker_before["cpu_s"]) / elapsed, 1)},
            "view_cpu_s": round(cpu_seconds() - cpu_before, 2),
            "terminal_processes_cpu_s": round(sum(float(r.get("cpu_s", 0)) for r in results), 2),
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        if sub is not None:
            sub.loop_stop()
        broker.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terminals", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=1.0, help="sessions per second per terminal")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (broker log, outboxes)")
    for name in ("--ids", "--pki", "--outbox", "--go"):  # a worker process's share (run starts them)
        ap.add_argument(name, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    workdir = Path(tempfile.mkdtemp(prefix="fleet-sim-"))
    try:
        figures = run(args.terminals, args.seconds, args.rate, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0 if figures["all_delivered"] and figures["in_order"] and figures["all_online"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
