"""The composition root: command line, configuration, real or emulated devices, start.

  python run_kiosk.py                          the terminal on its configured hardware
  python run_kiosk.py --sim [--scenario FILE] [--scale S]
                                               on emulated hardware, in a window beside the developer
                                               panel (sim/dev_panel.py): you tap the kiosk, and with the
                                               panel place cards, show faces and codes, inject faults;
                                               FILE's residents (default: the demo's), scaled to fit
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DEMO_SCENARIO = ROOT / "sim" / "scenarios" / "demo.toml"


def build_kiosk(config: Any, pack: Any, clock: Any, log: Any, camera_source: Any = None,
                chip_keys: Any = None, qr_camera_source: Any = None) -> Any:
    """Adapters first, each posting to the kiosk's one event queue, then the core.

    `camera_source`, `qr_camera_source`: the camera emulators' frame sources (--sim)."""
    from devices.camera import Camera, OpenCvFrameSource
    from devices.camera_preview import PreviewChannel
    from devices.card_printer import CardPrinter
    from devices.id_reader import IdReader
    from devices.permit_card import PermitCardEncoder
    from kiosk.allocator import tune
    from kiosk.backend import BackendClient
    from kiosk.controller import Kiosk
    from kiosk.journal import Journal
    from kiosk.ports import Ports

    tune()  # before the adapters' threads start
    events: queue.Queue[Any] = queue.Queue()
    sink = events.put
    d = config.devices
    id_reader = IdReader(d.id_reader.port, sink, baudrate=d.id_reader.baudrate,
                         poll_interval=d.id_reader.poll_interval)
    printer = CardPrinter(d.printer.port, sink, baudrate=d.printer.baudrate, poll_interval=d.printer.poll_interval,
                          slot_poll_interval=d.printer.slot_poll_interval,
                          take_poll_interval=d.printer.take_poll_interval)
    if d.camera.driver == "sim":
        if camera_source is None:
            raise SystemExit("devices.camera.driver = sim needs --sim")
        source = camera_source
    else:
        source = OpenCvFrameSource(d.camera.index, d.camera.width, d.camera.height, exposure=d.camera.exposure)
    # The live preview's frames go from the camera's worker to this channel's thread and on to the
    # display (attach_preview), never through the core's queue: the core only turns it on and off.
    camera = Camera(source, sink, preview=PreviewChannel(), reconnect_interval=d.camera.reconnect_interval,
                    clock=clock.monotonic)
    keys = chip_keys if chip_keys is not None else load_chip_keys(d.encoder.keys_file)
    encoder: Any
    if keys is None:  # no chip keys: the encoder is unavailable, services needing it are not offered
        from devices.unkeyed_encoder import UnkeyedEncoder

        encoder = UnkeyedEncoder(sink)
    else:
        encoder = PermitCardEncoder(d.encoder.reader, sink, keys=keys, poll_interval=d.encoder.poll_interval)
    b = config.backend

    def pem(value: str) -> str:  # config paths are relative to the checkout
        return value if Path(value).is_absolute() else str(ROOT / value)

    backend = BackendClient(b.url, config.terminal.id, connect_timeout=b.connect_timeout, read_timeout=b.read_timeout,
                            log=log, verify=pem(b.ca_file) if b.ca_file else True,
                            cert=(pem(b.client_cert), pem(b.client_key)) if b.client_cert else None)
    qr_scanner = build_qr_scanner(d.qr_scanner, sink, qr_camera_source)
    ports = Ports(id_reader=id_reader, printer=printer, encoder=encoder, camera=camera, backend=backend,
                  qr_scanner=qr_scanner)
    journal_path = Path(config.journal.file)
    if not journal_path.is_absolute():
        journal_path = ROOT / journal_path
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(journal_path, now=clock.now, log=log)
    if config.telemetry.enabled:
        start_fleet_link(config, log, sink)
    return Kiosk(config, pack, clock, ports, log, events=events, journal=journal,
                 photo_detector=build_photo_detector(d.camera.detector, warm=config.terminal.mode == "production"))


def build_photo_detector(name: str, warm: bool = False) -> Any:
    """The photo's face detector `[devices.camera] detector` names.

    `warm` (production mode): OpenCV and the cascades load beside the boot (0.2-0.5 s), not in
    the first photo's analysis; otherwise at the first photo, so that a development or scenario
    run that takes none does not pay for them."""
    if name == "haar":
        import threading

        from kiosk.face_haar import HaarFaceDetector

        detector = HaarFaceDetector()
        if warm:
            threading.Thread(target=detector.warm_up, name="haar-warm-up", daemon=True).start()
        return detector
    from kiosk.photo import PlainBackgroundDetector

    return PlainBackgroundDetector()


def start_fleet_link(config: Any, log: Any, post: Any) -> Any:
    """Fleet telemetry ([telemetry]): a worker thread fed from the log channel, posting remote
    commands into the event queue; it closes itself at the kiosk's KIOSK_STOPPED (docs/fleet.md)."""
    import ssl

    from fleet.link import FleetLink, LinkSettings
    from kiosk.config import ConfigError

    try:
        link = FleetLink(LinkSettings.from_config(config, ROOT), post, log)
    except (ssl.SSLError, OSError, ValueError) as exc:  # paho loads the CA, certificate and key here
        raise ConfigError(f"telemetry.cert_file: the CA, certificate or key cannot be loaded "
                          f"({type(exc).__name__})") from exc
    log.add_sink(link.start().sink)
    return link


def build_qr_scanner(qr: Any, sink: Any, camera_source: Any = None) -> Any:
    """The QR scanner `[devices.qr_scanner]` names, or None when the kiosk has none."""
    from devices.camera import OpenCvFrameSource
    from devices.qr_camera import CameraQrScanner
    from devices.qr_decode import make_decoder
    from devices.qr_scanner import SerialQrScanner

    if not qr.enabled:
        return None
    if qr.driver == "serial":
        return SerialQrScanner(qr.port, sink, baudrate=qr.baudrate, max_line=qr.max_line,
                               line_timeout=qr.line_timeout)
    if qr.camera == "sim":
        if camera_source is None:
            raise SystemExit("devices.qr_scanner.camera = sim needs --sim")
        source = camera_source
    else:
        source = OpenCvFrameSource(qr.camera_index)
    return CameraQrScanner(source, sink, lambda: make_decoder(qr.decoder))


def load_chip_keys(keys_file: str) -> Any:
    """The encoder's master keys from a TOML file (issuer, write, pin as hex); a PSAM replaces this.

    None when `keys_file` is empty (the terminal then serves what needs no chip); a file named
    but unreadable stops the start, naming the key: a typo must not silently disable the encoder."""
    import tomllib

    from devices.chip_keys import CardKeys
    from kiosk.config import ConfigError

    if not keys_file:
        return None
    try:
        with open(keys_file, "rb") as fh:
            data = tomllib.load(fh)
        return CardKeys.from_hex(issuer=data["issuer"], write=data["write"], pin=data["pin"])
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"devices.encoder.keys_file: cannot read keys ({type(exc).__name__})") from exc


def attach_preview(kiosk: Any, display: Any) -> None:
    """The camera's live preview channel to the display that blits it (the photo screen)."""
    preview = getattr(kiosk.ports.camera, "preview", None)
    attach = getattr(display, "attach_preview", None)
    if preview is not None and attach is not None:
        attach(preview)


def make_display(config: Any, *, headless: bool = True, log: Any = None) -> Any:
    """The window (or headless surface), its text laid out at boot when `display.warm_text` says so."""
    if headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ["SDL_AUDIODRIVER"] = "dummy"
    from kiosk.fonts import find_cjk_font
    from screens.display import Display

    font = find_cjk_font(config.display.font or None)
    size = (config.display.width, config.display.height)
    if config.display.orientation == "landscape" and size[0] < size[1]:
        size = (size[1], size[0])
    voice = None
    if not headless:
        # The prompts rendered at setup (render_voice.py; without them the prompts are silent) and
        # the sound cues, made in memory, both through pygame's mixer.
        from render_voice import DEFAULT_CACHE
        from screens.voice import Voice

        voice = Voice(DEFAULT_CACHE, config.display.lang)
    display = Display(size, fullscreen=config.display.fullscreen and not headless, font=font,
                      lang=config.display.lang, show_cursor=config.terminal.mode != "production", voice=voice)
    if voice is not None:
        display.on_cue = voice.cue  # the retract warning's sound (screens/last_call.py)
    if config.display.warm_text:
        warm_text(display, (config.terminal.site, config.terminal.site_en), log)
    return display


def warm_text(display: Any, sites: tuple[str, ...], log: Any = None) -> None:
    """Lay out the translations before the first screen (screens/warm.py). An unreadable file
    leaves the text cold: slower first frames, said in the log, never a kiosk that cannot start."""
    from kiosk.logevents import LogEvent
    from screens import warm

    try:
        done = warm.warm(display, warm.load(), sites)
    except warm.WarmFileError as exc:
        if log is not None:
            log.emit(LogEvent.TEXT_WARMED, wraps=0, widths=0, skipped=0, ms=0, error=str(exc)[:120])
        return
    if log is not None:
        log.emit(LogEvent.TEXT_WARMED, wraps=done.wraps, widths=done.widths, skipped=done.skipped,
                 ms=round(done.seconds * 1000))


def make_event_log(config: Any, clock_now: Any, *, stdout: bool | None = None, taps: Any = ()) -> Any:
    """The one log channel, as `[logging]` configures it: its file, its level, stdout JSON lines.

    `stdout`: None follows `logging.stdout`; the simulator passes False (its stdout is its own)."""
    from kiosk.logevents import EventLog

    lc = config.logging
    path: Path | None = Path(lc.file) if lc.file else None  # empty: stdout (the journal) only
    if path is not None and not path.is_absolute():
        path = ROOT / path
    return EventLog(path, level=lc.level, clock_now=clock_now, stdout=lc.stdout if stdout is None else stdout,
                    rotate_bytes=lc.rotate_bytes, rotate_files=lc.rotate_files,
                    journal_priority=lc.journal_priority, taps=taps)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "kiosk.toml")
    ap.add_argument("--sim-config", type=Path, default=ROOT / "config" / "sim.toml")
    ap.add_argument("--sim", action="store_true", help="emulated devices and backend")
    ap.add_argument("--headless", action="store_true", help="no window (SDL dummy video driver)")
    ap.add_argument("--scenario", type=Path,
                    help="with --headless: play this scenario file; windowed: the panel's residents")
    ap.add_argument("--report", type=Path, help="write the scenario report (JSON) here")
    ap.add_argument("--screenshots", type=Path, help="save a screenshot of every screen here")
    ap.add_argument("--scale", type=float,
                    help="windowed --sim: scale of the kiosk's picture (default: to fit the screen)")
    ap.add_argument("--keep-workdir", action="store_true", help="keep the emulators' files for debugging")
    ap.add_argument("--variant", help="with --scenario: the resident switches to large text and/or English "
                                      "(large | en | large,en) and every frame's text is checked for overflow "
                                      "(sim/variants.py)")
    args = ap.parse_args(argv)
    # SIGTERM (a watchdog, systemd, a test's clean-up) unwinds like Ctrl-C, so every finally block
    # runs: devices are closed and emulator processes stopped by PID, never left behind.
    signal.signal(signal.SIGTERM, _terminate)

    from kiosk.config import ConfigError, load_kiosk_config, load_sim_config
    from kiosk.fonts import FontMissing
    from kiosk.sdnotify import ServiceNotifier

    # systemd's NOTIFY_SOCKET / WATCHDOG_USEC, read once and removed from the environment so the
    # emulators (--sim) do not inherit them; a no-op when the kiosk is not started by systemd.
    notifier = ServiceNotifier.from_environment()

    try:
        config = load_kiosk_config(args.config)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    if args.sim and config.terminal.mode == "production":
        print("refused: --sim (emulated hardware) is a development switch and terminal.mode is production",
              file=sys.stderr)
        return 2
    if args.scenario and not args.sim:
        print("--scenario needs --sim", file=sys.stderr)
        return 2
    if args.scale is not None and (args.headless or not args.sim or not 0.1 <= args.scale <= 2.0):
        # Headless frames are the kiosk's own 1080×1920: the scenario runner taps at drawn positions.
        print("--scale needs windowed --sim and a value from 0.1 to 2", file=sys.stderr)
        return 2
    try:
        if args.sim:
            sim = load_sim_config(args.sim_config)
            if args.headless:
                return run_headless(args, config, sim, notifier)
            return run_windowed_sim(config, sim, args.scenario or DEMO_SCENARIO, args.scale)
        return run_production(config, notifier)
    except ConfigError as exc:
        print(f"config: {exc}", file=sys.stderr)
        return 2
    except FontMissing as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        notifier.stopping()
        notifier.close()


def run_headless(args: argparse.Namespace, config: Any, sim: Any, notifier: Any = None) -> int:
    from sim.runner import run_scenario

    if args.scenario is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = ROOT / sim.run.out_dir / f"demo-{stamp}"
        shots = args.screenshots or out
        report = args.report or out / "report.json"
        code = run_scenario(DEMO_SCENARIO, report, shots, config=config, sim=sim, build=build_kiosk,
                            make_display=make_display, keep_workdir=args.keep_workdir, notifier=notifier)
        print(f"demo session {'passed' if code == 0 else 'FAILED'}")
        print(f"screenshots and the printed card face: {shots}")
        for png in sorted(shots.glob("*.png")):
            print(f"  {png}")
        print(f"report: {report}")
        return code
    variant = None
    if args.variant is not None:
        from sim.variants import Variant

        try:
            variant = Variant.parse(args.variant)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
    return run_scenario(args.scenario, args.report, args.screenshots, config=config, sim=sim, build=build_kiosk,
                        make_display=make_display, keep_workdir=args.keep_workdir, notifier=notifier,
                        variant=variant)


def run_windowed_sim(config: Any, sim: Any, scenario_file: Path, scale: float | None) -> int:
    """A window on emulated hardware beside the developer panel: you tap, the panel is the world."""
    from kiosk.fonts import find_cjk_font
    from sim.dev_panel import PanelSession
    from sim.scenario import ScenarioError, load

    try:
        scenario = load(scenario_file)
    except ScenarioError as exc:
        print(f"scenario {scenario_file}: {exc}", file=sys.stderr)
        return 2
    session = PanelSession(scenario, config=config, sim=sim, build=build_kiosk,
                           font=find_cjk_font(config.display.font or None), scale=scale)
    try:
        session.start()
        session.run()
    finally:
        session.close()
    return 0


def run_production(config: Any, notifier: Any = None) -> int:
    from kiosk.clock import RealClock
    from kiosk.mainloop import run
    from kiosk.policy import load_pack

    clock = RealClock()
    metrics_server, taps = start_metrics(config)
    log = make_event_log(config, clock.now, taps=taps)
    kiosk = build_kiosk(config, load_pack(config.terminal.policy), clock, log)
    display = make_display(config, headless=False, log=log)
    attach_preview(kiosk, display)
    kiosk.start()
    try:
        run(kiosk, display, fps=config.display.fps, watch=notifier)
    finally:
        if notifier is not None:
            notifier.stopping()
        kiosk.stop()
        display.close()
        if metrics_server is not None:
            metrics_server.stop()
    return 0


def start_metrics(config: Any) -> tuple[Any, tuple[Any, ...]]:
    """The Prometheus endpoint `[metrics]` asks for (off by default): its server and the log's tap."""
    if not config.metrics.enabled:
        return None, ()
    from kiosk.config import ConfigError
    from kiosk.metrics import Metrics, MetricsServer

    metrics = Metrics(config.terminal.services)
    try:
        server = MetricsServer(metrics, config.metrics.port)
    except OSError as exc:  # the port taken: said at start, naming the key, not a traceback
        raise ConfigError(f"metrics.port: cannot listen on 127.0.0.1:{config.metrics.port} ({exc.strerror})") from exc
    server.start()
    return server, (metrics.tap,)


if __name__ == "__main__":
    sys.exit(main())
