"""The fault matrix's cells and one cell's run (sim/faultmatrix.py is the command).

A cell is a service × a device × a fault kind × a step. The step is where the fault strikes:
an emulator's own moment (`at`: the printer's `feed`, the ID reader's `read`, the backend's
`apply`, ...; docs/scenarios.md `[[faults]]`), or, for a fault that strikes at once (a cover
opened, a port unplugged, a hopper run dry), the screen at which it is injected into the running
emulators (`@issuing`; `@boot`: before the kiosk starts).

One run: the emulators (pcscd + vpcd, the device hub, the backend) of the cell's own, a kiosk that
plays the service's base scenario with the cooperative resident, the kiosk stopped, the devices
power-cycled (armed faults and vanished ports gone; a jam, the cover, the hopper and the bin as
they are), a second kiosk booted against the same emulators, journal and records (recovery and
the settler run), and, if it stays out of service holding something, a technician who clears the
jam, closes the cover, refills and empties the bin, and a third boot. Then the invariants of the
power-cut harness (sim/killpoints.py) over the journal, the printer's records and the backend's.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "scenarios" / "cases"
BASE = {  # each service's cooperative session, the fault added to it
    "new_permit": CASES / "issued_happy_path.toml",
    "card_rewrite": CASES / "rewrite_endorsement_passed.toml",
    "registration": CASES / "registration_own_property_qr.toml",
    "status_query": CASES / "status_shanghai_open_on_v.toml",
}
READS_ID = ("new_permit", "registration", "status_query")
PRINTS = ("new_permit", "card_rewrite")
SCREENS = {  # where a fault that strikes at once is injected, per service
    "new_permit": ("boot", "read_id", "photo", "submit", "issuing", "take_card"),
    "card_rewrite": ("boot", "insert_card", "read_chip", "rewrite", "return_card"),
    "registration": ("boot", "proof", "submit"),
    "status_query": ("boot", "lookup"),
}
JAM_AT = {"new_permit": ("feed", "print", "present"), "card_rewrite": ("take_in", "erase", "print", "present")}
BACKEND_OPS = {
    "new_permit": ("health", "precheck", "face_check", "apply", "confirm"),
    "card_rewrite": ("lookup", "endorsement", "rewrite_confirm"),
    "registration": ("lookup", "verify_proof", "register"),
    "status_query": ("status",),
}
DRIFT_OPS = ("apply", "endorsement", "status")
SLOW_S = 10.5  # just past the kiosk's backend read_timeout (config/kiosk.toml [backend], 10 s)
ID_SW3 = ("sw3:41", "sw3:21", "sw3:33", "sw3:60", "sw3:FF", "sw3:10")
ID_LINE = ("garbage", "corrupt", "truncate", "silent")
PRINTER_AT_ONCE = ("hopper_empty", "cover_open", "bin_full", "silent", "vanish", "garbage")
QR_KINDS = ("garbage", "no_cr", "overlong", "not_utf8", "replug", "vanish")
AT_SLOT_SCREENS = ("take_card", "return_card")  # the card waits at the slot for a hand
WALL_S = 60.0  # a boot that does not come to rest in this much wall time is stuck


@dataclass(frozen=True)
class Cell:
    service: str
    device: str
    kind: str
    at: str | None = None  # the emulator's moment, or None
    screen: str | None = None  # injected when this screen appears ("boot": before the kiosk starts)

    @property
    def step(self) -> str:
        where = f"@{self.screen}" if self.screen is not None else ""
        return f"{self.at}{where}" if self.at is not None else where or "next"

    @property
    def name(self) -> str:
        return f"{self.service}/{self.device}/{self.kind}/{self.step}"


def all_cells() -> list[Cell]:
    cells: list[Cell] = []
    for service in BASE:
        if service in READS_ID:
            for kind in ID_SW3 + ID_LINE:
                cells += [Cell(service, "id_reader", kind, at) for at in ("find", "select", "read")]
            cells.append(Cell(service, "id_reader", "lift_mid_read", "read"))
            cells += [Cell(service, "id_reader", "vanish", at) for at in ("find", "select", "read")]
        if service in PRINTS:
            cells += [Cell(service, "printer", "jam", at) for at in JAM_AT[service]]
            cells += [Cell(service, "printer", "take", at) for at in ("present", "retract")]
            cells += [Cell(service, "printer", kind, None, screen) for kind in PRINTER_AT_ONCE
                      for screen in SCREENS[service]]
            if service == "card_rewrite":  # the cover opened as the resident's card was to come in
                cells.append(Cell(service, "printer", "cover_open", "take_in"))
            cells += [Cell(service, "permit_card", kind) for kind in ("pull", "fail:6581", "fail:6A80", "absent")]
        if service == "new_permit":
            cells += [Cell(service, "camera", "dead", None, screen) for screen in ("boot", "photo")]
        if service == "registration":
            cells += [Cell(service, "qr_scanner", kind) for kind in QR_KINDS]
            cells.append(Cell(service, "qr_scanner", "vanish", "scan"))
        for op in BACKEND_OPS[service]:
            cells += [Cell(service, "backend", kind, op) for kind in ("error_500", "drop", "malformed", "slow")]
            if op in DRIFT_OPS:
                cells.append(Cell(service, "backend", "policy_drift", op))
        cells += [Cell(service, "backend", kind, "*", "read_id" if service in READS_ID else "insert_card")
                  for kind in ("error_500",)]
    return cells


# The suite's fixed subset (tests/scenarios/test_fault_matrix.py): one of each way a fault strikes.
SUITE = (
    Cell("new_permit", "printer", "jam", "feed"),
    Cell("new_permit", "backend", "drop", "apply"),
    Cell("new_permit", "printer", "cover_open", None, "take_card"),
    Cell("card_rewrite", "permit_card", "pull"),
    Cell("status_query", "id_reader", "sw3:33", "read"),
    Cell("new_permit", "printer", "vanish", None, "take_card"),  # bugs the matrix found: no retract journaled
    Cell("card_rewrite", "printer", "vanish", None, "return_card"),
    # A retract the printer never answered while a hand took the card: the bin's count decides.
    Cell("new_permit", "printer", "silent", None, "take_card"),
    Cell("card_rewrite", "printer", "silent", None, "return_card"),
    # A card the kiosk never took in, binned at boot as a stray: journaled with an intake of its own.
    Cell("card_rewrite", "printer", "silent", None, "insert_card"),
    # A take-in refused with the card still at the slot: given back, no retention record.
    Cell("card_rewrite", "printer", "cover_open", "take_in"),
    # Nobody took the card in time, and the retract found the slot empty: no retention record.
    Cell("new_permit", "printer", "bin_full", None, "take_card"),
)


def run_cell(cell: Cell, config: Any, sim: Any, build: Any, make_display: Any) -> dict[str, Any]:
    """One cell end to end; never raises (a crash is the cell's verdict)."""
    from kiosk.journal import Journal
    from kiosk.retention import RetentionStore
    from sim.hub import HubClient
    from sim.killpoints import boot_to_rest, check_invariants, check_rewrite_invariants
    from sim.launcher import backend_records, backend_request
    from sim.runner import SimRig
    from sim.scenario import Expect, Fault, load

    base = replace(load(BASE[cell.service]), expect=Expect(), steps=())
    static = cell.screen in (None, "boot")  # in the scenario's [[faults]], before the kiosk starts
    fault = Fault(cell.device, cell.kind, cell.at, 1, SLOW_S if cell.kind == "slow" else None)
    scenario = replace(base, faults=(fault,) if static else ())
    workdir = Path(tempfile.mkdtemp(prefix="kiosk-matrix-"))
    out: dict[str, Any] = {**asdict(cell), "step": cell.step, "outcome": None, "reason": None, "crash": None,
                           "stuck": False, "technician": False, "final_state": None, "violations": []}
    started = time.monotonic()
    rig = SimRig(scenario, config=config, sim=sim, build=build, make_display=make_display, workdir=workdir)
    try:
        try:
            rig.start()
            inject = None if static else _injector(cell, rig)
            player = rig.play(on_view=inject)
            report = player.report(rig.hub_state(), time.monotonic() - started)
            # No session at all: the service was not offered (out of service, or its tile greyed out).
            state = rig.kiosk.state if rig.kiosk is not None else None
            out.update(outcome=report["outcome"] or "not_served", reason=report["reason"] or state)
            out["stuck"] = any("did not end within" in f for f in player.failures)
            if out["stuck"]:
                out["violations"].append("the session was stuck: " + "; ".join(player.failures))
        except Exception as exc:  # the kiosk or the runner raised: the cell's crash
            out["crash"] = f"{type(exc).__name__}: {exc}"
            out["violations"].append("crashed: " + traceback.format_exc(limit=-3).strip().replace("\n", " | "))
        _stop_kiosk(rig)
        if rig.hub is None or rig.backend is None:
            return out  # the emulators never came up: the crash says why
        attach = {"hub": rig.hub.ready, "backend_url": f"http://127.0.0.1:{rig.backend.ready['port']}",
                  "workdir": str(workdir)}
        hub = HubClient(rig.hub.ready["control"])
        try:
            hub.call("power_cycle")
            backend_request("DELETE", attach["backend_url"], "/sim/faults")
            state, open_rows = _boot(base, attach, config, sim, build, make_display, boot_to_rest)
            if state == "out_of_service" or open_rows:
                # A technician: frees a jammed card, closes the cover, refills, empties the bin.
                out["technician"] = True
                for op in ({"cmd": "clear_fault", "kind": "jam"}, {"cmd": "clear_fault", "kind": "cover_open"},
                           {"cmd": "refill"}, {"cmd": "empty_bin"}):
                    hub.call(op["cmd"], **{k: v for k, v in op.items() if k != "cmd"})
                state, open_rows = _boot(base, attach, config, sim, build, make_display, boot_to_rest)
            out["final_state"] = state
            if state not in ("ready.attract", "out_of_service"):
                out["stuck"] = True
                out["violations"].append(f"the rebooted kiosk did not come to rest ({state})")
            printer = hub.call("state")["printer"]
        finally:
            hub.close()
        records = backend_records(attach['backend_url'])
        with Journal(workdir / "journal.sqlite") as journal:
            unfinished, counters = journal.unfinished(), journal.counters()
        kept = len(RetentionStore(workdir / "journal.sqlite").rows())
        hopper = [c for c in printer.get("records", []) if c.get("origin") == "hopper"]
        out.update(
            issued=printer.get("cards_issued", 0), retained=printer.get("cards_retained", 0),
            in_printer=sum(1 for c in printer.get("records", []) if c.get("outcome") == "in_printer"),
            picked=len(hopper), journal_open=len(unfinished),
            approvals_open=sum(1 for i in records.get("issuances", []) if i["state"] == "approved")
            + counters.get("applications_open", 0), kept_records=kept,
        )
        if kept > out["retained"] and not _unseen_at_slot(cell, printer):
            # A resident shown "your card was kept" (a retention record, its number on screen) for a
            # card the printer never binned: the card went back out (issue 15, cover_open at take_in).
            out["violations"].append(f"{kept} retention record(s) for {out['retained']} card(s) retained")
        if cell.service == "card_rewrite":
            out["violations"] += check_rewrite_invariants(unfinished, counters, printer, records, base)
        else:
            out["violations"] += check_invariants(unfinished, counters, printer, records)
    except Exception as exc:  # the harness itself failed around the kiosk
        out["crash"] = out["crash"] or f"{type(exc).__name__}: {exc}"
        out["violations"].append("harness: " + traceback.format_exc(limit=-3).strip().replace("\n", " | "))
    finally:
        rig.close()
        shutil.rmtree(workdir, ignore_errors=True)
        out["wall_s"] = round(time.monotonic() - started, 2)
    return out


def _unseen_at_slot(cell: Cell, printer: dict[str, Any]) -> bool:
    """The printer stopped answering with the card at the slot: the kiosk cannot tell a hand from
    the bin, and errs on the resident's side, a retention record for a card that may be kept (the
    boot's recovery books where it went). Its record is no accounting error there. The card is at
    the slot at the screens that wait for a hand, or wherever the printer's records show it left
    through the slot: a fault injected at a screen strikes when it lands, and at read_chip it can
    land before the TAKE_IN, the card still at the slot, then taken there (silent/@read_chip)."""
    if cell.device != "printer" or cell.kind not in ("silent", "vanish"):
        return False
    taken = any(r.get("outcome") == "taken" for r in printer.get("records", []))
    return cell.screen in AT_SLOT_SCREENS or taken


def _injector(cell: Cell, rig: Any) -> Any:
    """Injects the cell's fault the first time its screen appears (a fault that strikes at once)."""
    from sim.launcher import backend_request

    done = [False]

    def on_view(view: Any) -> None:
        if done[0] or view.screen.rsplit(".", 1)[-1] != cell.screen:
            return
        done[0] = True
        if cell.device == "camera":
            rig.camera.fail(True)
        elif cell.device == "backend":
            backend_request("POST", rig.backend_url, "/sim/faults",
                            json_body=[{"op": cell.at or "*", "kind": cell.kind, "count": 1}])
        else:
            reply = rig.client.call("fault", device=cell.device, kind=cell.kind, at=cell.at, count=1)
            if not reply.get("ok"):
                raise RuntimeError(f"the hub refused the fault {cell.name}: {reply}")

    return on_view


def _boot(scenario: Any, attach: dict[str, Any], config: Any, sim: Any, build: Any, make_display: Any,
          boot_to_rest: Any) -> tuple[str, int]:
    """A kiosk booted against the running emulators, run to rest, stopped: its state, open rows."""
    from sim.runner import SimRig

    rig = SimRig(scenario, config=config, sim=sim, build=build, make_display=make_display,
                 workdir=Path(attach["workdir"]), attach=attach)
    try:
        rig.start()
        state = boot_to_rest(rig, WALL_S)
        assert rig.kiosk is not None and rig.kiosk.journal is not None
        return state, len(rig.kiosk.journal.unfinished())
    finally:
        rig.close()


def _stop_kiosk(rig: Any) -> None:
    """The kiosk switched off; its emulators go on running."""
    for part in (rig.kiosk, rig.display, rig.client):
        if part is None:
            continue
        with contextlib.suppress(Exception):  # a kiosk that crashed may not stop cleanly; the reboot counts
            (part.stop if part is rig.kiosk else part.close)()
    rig.kiosk = rig.display = None
    rig.client = None
