"""The kiosk in a kiosk shell: one scenario played with the real display (not SDL's dummy driver),
full screen, through whatever SDL_VIDEODRIVER the environment names (under cage: x11 for
XWayland, or wayland), with systemd's notify protocol when NOTIFY_SOCKET is set.

  SDL_VIDEODRIVER=x11 python -m sim.shell_check [--scenario FILE] [--report OUT.json]

Meant to be started inside the compositor (docs/operations.md, "The kiosk shell: cage"): exit 0
when the scenario's expectations held, 1 when one failed, 2 when it could not run; it prints the
video driver SDL chose and the window's size.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    import run_kiosk
    from kiosk.config import load_kiosk_config, load_sim_config
    from kiosk.sdnotify import ServiceNotifier
    from sim.runner import run_scenario

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, default=run_kiosk.DEMO_SCENARIO)
    ap.add_argument("--report", type=Path)
    args = ap.parse_args(argv)
    if os.environ.get("SDL_VIDEODRIVER", "") in ("", "dummy"):
        print("shell_check: set SDL_VIDEODRIVER (x11 or wayland): this checks a real display", file=sys.stderr)
        return 2
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    notifier = ServiceNotifier.from_environment()
    base = load_kiosk_config()
    config = replace(base, display=replace(base.display, fullscreen=True))

    def display(cfg: Any) -> Any:
        d = run_kiosk.make_display(replace(cfg, display=replace(cfg.display, fullscreen=True)), headless=False)
        import pygame

        surface = pygame.display.get_surface()
        size = surface.get_size() if surface is not None else None
        print(f"shell_check: driver {pygame.display.get_driver()}, window {size}", flush=True)
        return d

    try:
        return run_scenario(args.scenario, args.report, None, config=config, sim=load_sim_config(),
                            build=run_kiosk.build_kiosk, make_display=display, notifier=notifier)
    finally:
        notifier.stopping()
        notifier.close()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
