"""Power cuts at every journal write: the proof that no approved permit is lost and no card doubled.

  python -m sim.killpoints [--scenario FILE] [--json OUT]

For each kill point the harness starts the emulators (pcscd with the virtual chip reader, the
device hub, the backend), runs a kiosk process that plays the scenario and SIGKILLs itself
right after its N-th journal write is committed (a write in a batch is committed with the
batch's others, before the command they come before; the next physical step may or may not have
started), starts a second kiosk process against the same emulators and the same
journal, lets it boot and recover, and checks the invariants:

1. every journal row is finished;
2. every approval ends confirmed or voided at the backend;
3. no second card for one approval (at most one card picked, at most one handed out);
4. every card that left the hopper was handed out or retained (reject bin or jammed), none is
   left inside the printer;
5. the kiosk's journal counters and the backend's and the printer's records agree.

A first run without a kill counts the writes; then every write is a kill point in turn.

The resident after the power cut is deterministic, so that every kill point has one outcome
(issue 8, bug 2: taking the card on every recovery frame raced recovery's retract):

- `waits` (default): the resident stays and takes a card exactly when the restarted kiosk
  presents one to them (the printer emulator's "take at present": right after the PRESENT's
  reply); a card already at the slot when the power failed is not taken (the resident did not
  see it in time), so recovery finds it there and deals with it.
- `snatches`: as `waits`, and the resident also takes a card left at the slot just as recovery's
  retract arrives (the emulator's "take at retract": the card is taken, the retract answers
  "no card"). The adapter reports the take before the retract's result; the core must book
  that card as handed out and confirm it.
- `gone`: the resident has left: no card is taken after the power cut.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import zygote

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = ROOT / "sim" / "scenarios" / "demo.toml"
JOURNAL_WRITES = ("application_sent", "begin_issuance", "begin_rewrite", "step_started", "step_done", "record",
                  "finish")


@dataclass
class PointResult:
    kill_at: int | None
    killed_after: str  # the journal write after which the process died
    play_exit: int
    recover_exit: int
    violations: list[str] = field(default_factory=list)
    finals: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and self.recover_exit == 0


# --- the child kiosk process ------------------------------------------------------------------------


def child(mode: str, attach_file: Path, scenario_path: Path, kill_at: int | None) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.runner import AT_REST, SimRig
    from sim.scenario import load

    attach = json.loads(attach_file.read_text(encoding="utf-8"))
    workdir = Path(attach["workdir"])
    rig = SimRig(load(scenario_path), config=load_kiosk_config(), sim=load_sim_config(),
                 build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display, workdir=workdir, attach=attach)
    rig.start()
    assert rig.kiosk is not None and rig.kiosk.journal is not None
    _count_writes(rig.kiosk.journal, rig.kiosk.ports.backend, workdir / "writes.log", kill_at)
    try:
        if mode == "play":
            rig.play()
            return 0
        state = boot_to_rest(rig, 60.0)
        print(json.dumps({"state": state}), flush=True)
        return 0 if state in AT_REST else 1
    finally:
        rig.close()


def boot_to_rest(rig: Any, wall_s: float) -> str:
    """Start the rig's kiosk (a boot: self-test, recovery) and run it until it is at rest with
    nothing in flight and nothing left to settle, or `wall_s` seconds of wall time passed (stuck:
    a message on stderr). The state it ended in."""
    from kiosk.clock import VirtualClock
    from kiosk.mainloop import run
    from sim.runner import AT_REST

    kiosk = rig.kiosk
    kiosk.start()
    deadline = time.monotonic() + wall_s

    def at_rest(view: Any) -> float | None:
        # The resident's hand is armed in the printer emulator, never driven from here.
        if view.screen in AT_REST and kiosk.is_idle():
            due = kiosk.settle_due()  # open rows and applications settled in the background
            if due is None:
                return None
            if isinstance(rig.clock, VirtualClock):
                rig.clock.advance_to(due)
            return 0.05
        if time.monotonic() > deadline:
            print(f"recovery did not reach rest: {view.screen}", file=sys.stderr)
            return None
        return 0.05

    run(kiosk, rig.display, fps=30, hook=at_rest)
    return str(kiosk.state)


def _count_writes(journal: Any, backend: Any, log_path: Path, kill_at: int | None) -> None:
    """Wrap the journal's writes and the arrival of the reply to `apply` (the moment between the
    backend's approval and the journal's first write of it): log each one durably, and die by
    SIGKILL right after the N-th, or, when it is one of a batch's writes (kiosk/journal_writes.py),
    right after the batch's commit: the power cut falls between two commits, as a real one does."""
    count = [sum(1 for _ in log_path.open(encoding="ascii"))] if log_path.exists() else [0]
    due = [False]  # the N-th write was made in a batch: die once it is committed
    writes = journal._writes
    committing = writes.flush

    def flush() -> None:
        committing()
        if due[0]:
            os.kill(os.getpid(), signal.SIGKILL)

    writes.flush = flush
    points = [(journal, name) for name in JOURNAL_WRITES] + [(backend, "apply")]
    for owner, name in points:
        original = getattr(owner, name)

        def wrapped(*args: Any, _original: Any = original, _name: str = name) -> Any:
            result = _original(*args)
            count[0] += 1
            if _name == "apply":
                what = "reply:apply"
            else:
                what = _name if len(args) < 2 else f"{_name}:{getattr(args[1], 'value', args[1])}"
            with log_path.open("a", encoding="ascii") as fh:
                fh.write(what + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            if kill_at is not None and count[0] == kill_at:
                if _name != "apply" and writes.uncommitted:
                    due[0] = True
                else:
                    os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(owner, name, wrapped)


# --- the harness ----------------------------------------------------------------------------------------


RESIDENTS = ("waits", "snatches", "gone")
# What the resident's hand does after the power cut: the hub's take_card "at" moments it arms.
_HAND = {"waits": ("present",), "snatches": ("present", "retract"), "gone": ()}


def _hub_client(hub: Any) -> Any:
    """The hub's control socket; when it cannot be reached, an error that says whether the hub
    still runs and what its log ends with (a connection refused under load once said nothing)."""
    from sim.hub import HubClient

    try:
        return HubClient(hub.ready["control"])
    except OSError as exc:
        raise RuntimeError(f"the device hub's control socket: {exc!r}{hub.state()}") from exc


def run_point(scenario_path: Path, kill_at: int | None, keep: bool = False, resident: str = "waits") -> PointResult:
    from kiosk.journal import Journal
    from sim.launcher import backend_records, start_backend, start_hub
    from sim.pcscd import start_pcscd
    from sim.scenario import load, residents_json

    scenario = load(scenario_path)
    workdir = Path(tempfile.mkdtemp(prefix="kiosk-kill-"))
    residents = workdir / "residents.json"
    residents.write_text(json.dumps(residents_json(scenario), ensure_ascii=False), encoding="utf-8")
    pcscd = start_pcscd(workdir / "pcscd.log")
    hub = backend = None
    try:
        hub = start_hub(workdir, residents, [], pace=False, printer={})
        backend = start_backend(workdir, residents, scenario.today.isoformat(), scenario.policy, [])
        backend_url = f"http://127.0.0.1:{backend.ready['port']}"
        attach = workdir / "attach.json"
        attach.write_text(json.dumps({"hub": hub.ready, "backend_url": backend_url, "workdir": str(workdir)}),
                          encoding="utf-8")
        base = [sys.executable, "-m", "sim.killpoints", "--child"]
        common = ["--attach", str(attach), "--scenario", str(scenario_path)]
        env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONPATH=str(ROOT))
        kill = ["--kill-at", str(kill_at)] if kill_at is not None else []
        # forked by the test suite's fork server when one runs (sim/zygote.py), else a new interpreter
        play = zygote.run([*base, "play", *common, *kill], cwd=ROOT, env=env, timeout=120,
                          out_dir=workdir / "play-output")
        client = _hub_client(hub)
        try:
            for moment in _HAND[resident]:
                armed = client.call("take_card", at=moment)
                if not armed.get("ok"):
                    raise RuntimeError(f"the device hub refused take_card at {moment}: {armed}")
        finally:
            client.close()
        writes_log = workdir / "writes.log"
        writes = writes_log.read_text(encoding="ascii").split() if writes_log.exists() else []
        killed_after = writes[kill_at - 1] if kill_at is not None and len(writes) >= kill_at else "-"
        recover = zygote.run([*base, "recover", *common], cwd=ROOT, env=env, timeout=120,
                             out_dir=workdir / "recover-output")
        result = PointResult(kill_at, killed_after, play.returncode, recover.returncode)
        if recover.returncode != 0:
            result.violations.append(f"the restarted kiosk did not come to rest: {recover.stderr[-600:]}")
        client = _hub_client(hub)
        try:
            printer = client.call("state")["printer"]
        finally:
            client.close()
        records = backend_records(backend_url)
        with Journal(workdir / "journal.sqlite") as journal:
            unfinished = journal.unfinished()
            counters = journal.counters()
            result.finals = [str(r.final) for r in journal.rows()]
        if scenario.service.value == "card_rewrite":
            result.violations += check_rewrite_invariants(unfinished, counters, printer, records, scenario)
        else:
            result.violations += check_invariants(unfinished, counters, printer, records)
        result.writes = writes
        return result
    finally:
        for proc in (hub, backend):
            if proc is not None:
                proc.stop()
        pcscd.stop()
        if not keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def check_invariants(unfinished: list[Any], counters: dict[str, int], printer: dict[str, Any],
                     records: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if unfinished:
        out.append(f"{len(unfinished)} journal row(s) left unfinished: {[r.step for r in unfinished]}")
    if counters.get("applications_open", 0):
        out.append(f"{counters['applications_open']} application(s) sent and never answered nor withdrawn")
    issuances = records.get("issuances", [])
    pending = [i for i in issuances if i["state"] not in ("issued", "voided")]
    if pending:
        out.append(f"approval(s) neither confirmed nor voided: {[i['state'] for i in pending]}")
    cards = printer.get("records", [])
    hopper_cards = [c for c in cards if c.get("origin") == "hopper"]
    approvals = len(issuances)
    if len(hopper_cards) > approvals:
        out.append(f"{len(hopper_cards)} cards picked for {approvals} approval(s)")
    taken = [c for c in hopper_cards if c.get("outcome") == "taken"]
    if len(taken) > approvals:
        out.append(f"{len(taken)} cards handed out for {approvals} approval(s)")
    for c in hopper_cards:
        if c.get("outcome") not in ("taken", "retained", "jammed"):
            out.append(f"card {c.get('job')} left {c.get('outcome')}: neither handed out nor retained")
    confirmed = sum(1 for i in issuances if i["state"] == "issued")
    if counters.get("handed_out", 0) != printer.get("cards_issued", 0):
        out.append(f"journal handed_out {counters.get('handed_out')} != printer cards_issued "
                   f"{printer.get('cards_issued')}")
    if counters.get("handed_out", 0) != confirmed:
        out.append(f"journal handed_out {counters.get('handed_out')} != backend confirmed {confirmed}")
    if counters.get("retained", 0) != printer.get("cards_retained", 0):
        out.append(f"journal retained {counters.get('retained')} != printer cards_retained "
                   f"{printer.get('cards_retained')}")
    return out


def check_rewrite_invariants(unfinished: list[Any], counters: dict[str, int], printer: dict[str, Any],
                             records: dict[str, Any], scenario: Any) -> list[str]:
    """A rewrite: the resident's card ends back in their hands (rewritten and confirmed, or unchanged
    and never confirmed) or retained; never left inside, never handed back half rewritten."""
    out: list[str] = []
    if unfinished:
        out.append(f"{len(unfinished)} journal row(s) left unfinished: {[r.step for r in unfinished]}")
    old_until = scenario.who.permit.card_valid_until.isoformat()
    confirmed = records.get("rewrites", [])
    cards = [c for c in printer.get("records", []) if c.get("origin") == "inserted"]
    for c in cards:
        outcome, chip = c.get("outcome"), c.get("chip") or {}
        if outcome not in ("taken", "retained", "jammed"):
            out.append(f"the resident's card was left {outcome}")
        elif outcome == "taken" and chip.get("valid_until") not in (old_until, None):
            if not confirmed:
                out.append("a rewritten card was handed back without the backend's confirmation")
        elif outcome == "taken" and confirmed:
            out.append("the backend confirmed a rewrite the card that was handed back does not carry")
    if any(c.get("outcome") != "taken" for c in cards) and confirmed and not any(
            c.get("outcome") == "taken" for c in cards):
        out.append("a rewrite was confirmed for a card that was retained")
    if counters.get("retained", 0) != printer.get("cards_retained", 0):
        out.append(f"journal retained {counters.get('retained')} != printer cards_retained "
                   f"{printer.get('cards_retained')}")
    return out


def run_all(scenario_path: Path, resident: str = "waits") -> tuple[list[PointResult], PointResult]:
    baseline = run_point(scenario_path, None, resident=resident)
    total = len(baseline.writes)
    results = [run_point(scenario_path, i, resident=resident) for i in range(1, total + 1)]
    return results, baseline


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--resident", choices=RESIDENTS, default="waits",
                    help="what the resident's hand does after the power cut (see above)")
    ap.add_argument("--child", choices=("play", "recover"), help=argparse.SUPPRESS)
    ap.add_argument("--attach", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--kill-at", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child, args.attach, args.scenario, args.kill_at)
    results, baseline = run_all(args.scenario, args.resident)
    print(f"baseline (no kill): {len(baseline.writes)} journal writes, "
          f"violations: {baseline.violations or 'none'}")
    for r in results:
        status = "ok" if r.ok else "VIOLATED"
        print(f"  kill after write {r.kill_at:2d} {r.killed_after:28s} play exit {r.play_exit:4d}  "
              f"recovered -> {','.join(r.finals) or '-':10s} {status} {'; '.join(r.violations)}")
    failed = [r for r in results if not r.ok] + ([baseline] if not baseline.ok else [])
    print(f"{len(results)} kill points exercised, {len(results) - len([r for r in results if not r.ok])} held "
          f"every invariant")
    if args.json is not None:
        args.json.write_text(json.dumps([r.__dict__ for r in [baseline, *results]], indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
