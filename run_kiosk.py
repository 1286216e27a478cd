"""The composition root: command line, configuration, real or emulated devices, start.

  python run_kiosk.py                          the terminal on its configured hardware
  python run_kiosk.py --sim                    on emulated hardware, in a window; the simulated
                                               resident places the card and shows the face, you tap
  python run_kiosk.py --sim --headless         a demo session: screenshots and the printed face
  python run_kiosk.py --sim --headless --scenario FILE --report OUT.json [--screenshots DIR]
                                               one scenario; exit 0 when every expectation holds,
                                               1 when one fails, 2 when the scenario is malformed
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DEMO_SCENARIO = ROOT / "sim" / "scenarios" / "demo.toml"


def build_kiosk(config: Any, pack: Any, clock: Any, log: Any, camera_source: Any = None) -> Any:
    """Adapters first, each posting to the kiosk's one event queue, then the core."""
    from devices.camera import Camera, OpenCvFrameSource
    from devices.card_printer import CardPrinter
    from devices.id_reader import IdReader
    from kiosk.backend import BackendClient
    from kiosk.controller import Kiosk
    from kiosk.ports import Ports

    events: queue.Queue[Any] = queue.Queue()
    sink = events.put
    d = config.devices
    id_reader = IdReader(d.id_reader.port, sink, baudrate=d.id_reader.baudrate,
                         poll_interval=d.id_reader.poll_interval)
    printer = CardPrinter(d.printer.port, sink, baudrate=d.printer.baudrate, poll_interval=d.printer.poll_interval)
    if d.camera.driver == "sim":
        if camera_source is None:
            raise SystemExit("devices.camera.driver = sim needs --sim")
        source = camera_source
    else:
        source = OpenCvFrameSource(d.camera.index)
    camera = Camera(source, sink)
    backend = BackendClient(config.backend.url, config.terminal.id,
                            connect_timeout=config.backend.connect_timeout, read_timeout=config.backend.read_timeout)
    ports = Ports(id_reader=id_reader, printer=printer, camera=camera, backend=backend)
    return Kiosk(config, pack, clock, ports, log, events=events)


def make_display(config: Any, *, headless: bool = True) -> Any:
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    from kiosk.fonts import find_cjk_font
    from screens.display import Display

    font = find_cjk_font(config.display.font or None)
    size = (config.display.width, config.display.height)
    if config.display.orientation == "landscape" and size[0] < size[1]:
        size = (size[1], size[0])
    return Display(size, fullscreen=config.display.fullscreen and not headless, font=font,
                   lang=config.display.lang, show_cursor=config.terminal.mode != "production")


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "kiosk.toml")
    ap.add_argument("--sim-config", type=Path, default=ROOT / "config" / "sim.toml")
    ap.add_argument("--sim", action="store_true", help="emulated devices and backend")
    ap.add_argument("--headless", action="store_true", help="no window (SDL dummy video driver)")
    ap.add_argument("--scenario", type=Path, help="play this scenario file (needs --sim --headless)")
    ap.add_argument("--report", type=Path, help="write the scenario report (JSON) here")
    ap.add_argument("--screenshots", type=Path, help="save a screenshot of every screen here")
    ap.add_argument("--keep-workdir", action="store_true", help="keep the emulators' files for debugging")
    args = ap.parse_args(argv)
    # SIGTERM (a watchdog, systemd, a test's clean-up) unwinds like Ctrl-C, so every finally block
    # runs: devices are closed and emulator processes stopped by PID, never left behind.
    signal.signal(signal.SIGTERM, _terminate)

    from kiosk.config import ConfigError, load_kiosk_config, load_sim_config
    from kiosk.fonts import FontMissing

    try:
        config = load_kiosk_config(args.config)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    if args.sim and config.terminal.mode == "production":
        print("refused: --sim (emulated hardware) is a development switch and terminal.mode is production",
              file=sys.stderr)
        return 2
    if args.scenario and not (args.sim and args.headless):
        print("--scenario needs --sim --headless", file=sys.stderr)
        return 2
    try:
        if args.sim:
            sim = load_sim_config(args.sim_config)
            if args.headless:
                return run_headless(args, config, sim)
            return run_windowed_sim(config, sim)
        return run_production(config)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    except FontMissing as exc:
        print(str(exc), file=sys.stderr)
        return 2


def run_headless(args: argparse.Namespace, config: Any, sim: Any) -> int:
    from sim.runner import run_scenario

    if args.scenario is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = ROOT / sim.run.out_dir / f"demo-{stamp}"
        shots = args.screenshots or out
        report = args.report or out / "report.json"
        code = run_scenario(DEMO_SCENARIO, report, shots, config=config, sim=sim, build=build_kiosk,
                            make_display=make_display, keep_workdir=args.keep_workdir)
        print(f"demo session {'passed' if code == 0 else 'FAILED'}")
        print(f"screenshots and the printed card face: {shots}")
        for png in sorted(shots.glob("*.png")):
            print(f"  {png}")
        print(f"report: {report}")
        return code
    return run_scenario(args.scenario, args.report, args.screenshots, config=config, sim=sim, build=build_kiosk,
                        make_display=make_display, keep_workdir=args.keep_workdir)


def run_windowed_sim(config: Any, sim: Any) -> int:
    """A window on emulated hardware: you tap; the simulated resident of the demo scenario
    places the ID card, faces the camera and takes the printed card."""
    import json
    import shutil
    import tempfile

    from kiosk.clock import FixedDateClock
    from kiosk.logevents import EventLog
    from kiosk.mainloop import run
    from kiosk.policy import load_pack
    from sim.camera_emu import SceneFrameSource
    from sim.hub import HubClient
    from sim.launcher import start_backend, start_hub
    from sim.runner import ScenarioPlayer, sim_kiosk_config
    from sim.scenario import load, residents_json

    scenario = load(DEMO_SCENARIO)
    workdir = Path(tempfile.mkdtemp(prefix="kiosk-sim-"))
    residents_file = workdir / "residents.json"
    residents_file.write_text(json.dumps(residents_json(scenario), ensure_ascii=False), encoding="utf-8")
    hub = start_hub(workdir, residents_file, [], pace=sim.serial.pace, printer={
        "hopper": sim.printer.hopper, "hopper_capacity": sim.printer.hopper_capacity,
        "low_threshold": sim.printer.low_threshold, "bin_capacity": sim.printer.bin_capacity})
    backend = start_backend(workdir, residents_file, scenario.today.isoformat(), scenario.policy, [])
    client = HubClient(hub.ready["control"])
    kiosk = display = None
    try:
        cfg = sim_kiosk_config(config, scenario, hub.ready, f"http://127.0.0.1:{backend.ready['port']}",
                               ROOT / config.logging.file)
        clock = FixedDateClock(scenario.today if scenario.today else date.today())
        camera = SceneFrameSource()
        log = EventLog(Path(cfg.logging.file), clock_now=clock.now)
        kiosk = build_kiosk(cfg, load_pack(scenario.policy), clock, log, camera)
        display = make_display(cfg, headless=False)
        helper = ScenarioPlayer(scenario, kiosk, display, client, camera, clock, max_session_seconds=1e12,
                                max_wall_seconds=1e12, assist_only=True, fps=cfg.display.fps)
        kiosk.start()
        run(kiosk, display, fps=cfg.display.fps, hook=helper)
    finally:
        if kiosk is not None:
            kiosk.stop()
        if display is not None:
            display.close()
        client.close()
        hub.stop()
        backend.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def run_production(config: Any) -> int:
    from kiosk.clock import RealClock
    from kiosk.logevents import EventLog
    from kiosk.mainloop import run
    from kiosk.policy import load_pack

    clock = RealClock()
    log = EventLog(ROOT / config.logging.file, clock_now=clock.now)
    kiosk = build_kiosk(config, load_pack(config.terminal.policy), clock, log)
    display = make_display(config, headless=False)
    kiosk.start()
    try:
        run(kiosk, display, fps=config.display.fps)
    finally:
        kiosk.stop()
        display.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
