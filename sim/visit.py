"""One visit to a kiosk process started against emulators already running (a restart):

  python -m sim.visit --attach ATTACH.json --scenario FILE [--report OUT.json]

ATTACH.json is the power-cut harness's (sim/killpoints.py): the hub's ready line, the backend's
URL and the work folder (journal, log). The scenario plays through as `run_kiosk.py --scenario`
would and its expectations are checked; exit 0 when they hold, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--attach", type=Path, required=True)
    ap.add_argument("--scenario", type=Path, required=True)
    ap.add_argument("--report", type=Path)
    args = ap.parse_args(argv)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    sys.path.insert(0, str(ROOT))
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from sim.runner import SimRig
    from sim.scenario import load

    attach = json.loads(args.attach.read_text(encoding="utf-8"))
    rig = SimRig(load(args.scenario), config=load_kiosk_config(), sim=load_sim_config(),
                 build=run_kiosk.build_kiosk, make_display=run_kiosk.make_display, workdir=Path(attach["workdir"]),
                 attach=attach)
    started = time.monotonic()
    try:
        rig.start()
        player = rig.play()
        report = player.report(rig.hub_state(), time.monotonic() - started)
    finally:
        rig.close()
    if args.report is not None:
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        print(json.dumps({"passed": report["passed"], "failures": report["failures"]}, ensure_ascii=False))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
