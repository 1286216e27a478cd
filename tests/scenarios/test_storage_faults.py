"""The journal's disk full or read-only: journaling services refused until it can write (issue 15).

A whole session in-process on the real emulated stack (device hub over ptys, pcscd, the backend
over HTTP), with the journal alone on a small size-limited filesystem: a 4 MiB tmpfs mounted for
the test. That needs root in a private mount namespace: run it under /work/shared/tools/iso (the
test checks it is not mounting into the host's namespace and fails, not skips, otherwise).

Before the resident chooses, the disk fills up (a filler file written until ENOSPC) or is remounted
read-only. The kiosk must find out by itself at its next storage look (with the backend's health
check), take new permit out of the menu (the tile greyed "not available"; a stale tap on it does
nothing), log JOURNAL_STORAGE_FAULT naming the problem, and stay so across further health checks.
Then the disk is freed or remounted read-write: the service comes back (JOURNAL_STORAGE_OK) and
the resident's session runs to an issued card, journaled. Finally the disk fills again after the
session: nothing already journaled is lost (the row reads back whole, integrity_check ok).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import run_kiosk
from kiosk.clock import VirtualClock
from kiosk.config import load_kiosk_config, load_sim_config
from kiosk.intents import Tap
from kiosk.reasons import Service
from kiosk.view import View
from sim import runner
from sim.runner import ScenarioPlayer, SimRig
from sim.scenario import load

ROOT = Path(__file__).resolve().parents[2]
HAPPY = ROOT / "tests" / "scenarios" / "cases" / "issued_happy_path.toml"
HEALTH_CHECKS_WHILE_FAULTY = 3  # the fault must hold over several looks, not flicker back


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    assert os.geteuid() == 0, "needs root: run under /work/shared/tools/iso"
    # iso's own mark: its private /run/pcscd tmpfs, which exists only in its mount namespace.
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    assert any(line.split()[4] == "/run/pcscd" for line in mounts), \
        "not in iso's private mount namespace: run under /work/shared/tools/iso"
    mount = tmp_path / "journal-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "none", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass  # ENOSPC: the filesystem is full
    return filler


class Storage:
    def __init__(self, folder: Path, fault: str) -> None:
        self.folder, self.fault = folder, fault
        self.filler: Path | None = None

    def break_(self) -> None:
        if self.fault == "full":
            self.filler = fill(self.folder)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(self.folder)], check=True)

    def mend(self) -> None:
        if self.fault == "full":
            assert self.filler is not None
            self.filler.unlink()
        else:
            subprocess.run(["mount", "-o", "remount,rw", str(self.folder)], check=True)


def new_permit_offered(view: View) -> bool:
    """The attract screen lists the services in its data; the menu has a tile (button) for each."""
    services = (view.data or {}).get("services") or []
    return (any(s.get("id") == "new_permit" and s.get("available") for s in services)
            or any(b.id == "service.new_permit" and b.enabled for b in view.all_buttons()))


# A disk the kernel remounts read-only under an open journal (ext4 errors=remount-ro) cannot be made
# in a test: remount,ro refuses (EBUSY) while SQLite holds the file open for writing. The whole
# session runs with a full disk; the read-only answer is shown below on a disk remounted with the
# journal closed.
@pytest.mark.parametrize("fault", ["full"])
def test_journal_storage_fault_refuses_then_recovers(tmp_path: Path, small_disk: Path, fault: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    storage = Storage(small_disk, fault)
    journal_file = small_disk / "journal.sqlite"
    seen: dict[str, Any] = {"phase": "before", "checks": 0, "refused_views": [], "tap_ignored": None}
    real_config = runner.sim_kiosk_config

    def journal_on_the_small_disk(*args: Any, **kwargs: Any) -> Any:
        cfg = real_config(*args, **kwargs)
        return replace(cfg, journal=replace(cfg.journal, file=str(journal_file)))

    frame_hook = ScenarioPlayer.__call__

    def storage_fault_before_the_choice(self: ScenarioPlayer, view: View) -> Any:
        phase = seen["phase"]
        at_rest = view.screen in ("ready.attract", "ready.menu", "out_of_service")
        if phase == "before" and at_rest:
            storage.break_()
            seen["phase"] = "broken"
            return 0.0
        if phase == "broken":
            if new_permit_offered(view):
                self._let_time_pass()  # to the next health check: the kiosk must notice by itself
                return 0.0
            seen["refused_views"].append((view.screen, (view.data or {}).get("services")))
            state = self.kiosk.state
            self.kiosk.handle_intent(Tap("service.new_permit"))  # a stale touch on the greyed tile
            seen["tap_ignored"] = self.kiosk.state == state
            if seen["checks"] < HEALTH_CHECKS_WHILE_FAULTY:
                seen["checks"] += 1
                assert isinstance(self.clock, VirtualClock)
                self.clock.advance(self.kiosk.config.timeouts.health_interval)
                return 0.0
            storage.mend()
            seen["phase"] = "mended"
            return 0.0
        if phase == "mended" and at_rest and not new_permit_offered(view):
            self._let_time_pass()
            return 0.0
        return frame_hook(self, view)

    monkeypatch.setattr(runner, "sim_kiosk_config", journal_on_the_small_disk)
    monkeypatch.setattr(runner.ScenarioPlayer, "__call__", storage_fault_before_the_choice)
    (tmp_path / "rig").mkdir()
    rig = SimRig(load(HAPPY), config=load_kiosk_config(), sim=load_sim_config(), build=run_kiosk.build_kiosk,
                 make_display=run_kiosk.make_display, workdir=tmp_path / "rig")
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), 0.0)
        kiosk = rig.kiosk
        assert kiosk is not None
        events = [r for r in kiosk.log.recent if r["event"].startswith("JOURNAL_STORAGE")]
        # After the session: the disk breaks again, and the kiosk says so; the journal keeps its row.
        storage.break_()
        kiosk.check_storage()
        after = kiosk.availability.problems(Service.NEW_PERMIT)
        rows_live = [(r.kind.value, r.final) for r in kiosk.journal.unfinished()] if kiosk.journal else None
    finally:
        rig.close(keep_workdir=True)
    problem = "journal_full" if fault == "full" else "journal_read_only"
    assert seen["phase"] == "mended", f"the kiosk never took new permit out of service: {seen}"
    assert seen["tap_ignored"] is True, "a tap on the refused service started it"
    assert len(seen["refused_views"]) == HEALTH_CHECKS_WHILE_FAULTY + 1  # held over every further look
    assert [(e["event"], e.get("problem")) for e in events[:2]] == [
        ("JOURNAL_STORAGE_FAULT", problem), ("JOURNAL_STORAGE_OK", None)], events
    assert report["failures"] == [], (report["failures"], events, report.get("screens"), seen["refused_views"][-1])
    assert (report["outcome"], report["reason"]) == ("issued", "OK")
    assert problem in after and rows_live == []
    storage.mend()
    db = sqlite3.connect(journal_file)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT kind, final FROM journal_row").fetchall()
    finally:
        db.close()
    assert rows == [("new_permit", "issued")], rows


def test_a_read_only_journal_disk_is_seen_and_keeps_its_rows(small_disk: Path) -> None:
    from kiosk.journal import Journal
    from kiosk.journal_health import StorageProblem, storage_problem

    path = small_disk / "journal.sqlite"
    with Journal(path) as journal:
        journal.begin_issuance("a" * 32, "SH20260000001")
    assert storage_problem(path) is None
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        assert storage_problem(path) is StorageProblem.READ_ONLY
        db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)  # read without writing the -shm
        try:
            assert db.execute("SELECT kind, permit_number FROM journal_row").fetchall() == [
                ("new_permit", "SH20260000001")]
        finally:
            db.close()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert storage_problem(path) is None
