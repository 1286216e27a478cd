"""Where a whole session's wall time goes, per service, and what the kiosk costs at rest (issue 16).

  python -m sim.bench_overhead [--repeat 3] [--service NAME ...] [--idle 10] [--timeline] [--json OUT]

One whole session of each service (new permit, card rewrite, registration, status query) on the
emulated stack at zero device delay on the virtual clock, `--repeat` times in one kiosk process
per service (each new-permit session a different resident, so every one is a whole issuance).
The main thread is serial, so its wall time splits without overlap into what it did and what
it waited for:

- busy: `render` (drawing and presenting frames: screens/), `core` (events, touches and timers
  handled: kiosk/), `harness` (the scenario player's frame hook: its taps, the emulators' hub
  calls that place an ID card or build a card face, its screenshots);
- waiting, each wait named by what ended it: `backend` (a reply of the emulated approval system,
  whose face-match stand-in is most of it), `encoder_detect` (the encoder's card arriving or
  leaving: pcscd's own 0.4 s poll of the virtual reader, which has no event of its own, plus
  the adapter's watcher), `encoder_op` (an APDU exchange over pcscd + vpcd), `id_reader`,
  `printer`, `qr_scanner`, `camera` (a device's adapter: its polls and its transactions over the
  ptys), `work` (the core's CPU work off the main thread: the photo's analysis, the card face),
  `harness_wait` (the player waiting for a view to be stable before it acts or makes the
  virtual clock jump; the kiosk had nothing to do).

`firmware` = render + core + work + every device adapter's waits (id_reader, printer, qr_scanner,
camera, encoder_op): the part of a session at zero device delay that the firmware and its
transports own. Left out: the backend (another organisation's system), the harness, and
`encoder_detect` (the emulated reader's pcscd poll; a CCID encoder notifies pcscd at once),
each printed beside it. The budget is firmware ≤ 0.25 s per whole session of every service.

Idle: the kiosk left at the attract screen for `--idle` seconds: its process's CPU as % of one
core, split by thread (the main loop, each adapter's worker, the encoder's watcher), with the
main loop's frames per second and the renders it did.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "scenarios" / "cases"
SERVICES: dict[str, Path] = {
    "new_permit": ROOT / "sim" / "scenarios" / "demo.toml",
    "card_rewrite": CASES / "rewrite_endorsement_passed.toml",
    "registration": CASES / "registration_rental_qr_serial.toml",
    "status_query": CASES / "status_shanghai_open_on_v.toml",
}
FIRMWARE = ("render", "core", "work", "id_reader", "printer", "qr_scanner", "camera", "encoder_op")
EXCLUDED = ("backend", "encoder_detect", "harness", "harness_wait")
BUDGET_S = 0.25
# Events nobody waits for: a wait they interrupt runs on to what came next.
BACKGROUND = ("PreviewSampled", "GuidanceAnalysed", "DeviceLogged")


@dataclass(frozen=True)
class Span:
    start: float
    end: float
    kind: str  # render | core | harness | timer | event:<category>
    what: str
    acted: bool = False  # a harness span that tapped, called the hub or moved the clock


def event_category(event: Any) -> str:
    """Which part of the system an event on the kiosk's queue comes from."""
    from devices.status import DeviceKind

    name = type(event).__name__
    if name == "BackendReply":
        return "backend"
    if name in ("ChipCardPresent", "ChipCardRemoved"):
        return "encoder_detect"
    if name == "ChipResult":
        return "encoder_op"
    if name in ("IdCardPlaced", "IdCardLifted", "IdCardRead", "IdReadFailed"):
        return "id_reader"
    if name in ("PrinterResult", "PrintedCardTaken"):
        return "printer"
    if name == "QrScanned":
        return "qr_scanner"
    if name in ("PhotoCaptured", "PreviewSampled", "CameraFailed"):
        return "camera"
    device = getattr(getattr(event, "status", None), "device", None) or getattr(event, "device", None)
    if device is DeviceKind.PERMIT_CARD:
        return "encoder_detect" if name == "StatusChanged" else "encoder_op"
    if isinstance(device, DeviceKind) and device.value in ("id_reader", "printer", "qr_scanner", "camera"):
        return device.value
    if event.__class__.__module__.startswith("kiosk."):
        return "work"
    return "other"


class Tracer:
    """Times every piece of the main thread's work for one rig (instance wrappers; the player's
    hook is wrapped on its class while `hooked` lasts)."""

    def __init__(self, rig: Any) -> None:
        self.spans: list[Span] = []
        self.actions = 0
        self._wrap(rig.kiosk, "_dispatch", lambda e: ("event:" + event_category(e), type(e).__name__))
        self._wrap(rig.kiosk, "_on_timer", lambda n: ("timer", str(n)))
        self._wrap(rig.kiosk, "handle_intent", lambda i: ("core", type(i).__name__))
        self._wrap(rig.display, "render", lambda v: ("render", v.screen_id))
        self._wrap(rig.display, "present", lambda: ("render", "present"))
        for obj, name in ((rig.client, "call"), (rig.clock, "advance_to")):
            self._count(obj, name)

    def _wrap(self, obj: Any, name: str, describe: Callable[..., tuple[str, str]]) -> None:
        inner = getattr(obj, name)

        def timed(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args)
            finally:
                kind, what = describe(*args)
                self.spans.append(Span(start, time.perf_counter(), kind, what))

        setattr(obj, name, timed)

    def _count(self, obj: Any, name: str) -> None:
        inner = getattr(obj, name)

        def counted(*args: Any, **kw: Any) -> Any:
            self.actions += 1
            return inner(*args, **kw)

        setattr(obj, name, counted)

    @contextmanager
    def hooked(self) -> Iterator[None]:
        import sim.runner as runner

        player, tap = runner.ScenarioPlayer, runner.post_tap
        call, new_view = player.__call__, player.on_new_view

        def hook(p: Any, view: Any) -> Any:
            before, start = self.actions, time.perf_counter()
            try:
                return call(p, view)
            finally:
                self.spans.append(Span(start, time.perf_counter(), "harness", "hook", self.actions != before))

        def on_view(p: Any, view: Any) -> None:
            start = time.perf_counter()
            try:
                new_view(p, view)
            finally:
                self.spans.append(Span(start, time.perf_counter(), "harness", "on_new_view"))

        def counted_tap(pos: tuple[int, int]) -> None:
            self.actions += 1
            tap(pos)

        player.__call__, player.on_new_view, runner.post_tap = hook, on_view, counted_tap  # type: ignore[method-assign]
        try:
            yield
        finally:
            player.__call__, player.on_new_view, runner.post_tap = call, new_view, tap  # type: ignore[method-assign]


def attribute(spans: list[Span], start: float, end: float) -> dict[str, float]:
    """Seconds per category: busy spans as they are; each wait between them to what ended it
    (waits that only a hook with nothing to do, a frame of its own or an event nobody waits for
    interrupted run on to what came next)."""
    out: dict[str, float] = {}

    def add(key: str, seconds: float) -> None:
        out[key] = out.get(key, 0.0) + max(0.0, seconds)

    spans = sorted((s for s in spans if start <= s.start <= end), key=lambda s: s.start)
    cursor, waited = start, 0.0
    for s in spans:
        gap = max(0.0, s.start - cursor)
        busy = s.end - max(s.start, cursor)
        cursor = max(cursor, s.end)
        if s.kind == "harness":
            add("harness", busy)
            if not s.acted:
                waited += gap
                continue
            add("harness_wait", waited + gap)
        elif s.kind.startswith("event:"):
            add("core", busy)
            if s.what in BACKGROUND:
                waited += gap
                continue
            add(s.kind[6:], waited + gap)
        elif s.kind == "timer":
            add("harness_wait", waited + gap)  # the clock jumped: the player decided when
            add("core", busy)
        else:
            # A frame drawn on its own (the live preview's, the clock's) ends no wait.
            add(s.kind, busy)
            waited += gap
            continue
        waited = 0.0
    add("harness_wait", waited + max(0.0, end - cursor))
    return out


def run_service(service: str, repeat: int, *, timeline: bool = False) -> list[dict[str, Any]]:
    """`repeat` whole sessions of one service in one kiosk process: wall and its split."""
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.bench import as_terminal, many_residents
    from sim.runner import SimRig
    from sim.scenario import load

    config, sim = load_kiosk_config(), as_terminal(load_sim_config())
    scenario = load(SERVICES[service])
    fresh = service in ("new_permit", "registration")  # a second time, the same resident is refused
    if fresh:
        # r0 for the warm-up, r1.. measured: the resident's twins (ID numbers of their own, the same
        # name, so a proof held by the resident is theirs too: the backend compares holders by name)
        own = scenario.resident
        scenario = many_residents(scenario, repeat + 1)
        scenario = replace(scenario, proofs={n: replace(p, holder="r0") if p.holder == own else p
                                             for n, p in scenario.proofs.items()})
        sim = replace(sim, printer=replace(sim.printer, hopper=max(sim.printer.hopper, repeat + 5),
                                           hopper_capacity=max(sim.printer.hopper_capacity, repeat + 5)))
    rig = SimRig(scenario, config=config, sim=sim, build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display)
    sessions = []
    try:
        rig.start()
        tracer = Tracer(rig)
        with tracer.hooked():
            rig.play()  # boot and a first session: imports, caches and the detector warmed up
            for n in range(repeat):
                if fresh:
                    rig.scenario = replace(scenario, resident=f"r{n + 1}")
                tracer.spans.clear()
                cpu0, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                player = rig.play()
                end, cpu1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
                split = attribute(tracer.spans, start, end)
                wall = end - start
                firmware = sum(split.get(k, 0.0) for k in FIRMWARE)
                report = player.report(rig.hub_state(), wall)
                row: dict[str, Any] = {
                    "service": service, "outcome": report["outcome"], "reason": report["reason"],
                    "wall_s": round(wall, 3),
                    "firmware_s": round(firmware, 3),
                    "kiosk_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 3),
                    "split_s": {k: round(v, 4) for k, v in sorted(split.items(), key=lambda kv: -kv[1])},
                    "failures": player.failures,
                }
                if timeline:
                    row["timeline"] = [(round((s.start - start) * 1000, 1), round((s.end - s.start) * 1000, 1),
                                        s.kind, s.what) for s in sorted(tracer.spans, key=lambda s: s.start)
                                       if s.kind != "harness" or s.acted]
                sessions.append(row)
    finally:
        rig.close()
    return sessions


def thread_cpu() -> dict[str, float]:
    """CPU seconds of every thread of this process, by its Python name (or its OS name)."""
    names = {str(t.native_id): t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", encoding="ascii") as fh:
                stat = fh.read()
            with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as fh:
                comm = fh.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        name = names.get(tid, comm)
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def idle_cpu(rig: Any, seconds: float) -> dict[str, Any]:
    """The kiosk's main loop left alone at the attract screen: its process's CPU (every thread)
    as % of one core, by thread, with the loop's frames and renders."""
    from kiosk.mainloop import run

    kiosk, display = rig.kiosk, rig.display
    fps = rig.cfg.display.fps
    counts = {"loops": 0, "renders": 0}
    render = display.render

    def counted_render(view: Any) -> None:
        counts["renders"] += 1
        render(view)

    def hook(view: Any) -> float | None:
        counts["loops"] += 1
        return None if time.monotonic() >= end else 1.0 / fps

    display.render = counted_render
    try:
        end = time.monotonic() + seconds
        threads0, cpu0, wall0 = thread_cpu(), resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        run(kiosk, display, fps=fps, hook=hook)
        cpu1, wall, threads1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall0, thread_cpu()
    finally:
        display.render = render
    used = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    by_thread = {name: round(100 * (cpu - threads0.get(name, 0.0)) / wall, 2) for name, cpu in threads1.items()
                 if cpu - threads0.get(name, 0.0) > 0}
    return {"seconds": round(wall, 2), "cpu_s": round(used, 3), "percent_of_a_core": round(100 * used / wall, 2),
            "screen": kiosk.view().screen, "loops_per_s": round(counts["loops"] / wall, 1),
            "renders": counts["renders"],
            "by_thread_percent": dict(sorted(by_thread.items(), key=lambda kv: -kv[1]))}


def run_idle(seconds: float, repeat: int) -> list[dict[str, Any]]:
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.runner import SimRig
    from sim.scenario import load

    rig = SimRig(load(SERVICES["status_query"]), config=load_kiosk_config(), sim=load_sim_config(),
                 build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display)
    try:
        rig.start()
        rig.play()  # one session first: the attract screen as a resident leaves it
        return [idle_cpu(rig, seconds) for _ in range(repeat)]
    finally:
        rig.close()


def summary(values: list[float]) -> str:
    return f"min {min(values):6.3f}  median {statistics.median(values):6.3f}"


def print_overhead(results: dict[str, list[dict[str, Any]]]) -> None:
    print(f"overhead per whole session at zero device delay (virtual clock), seconds; budget firmware <= {BUDGET_S}")
    for service, rows in results.items():
        fw = [r["firmware_s"] for r in rows]
        print(f"  {service:13s} firmware {summary(fw)}   wall {summary([r['wall_s'] for r in rows])}   "
              f"({len(rows)} sessions, {sorted({r['outcome'] for r in rows})})")
        keys = sorted({k for r in rows for k in r["split_s"]},
                      key=lambda k: -statistics.median(r["split_s"].get(k, 0.0) for r in rows))
        parts = []
        for k in keys:
            med = statistics.median(r["split_s"].get(k, 0.0) for r in rows)
            if med >= 0.0005:
                parts.append(f"{k}{'' if k in FIRMWARE else '*'} {med:.3f}")
        print("      median split: " + ", ".join(parts))
        failures = [f for r in rows for f in r["failures"]]
        if failures:
            print(f"      FAILURES: {failures}")
    print("  (* not counted as firmware: the backend, the harness, pcscd's poll of the virtual encoder)")


def print_idle(rows: list[dict[str, Any]]) -> None:
    pct = [r["percent_of_a_core"] for r in rows]
    print(f"idle at {rows[0]['screen']}: % of one core over {rows[0]['seconds']:.0f} s, {len(rows)} runs: "
          f"min {min(pct):.2f}  median {statistics.median(pct):.2f} (budget < 3)")
    for r in rows:
        threads = ", ".join(f"{k} {v:.2f}" for k, v in r["by_thread_percent"].items())
        print(f"    {r['percent_of_a_core']:5.2f}%  loop {r['loops_per_s']} frames/s, {r['renders']} renders; "
              f"{threads}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="measured sessions per service (after one warm-up)")
    ap.add_argument("--service", action="append", choices=sorted(SERVICES), help="only these (default: all)")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds at the attract screen per idle run (0: none)")
    ap.add_argument("--idle-runs", type=int, default=3)
    ap.add_argument("--timeline", action="store_true", help="print every session's main-thread timeline")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    results = {s: run_service(s, args.repeat, timeline=args.timeline) for s in (args.service or SERVICES)}
    if args.timeline:
        for rows in results.values():
            for r in rows:
                print(f"== {r['service']}: wall {r['wall_s']:.3f} s, firmware {r['firmware_s']:.3f} s")
                for at, took, kind, what in r["timeline"]:
                    print(f"  {at:8.1f} ms  {took:7.1f} ms  {kind:22s} {what}")
    print_overhead(results)
    figures: dict[str, Any] = {"overhead": results}
    if args.idle > 0:
        figures["idle"] = run_idle(args.idle, args.idle_runs)
        print_idle(figures["idle"])
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
