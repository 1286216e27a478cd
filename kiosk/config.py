"""Reading and validating config/kiosk.toml and config/sim.toml.

A schema per section states each key's type; unknown keys, missing keys and wrong types
stop the start with a message that names the key (e.g. `timeouts.idle`).
"""

from __future__ import annotations

import tomllib
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Terminal:
    id: str
    site: str
    policy: str
    mode: str
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
    printer: SerialDevice
    encoder: EncoderConfig
    camera: CameraConfig
    qr_scanner: QrScannerConfig


@dataclass(frozen=True)
class BackendConfig:
    url: str
    connect_timeout: float
    read_timeout: float


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
class MetricsConfig:
    enabled: bool = False  # issue 14: Prometheus text format on 127.0.0.1 only (kiosk/metrics.py)
    port: int = 9464


@dataclass(frozen=True)
class TelemetryConfig:
    """Fleet telemetry over MQTT (fleet/, docs/fleet.md); off unless enabled."""
    enabled: bool = False
    broker_host: str = "127.0.0.1"
    broker_port: int = 8883
    tls: bool = True  # client certificate + CA; false only in development mode
    ca_file: str = ""  # the fleet CA that signed the broker's certificate
    cert_file: str = ""  # this terminal's client certificate (its CN is the broker's user name)
    key_file: str = ""
    terminal_id: str = ""  # empty: terminal.id
    topic_prefix: str = "rpkiosk/v1"
    outbox_file: str = "out/telemetry-outbox.sqlite"
    outbox_max: int = 10000  # messages kept while the broker is unreachable; the oldest go first
    keepalive: int = 30  # seconds; the broker publishes the last will after 1.5 times this


@dataclass(frozen=True)
class ServiceCentreConfig:
    """The nearest service centre, shown by every screen's help (the operator sets it)."""

    name_zh: str = ""
    name_en: str = ""
    address_zh: str = ""
    address_en: str = ""
    hours_zh: str = ""
    hours_en: str = ""
    hotline: str = "12345"  # Shanghai's citizen hotline answers when no centre is set


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


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = get_type_hints(cls)
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
    _check_services(cfg.terminal.services)
    if not 1 <= cfg.metrics.port <= 65535:
        raise ConfigError("metrics.port: a TCP port, 1 to 65535")
    _check_telemetry(cfg.telemetry, cfg)
    _check_service_centre(cfg.service_centre)
    return cfg


SERVICES = ("new_permit", "card_rewrite", "registration", "status_query")  # kiosk/reasons.py Service


def _check_services(services: tuple[str, ...]) -> None:
    if not services:
        raise ConfigError("terminal.services: name at least one service")
    for name in services:
        if name not in SERVICES:
            raise ConfigError(f"terminal.services: {name!r} is not one of {', '.join(SERVICES)}")
    if len(set(services)) != len(services):
        raise ConfigError("terminal.services: a service is named twice")


def _check_logging(log: LoggingConfig) -> None:
    if log.rotate_bytes and log.rotate_bytes < 4096:
        raise ConfigError("logging.rotate_bytes: 0 (no rotation) or at least 4096")
    if log.rotate_files > 100:
        raise ConfigError("logging.rotate_files: at most 100")
    if not log.file and not log.stdout:
        raise ConfigError("logging.file: empty, and logging.stdout is false: the events would go nowhere")


def _check_telemetry(t: TelemetryConfig, cfg: KioskConfig) -> None:
    import re

    if not 1 <= t.broker_port <= 65535:
        raise ConfigError("telemetry.broker_port: must be 1 to 65535")
    if t.outbox_max < 1:
        raise ConfigError("telemetry.outbox_max: must be at least 1")
    if not 5 <= t.keepalive <= 3600:
        raise ConfigError("telemetry.keepalive: must be 5 to 3600 seconds")
    ident = t.terminal_id or cfg.terminal.id
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", ident):
        raise ConfigError(f"telemetry.terminal_id: {ident!r} is not a topic level (letters, digits, _ . -)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", t.topic_prefix):
        raise ConfigError(f"telemetry.topic_prefix: {t.topic_prefix!r} is not a topic without wildcards")
    if not t.enabled:
        return
    if not t.broker_host:
        raise ConfigError("telemetry.broker_host: empty")
    if not t.tls and cfg.terminal.mode == "production":
        raise ConfigError("telemetry.tls: must be true in production (commands are authenticated by certificates)")
    if t.tls:
        for key in ("ca_file", "cert_file", "key_file"):
            value = getattr(t, key)
            if not value or not Path(value).is_file():
                raise ConfigError(f"telemetry.{key}: {value!r} is not a readable file")


def _check_service_centre(centre: ServiceCentreConfig) -> None:
    texts = [f.name for f in fields(centre) if f.name != "hotline"]
    # No section at all: help shows the hotline alone. A section given is given whole.
    if any(getattr(centre, name).strip() for name in texts):
        for name in texts:
            if not getattr(centre, name).strip():
                raise ConfigError(f"service_centre.{name}: must not be empty (help shows it to residents)")
    digits = centre.hotline.replace("-", "").replace(" ", "")
    if not digits.isdigit() or not 3 <= len(digits) <= 15:
        raise ConfigError(f"service_centre.hotline: {centre.hotline!r} is not a phone number")


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
