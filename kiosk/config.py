"""Reading and validating config/kiosk.toml and config/sim.toml.

A schema per section states each key's type; unknown keys, missing keys and wrong types
stop the start with a message that names the key (e.g. `timeouts.idle`).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

# The optional sections and their checks live in config_sections (this module's line budget);
# ConfigError is defined there and is this module's too.
from kiosk.config_sections import (
    ConfigError,
    MetricsConfig,
    ServiceCentreConfig,
    TelemetryConfig,
    check_service_centre,
    check_services,
    check_site,
    check_telemetry,
)

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


@dataclass(frozen=True)
class Terminal:
    id: str
    site: str
    policy: str
    mode: str
    # the site's name in the header in English mode (issue 13); empty: `site` in either language
    site_en: str = ""
    # issue 14: the services this terminal offers (kiosk/reasons.py Service values); one not listed
    # is not on the menu, nor offered from another service's screen
    services: tuple[str, ...] = ("new_permit", "card_rewrite", "registration", "status_query")


@dataclass(frozen=True)
class DisplayConfig:
    width: int
    height: int
    orientation: str
    fullscreen: bool
    font: str
    lang: str
    fps: int
    # Lay out the translations at boot (screens/warm.py): about 0.15 s of CPU once, and no screen's
    # first frame loads its glyphs. The scenario runner's kiosks skip it ([run] warm_text of sim.toml).
    warm_text: bool = True


@dataclass(frozen=True)
class Timeouts:
    idle: float
    idle_warning: float
    take_card: float
    done: float
    goodbye: float
    self_test: float
    health_interval: float
    device_operation: float
    receipt: float  # the registration receipt stays this long unless done is tapped (its countdown)
    # issue 13: the louder last warning between "take your card" running out and the retract
    take_card_last: float = 20.0


@dataclass(frozen=True)
class SerialDevice:
    driver: str
    port: str
    baudrate: int
    poll_interval: float


@dataclass(frozen=True)
class PrinterDevice(SerialDevice):
    # poll_interval is the rate at rest; these instead while a screen waits for a card pushed into
    # the front slot, and while a presented card waits there to be taken (devices/card_printer.py)
    slot_poll_interval: float = 0.05
    take_poll_interval: float = 0.02


@dataclass(frozen=True)
class EncoderConfig:
    driver: str
    reader: str
    poll_interval: float
    keys_file: str = ""  # empty or absent: no chip keys, the encoder is unavailable (devices/unkeyed_encoder.py)


@dataclass(frozen=True)
class JournalConfig:
    file: str


@dataclass(frozen=True)
class CameraConfig:
    driver: str
    index: int
    # issue 12: the OpenCV driver's frame size and exposure, and the photo's face detector
    width: int = 640
    height: int = 480
    exposure: int = 0  # 0: the camera's automatic exposure; else V4L2's exposure_absolute (100 µs units)
    reconnect_interval: float = 1.0  # seconds between tries to reopen a camera that went away
    detector: str = "haar"  # haar (OpenCV's Haar cascades) | silhouette (the plain-backdrop stand-in)


@dataclass(frozen=True)
class QrScannerConfig:
    enabled: bool  # false: no scanner at this kiosk; registration then takes typed proof numbers only
    driver: str  # serial (a scanner in USB-COM mode) | camera (codes decoded from a scanning camera's frames)
    port: str  # serial
    baudrate: int  # serial
    max_line: int  # serial: the scanner's line limit in bytes; a longer line is dropped
    line_timeout: float  # serial: bytes with no CR are discarded after this long a silence
    decoder: str  # camera: zxing | pyzbar
    camera: str  # camera: opencv | sim (sim only with --sim)
    camera_index: int  # camera: the scanning camera's OpenCV index (not the photo camera's)
    proof_hosts: tuple[str, ...]  # the government hosts a proof's QR URL may name (docs/protocols/qr-proofs.md)


@dataclass(frozen=True)
class Devices:
    id_reader: SerialDevice
    printer: PrinterDevice
    encoder: EncoderConfig
    camera: CameraConfig
    qr_scanner: QrScannerConfig


@dataclass(frozen=True)
class BackendConfig:
    url: str
    connect_timeout: float
    read_timeout: float
    # Mutual TLS (issue 15, and issue 14's "mutual-TLS certificate, key and CA"): PEM paths, "" = none.
    client_cert: str = ""  # the terminal's certificate, presented to the backend
    client_key: str = ""  # its private key
    ca_file: str = ""  # the CA the backend's certificate must chain to ("": the system's CAs)


@dataclass(frozen=True)
class LoggingConfig:
    file: str  # the catalog's JSON lines (kiosk/logevents.py)
    level: str  # debug | info | warning | error: events below it are not logged anywhere
    stdout: bool  # also each event as a JSON line on stdout (journald under systemd)
    # issue 14: rotation by size and journald's priorities (docs/operations.md, "Logs")
    rotate_bytes: int = 0  # 0: the file grows; else rotated at this size (kiosk.jsonl.1 ... .N)
    rotate_files: int = 5  # how many rotated files are kept
    journal_priority: bool = False  # stdout lines start with <N> (journald's priority: journalctl -p)


@dataclass(frozen=True)
class DiagnosticsConfig:
    idle: float = 600.0  # technician diagnostics leaves by itself after this long without a touch
    export_dir: str = "out/export"  # the removable drive's mount point (a folder in the simulator)


@dataclass(frozen=True)
class KioskConfig:
    terminal: Terminal
    display: DisplayConfig
    timeouts: Timeouts
    devices: Devices
    backend: BackendConfig
    journal: JournalConfig
    logging: LoggingConfig
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    service_centre: ServiceCentreConfig = field(default_factory=ServiceCentreConfig)


@dataclass(frozen=True)
class SimSerial:
    pace: bool


@dataclass(frozen=True)
class SimPrinter:
    hopper: int
    hopper_capacity: int
    low_threshold: int
    bin_capacity: int


@dataclass(frozen=True)
class SimRun:
    virtual_clock: bool
    max_session_seconds: float
    max_wall_seconds: float
    out_dir: str
    warm_text: bool = False  # the kiosks of scenarios lay out the translations at boot (kiosk.toml [display])


@dataclass(frozen=True)
class SimPcsc:
    vpcd_port: int  # vpcd's first slot ("Virtual PCD 00 00"); the second listens on vpcd_port + 1


@dataclass(frozen=True)
class SimQrScanner:
    driver: str  # serial | camera | absent: scenario runs' QR scanner unless the scenario names one


@dataclass(frozen=True)
class SimConfig:
    serial: SimSerial
    printer: SimPrinter
    qr_scanner: SimQrScanner
    pcsc: SimPcsc
    run: SimRun


_CHOICES: dict[str, tuple[str, ...]] = {
    "terminal.mode": ("production", "development"),
    "display.orientation": ("portrait", "landscape"),
    "display.lang": ("zh", "en"),
    "devices.id_reader.driver": ("serial",),
    "devices.printer.driver": ("serial",),
    "devices.camera.driver": ("opencv", "sim"),
    "devices.camera.detector": ("haar", "silhouette"),
    "devices.encoder.driver": ("pcsc",),
    "devices.qr_scanner.driver": ("serial", "camera"),
    "devices.qr_scanner.decoder": ("zxing", "pyzbar"),
    "devices.qr_scanner.camera": ("opencv", "sim"),
    "qr_scanner.driver": ("serial", "camera", "absent"),
    "logging.level": ("debug", "info", "warning", "error"),
}


# A section's field types, worked out once: get_type_hints evaluates each annotation's string
# (compiling it) on every call, 400 compiles at each start.
_hints = functools.cache(get_type_hints)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = _hints(cls)
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key {where + '.' if where else ''}{key}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name not in data:
            if f.default is not MISSING or f.default_factory is not MISSING:
                continue  # a section added later: older files keep working
            raise ConfigError(f"missing key {path}")
        hint = hints[f.name]
        raw = data[f.name]
        if is_dataclass(hint) and isinstance(hint, type):
            values[f.name] = _build(hint, raw, path)
            continue
        if hint is bool:
            ok = isinstance(raw, bool)
        elif hint is int:
            ok = isinstance(raw, int) and not isinstance(raw, bool)
        elif hint is float:
            ok = isinstance(raw, int | float) and not isinstance(raw, bool)
            raw = float(raw) if ok else raw
        elif hint == tuple[str, ...]:
            ok = isinstance(raw, list) and all(isinstance(x, str) for x in raw)
            raw = tuple(raw) if ok else raw
        else:
            ok = isinstance(raw, str)
        if not ok:
            raise ConfigError(f"{path}: expected {getattr(hint, '__name__', 'a list of strings')}, "
                              f"got {type(raw).__name__}")
        if path in _CHOICES and raw not in _CHOICES[path]:
            raise ConfigError(f"{path}: {raw!r} is not one of {', '.join(_CHOICES[path])}")
        if hint in (int, float) and raw < 0:
            raise ConfigError(f"{path}: must not be negative")
        values[f.name] = raw
    return cls(**values)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_kiosk_config(path: Path = CONFIG_DIR / "kiosk.toml") -> KioskConfig:
    cfg = _build(KioskConfig, _read(path), "")
    if cfg.display.width <= 0 or cfg.display.height <= 0:
        raise ConfigError("display.width: the display size must be positive")
    _check_qr_scanner(cfg.devices.qr_scanner)
    _check_logging(cfg.logging)
    check_services(cfg.terminal.services)
    check_site(cfg.terminal.site, cfg.terminal.site_en)
    if not 1 <= cfg.metrics.port <= 65535:
        raise ConfigError("metrics.port: a TCP port, 1 to 65535")
    check_telemetry(cfg.telemetry, cfg.terminal.id, cfg.terminal.mode)
    check_service_centre(cfg.service_centre)
    _check_backend_tls(cfg.backend, path.parent)
    return cfg


def _check_logging(log: LoggingConfig) -> None:
    if log.rotate_bytes and log.rotate_bytes < 4096:
        raise ConfigError("logging.rotate_bytes: 0 (no rotation) or at least 4096")
    if log.rotate_files > 100:
        raise ConfigError("logging.rotate_files: at most 100")
    if not log.file and not log.stdout:
        raise ConfigError("logging.file: empty, and logging.stdout is false: the events would go nowhere")


def _check_backend_tls(b: BackendConfig, base: Path) -> None:
    """The certificate, key and CA files exist and read as PEM; cert and key go together; https only."""
    if bool(b.client_cert) != bool(b.client_key):
        raise ConfigError(f"backend.{'client_key' if b.client_cert else 'client_cert'}: "
                          "client_cert and client_key go together")
    for key, value, marker in (("client_cert", b.client_cert, b"-----BEGIN CERTIFICATE"),
                               ("client_key", b.client_key, b"PRIVATE KEY-----"), ("ca_file", b.ca_file,
                                                                                   b"-----BEGIN CERTIFICATE")):
        if not value:
            continue
        if not b.url.startswith("https://"):
            raise ConfigError(f"backend.{key}: set, but backend.url is not https://")
        file = Path(value) if Path(value).is_absolute() else base.parent / value
        try:
            text = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"backend.{key}: {value} cannot be read ({exc.strerror})") from exc
        if marker not in text:
            raise ConfigError(f"backend.{key}: {value} is not a PEM {'key' if key == 'client_key' else 'certificate'}")


def _check_qr_scanner(qr: QrScannerConfig) -> None:
    if qr.max_line < 1:
        raise ConfigError("devices.qr_scanner.max_line: must be at least 1")
    if not qr.proof_hosts:
        raise ConfigError("devices.qr_scanner.proof_hosts: name at least one host")
    for host in qr.proof_hosts:
        labels = host.split(".")
        # Compared character for character with what a code names: lower-case ASCII only.
        if len(labels) < 2 or not all(label and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in label)
                                      for label in labels):
            raise ConfigError(f"devices.qr_scanner.proof_hosts: {host!r} is not a lower-case ASCII host name")


def load_sim_config(path: Path = CONFIG_DIR / "sim.toml") -> SimConfig:
    return _build(SimConfig, _read(path), "")
