"""The mixed soak: many sessions of every service and outcome in ONE kiosk process (issue 15).

  python -m sim.soak --sessions N --seed S [--fault-rate 0.2] [--json OUT] [--keep]

On the benchmark's rig (sim/bench.py: the emulators at zero device delay, the virtual clock, one
kiosk process for every session). The population is drawn from a seeded generator: each session
takes one of the template cases below (every service; issued, rewritten, registered, shown and
refused) and a resident of its own, a copy of the case's resident under a new name, ID number
(same region and birth date, so the same rules apply), phone and addresses. With probability
`--fault-rate` a random fault is armed before the session (the backend's answer lost, 500 or not
JSON at an operation of the service; a bad ID reader status, a truncated reply; a chip write
refused; rarely a jam). Faults that did not strike stay armed for a later session, as they would.
A technician's hands refill the hopper and empty the bin every 50 sessions, and clear a jam when
the kiosk went out of service holding one.

Measured: the resident set of the kiosk process every 100 sessions, the session rate, the
outcomes. Checked at the end: card accounting (the journal's counters, the printer emulator's and
the backend's records agree; sim/killpoints.py's invariants) and open approvals; then every file
the run wrote (the kiosk's log and journal, the emulators' logs and records, the soak's own JSON)
is scanned for every resident's name, ID number, phone and addresses. Exit 1 on any finding.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "scenarios" / "cases"
TEMPLATES = (  # all on 2026-11-22 in Shanghai, no scripted steps: the cooperative resident plays
    "issued_happy_path", "issued_happy_path", "issued_happy_path", "refused_local_hukou", "refused_no_registration",
    "refused_reg_too_recent_one_day", "refused_photo_quality", "rewrite_endorsement_passed",
    "rewrite_endorsement_passed", "rewrite_not_due", "rewrite_lapsed", "rewrite_permit_cancelled",
    "registration_own_property_qr", "registration_own_property_qr", "registration_refused_proof_unknown_sh_reg_1",
    "registration_refused_local_hukou", "status_registration_last_valid_day", "status_shanghai_passed_old_card_face",
)
BACKEND_OPS = {"new_permit": ("precheck", "face_check", "apply", "confirm"),
               "card_rewrite": ("lookup", "endorsement", "rewrite_confirm"),
               "registration": ("verify_proof", "register"), "status_query": ("status",)}
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红梅鑫斌宇浩凯健俊帆帅旭宁龙"
    "林欣佳琳晨辰阳瑞泽思雨婷雪倩颖慧莹琪晓文博睿轩然"
)
STREETS = ("仙霞路", "天山路", "延安西路", "虹桥路", "长宁路", "娄山关路", "遵义路", "古北路", "番禺路", "定西路")


def names(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        if name not in seen or len(seen) > 40000:
            seen.add(name)
            out.append(name)
    return out


def population(n: int, seed: int) -> tuple[Any, list[tuple[str, Any]]]:
    """The sessions' scenarios (template case, resident key) and one scenario holding everybody."""
    from kiosk.idnumber import check_digit
    from sim.scenario import Expect, load

    rng = random.Random(seed)
    templates = {t: load(CASES / f"{t}.toml") for t in set(TEMPLATES)}
    residents: dict[str, Any] = {}
    proofs: dict[str, Any] = {}
    sessions: list[tuple[str, Any]] = []
    used: set[str] = set()
    for i, who_name in enumerate(names(rng, n)):
        case = templates[rng.choice(TEMPLATES)]
        who = case.who
        key = f"s{i}"
        parity = int(who.id_number[16]) % 2  # the sex digit keeps its parity
        for shift in range(i // 400, i // 400 + 50):  # as sim/bench.many_residents: a day earlier per 400
            birth = who.birth - timedelta(days=shift)
            first17 = who.id_number[:6] + birth.strftime("%Y%m%d") + f"{(i % 400) * 2 + parity + 100:03d}"
            if first17 not in used:
                used.add(first17)
                break
        moved: dict[str, str] = {}  # every address of the case, one of the resident's own in its place
        for old in filter(None, (who.id_address, who.registration.address if who.registration else None,
                                 *(p.address for p in case.proofs.values()))):
            moved.setdefault(old, f"上海市长宁区{rng.choice(STREETS)}{rng.randint(1, 2999)}弄{rng.randint(1, 99)}号"
                                  f"{rng.randint(101, 2801)}室")
        # The household address keeps the case's province and city: a Shanghai one is a local hukou.
        moved[who.id_address] = f"{who.id_address[:6]}{rng.choice(STREETS)}{rng.randint(1, 999)}号" if (
            who.registration is None or who.id_address != who.registration.address) else moved[who.id_address]
        numbers: dict[str, str] = {}
        for number, proof in case.proofs.items():
            numbers[number] = f"2026{i:08d}{len(numbers):04d}"
            proofs[numbers[number]] = replace(proof, number=numbers[number], address=moved[proof.address],
                                              holder=key if proof.holder == case.resident else proof.holder)
        declaration = who.declaration
        if declaration is not None:
            declaration = replace(declaration, proof_number=numbers.get(declaration.proof_number,
                                                                        f"2099{i:08d}0000"))
        residents[key] = replace(
            who, key=key, name=who_name, birth=birth, id_number=first17 + check_digit(first17),
            id_address=moved[who.id_address], face=key if who.face == case.resident else who.face,
            phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            registration=replace(who.registration, address=moved[who.registration.address])
            if who.registration else None,
            permit=replace(who.permit, number=f"SH{9000000000 + i}") if who.permit else None,
            declaration=declaration)
        sessions.append((key, replace(case, resident=key, steps=(), expect=Expect(), faults=())))
    everyone = replace(sessions[0][1], residents=residents, proofs=proofs)
    return everyone, [(k, replace(s, residents=residents, proofs=proofs)) for k, s in sessions]


def random_fault(rng: random.Random, service: str) -> tuple[str, dict[str, Any]] | None:
    roll = rng.random()
    if roll < 0.5:
        kind = rng.choice(("error_500", "drop", "malformed"))
        return "backend", {"op": rng.choice(BACKEND_OPS[service]), "kind": kind, "count": 1}
    if roll < 0.8:
        kind, at = rng.choice((("sw3:41", "read"), ("truncate", "read"), ("garbage", "find"), ("corrupt", "select")))
        return "hub", {"device": "id_reader", "kind": kind, "at": at, "count": 1}
    return "hub", {"device": "permit_card", "kind": "fail:6581", "count": 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fault-rate", type=float, default=0.2)
    ap.add_argument("--json", type=Path, help="also write the summary here (it is scanned too)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (it holds the residents file)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also trace allocations: print what grew most between the second and the last sample")
    args = ap.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.bench import as_terminal, malloc_mb, rss_mb
    from sim.killpoints import check_invariants
    from sim.launcher import backend_records, backend_request
    from sim.runner import SimRig

    everyone, sessions = population(args.sessions, args.seed)
    sim = as_terminal(load_sim_config())
    sim = replace(sim, serial=replace(sim.serial, pace=False),
                  printer=replace(sim.printer, hopper=200, hopper_capacity=200, bin_capacity=200))
    rig = SimRig(everyone, config=load_kiosk_config(), sim=sim, build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display)
    rng = random.Random(args.seed + 1)
    outcomes: dict[str, int] = {}
    rss: list[tuple[int, float]] = []
    cache: list[tuple[int, float]] = []  # the display's text cache (bounded by bytes) at each sample
    heap: list[tuple[int, float, float]] = []  # glibc's heap: in use, free but kept
    snapshots: list[Any] = []
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(4)
    faults = 0
    stuck: list[str] = []
    crashed: list[str] = []
    summary: dict[str, Any] = {}
    try:
        rig.start()
        url = rig.backend_url
        started = time.monotonic()
        for n, (_key, scenario) in enumerate(sessions, 1):
            fault = random_fault(rng, scenario.service.value) if rng.random() < args.fault_rate else None
            if fault is not None:
                faults += 1
                if fault[0] == "backend":
                    backend_request("POST", url, "/sim/faults", json_body=[fault[1]])
                else:
                    rig.client.call("fault", **fault[1])
            rig.scenario = scenario
            try:
                player = rig.play()
            except Exception as exc:  # counted, and the soak goes on with the next resident
                crashed.append(f"session {n}: {type(exc).__name__}: {exc}")
                continue
            done = rig.kiosk.finished[player.start_count:] if rig.kiosk is not None else []
            label = f"{scenario.service.value}:{done[0].outcome}:{done[0].reason}" if done else \
                f"{scenario.service.value}:not_served:{rig.kiosk.state if rig.kiosk else '-'}"
            outcomes[label] = outcomes.get(label, 0) + 1
            if any("did not end within" in f for f in player.failures):
                stuck.append(f"session {n} ({label})")
            if n % 50 == 0 or (rig.kiosk is not None and rig.kiosk.state == "out_of_service"):
                technician(rig)
                back_in_service(rig)
            if n % 100 == 0 or n == len(sessions):
                rss.append((n, round(rss_mb(), 1)))
                cache.append((n, round(rig.display.text.cache_bytes() / 2**20, 1)))
                used, free = malloc_mb()
                heap.append((n, round(used, 2), round(free, 2)))
                if args.tracemalloc:
                    snapshots.append(tracemalloc.take_snapshot())
                rate = n / (time.monotonic() - started)
                print(f"  {n:6d} sessions  rss {rss[-1][1]:7.1f} MB  text cache {cache[-1][1]:5.1f} MB  "
                      f"heap {used:6.1f} MB in use {free:6.1f} MB free  "
                      f"{rate:5.2f} sessions/s", flush=True)
        wall = time.monotonic() - started
        technician(rig)
        printer = rig.hub_state()["printer"]
        records = backend_records(url, timeout=10)
        assert rig.kiosk is not None and rig.kiosk.journal is not None
        journal = rig.kiosk.journal
        unfinished, counters = journal.unfinished(), journal.counters()
        accounting = check_invariants(unfinished, counters, printer, records)
        summary = {
            "sessions": len(sessions), "seed": args.seed, "fault_rate": args.fault_rate, "faults_armed": faults,
            "wall_s": round(wall, 1), "sessions_per_s": round(len(sessions) / wall, 3), "rss_mb": rss,
            "text_cache_mb": cache, "malloc_in_use_free_mb": heap,
            "rss_growth_after_warmup_mb": round(rss[-1][1] - rss[min(1, len(rss) - 1)][1], 1) if rss else None,
            "outcomes": dict(sorted(outcomes.items())), "stuck": stuck, "crashed": crashed,
            "journal": counters, "printer": {k: printer.get(k) for k in ("cards_issued", "cards_retained")},
            "backend_confirmed": sum(1 for i in records.get("issuances", []) if i["state"] == "issued"),
            "approvals_open": sum(1 for i in records.get("issuances", []) if i["state"] == "approved")
            + counters.get("applications_open", 0),
            "accounting_errors": accounting,
        }
    finally:
        rig.close(keep_workdir=True)
    if len(snapshots) >= 3:  # after warm-up (the first sample) to the end: where the bytes went
        for stat in snapshots[-1].compare_to(snapshots[1], "traceback")[:15]:
            print(f"  grew {stat.size_diff / 1024:9.1f} kB in {stat.count_diff:+d} blocks  "
                  + " <- ".join(str(f) for f in reversed(stat.traceback)), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    scanned, found = scan(rig.workdir, [args.json] if args.json else [], everyone)
    summary["files_scanned"], summary["identifiers_found"] = scanned, found
    # The positive control: the harness's own input holds every resident, and the scanner sees them.
    _, control = scan(rig.workdir, [rig.workdir / "residents.json"], everyone, skip_by_design=False)
    summary["scanner_control_hits"] = len(control)
    if not args.keep:
        import shutil

        shutil.rmtree(rig.workdir, ignore_errors=True)
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    bad = stuck or crashed or summary.get("accounting_errors") or summary.get("approvals_open") or found or not control
    return 1 if bad else 0


def back_in_service(rig: Any, wall_s: float = 5.0) -> None:
    """Nobody at the kiosk for a while: its timers (health checks, the settler) run on the virtual clock."""
    kiosk, end = rig.kiosk, time.monotonic() + wall_s
    while kiosk.state == "out_of_service" and time.monotonic() < end:
        due = kiosk.next_deadline()
        if due is not None:
            rig.clock.advance_to(due)
        kiosk.pump(0.05)


def technician(rig: Any) -> None:
    """The technician's hands: a jam freed, the cover shut, the hopper refilled, the bin emptied."""
    for kind in ("jam", "cover_open"):
        rig.client.call("clear_fault", kind=kind)
    rig.client.call("refill")
    rig.client.call("empty_bin")


# Files that hold the population by design (the test harness's input, the backend's register, the
# pictures of printed card faces); everything else the run wrote is scanned.
BY_DESIGN = ("residents.json", "backend.sqlite", "backend.sqlite-wal", "backend.sqlite-shm")
_RUNS = re.compile(r"[\u3400-\u9fff0-9A-Za-z]{2,}")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def scan(workdir: Path, extra: list[Path], everyone: Any, skip_by_design: bool = True) -> tuple[int, list[str]]:
    """Every resident's name, ID number, phone and addresses (whole, and the second half), looked
    for in every file: as UTF-8 text and after JSON \\u escapes are undone. Returns how many files
    were scanned and what was found where (the field and the file, never the value)."""
    needles: dict[str, str] = {}
    for r in everyone.residents.values():
        needles[r.name] = "name"
        needles[r.id_number] = "id_number"
        needles[r.phone] = "phone"
        for address in filter(None, (r.id_address, r.registration.address if r.registration else None)):
            needles[address] = "address"
            needles[address[len(address) // 2:]] = "address (second half)"
    lengths = sorted({len(k) for k in needles})
    files = [p for p in workdir.rglob("*") if p.is_file() and p.name not in BY_DESIGN and p.suffix != ".png"]
    files = [*files, *(p for p in extra if p.is_file())] if skip_by_design else [p for p in extra if p.is_file()]
    found: list[str] = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        text += "\n" + _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\u" in text else ""
        hits: set[str] = set()
        for run in _RUNS.findall(text):
            for size in lengths:
                for i in range(len(run) - size + 1):
                    what = needles.get(run[i:i + size])
                    if what is not None:
                        hits.add(what)
        found += [f"{path.relative_to(workdir) if path.is_relative_to(workdir) else path}: {h}" for h in sorted(hits)]
    return len(files), found


if __name__ == "__main__":
    sys.exit(main())
