"""The configuration's optional sections (metrics, telemetry, the service centre) and the
checks of the terminal's services: the dataclasses `kiosk.config` builds, each key checked with
an error naming it. Kept apart from `kiosk.config` for its size; `ConfigError` is defined here
and used by both."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path


class ConfigError(ValueError):
    pass


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


SERVICES = ("new_permit", "card_rewrite", "registration", "status_query")  # kiosk/reasons.py Service


def check_services(services: tuple[str, ...]) -> None:
    if not services:
        raise ConfigError("terminal.services: name at least one service")
    for name in services:
        if name not in SERVICES:
            raise ConfigError(f"terminal.services: {name!r} is not one of {', '.join(SERVICES)}")
    if len(set(services)) != len(services):
        raise ConfigError("terminal.services: a service is named twice")


def check_telemetry(t: TelemetryConfig, terminal_id: str, mode: str) -> None:
    if not 1 <= t.broker_port <= 65535:
        raise ConfigError("telemetry.broker_port: must be 1 to 65535")
    if t.outbox_max < 1:
        raise ConfigError("telemetry.outbox_max: must be at least 1")
    if not 5 <= t.keepalive <= 3600:
        raise ConfigError("telemetry.keepalive: must be 5 to 3600 seconds")
    ident = t.terminal_id or terminal_id
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", ident):
        raise ConfigError(f"telemetry.terminal_id: {ident!r} is not a topic level (letters, digits, _ . -)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", t.topic_prefix):
        raise ConfigError(f"telemetry.topic_prefix: {t.topic_prefix!r} is not a topic without wildcards")
    if not t.enabled:
        return
    if not t.broker_host:
        raise ConfigError("telemetry.broker_host: empty")
    if not t.tls and mode == "production":
        raise ConfigError("telemetry.tls: must be true in production (commands are authenticated by certificates)")
    if t.tls:
        for key in ("ca_file", "cert_file", "key_file"):
            value = getattr(t, key)
            if not value or not Path(value).is_file():
                raise ConfigError(f"telemetry.{key}: {value!r} is not a readable file")


def check_site(site: str, site_en: str) -> None:
    """terminal.site (the header's name of the place) and terminal.site_en, its English form (optional)."""
    if not site.strip():
        raise ConfigError("terminal.site: must not be empty (the header shows it to residents)")
    if site_en and not site_en.strip():
        raise ConfigError("terminal.site_en: blank; leave it out to show terminal.site in English too")
    if any("\u3400" <= ch <= "\u9fff" for ch in site_en):
        raise ConfigError(f"terminal.site_en: {site_en!r} has Chinese characters; the English name, or leave it out")


def check_service_centre(centre: ServiceCentreConfig) -> None:
    texts = [f.name for f in fields(centre) if f.name != "hotline"]
    # No section at all: help shows the hotline alone. A section given is given whole.
    if any(getattr(centre, name).strip() for name in texts):
        for name in texts:
            if not getattr(centre, name).strip():
                raise ConfigError(f"service_centre.{name}: must not be empty (help shows it to residents)")
    digits = centre.hotline.replace("-", "").replace(" ", "")
    if not digits.isdigit() or not 3 <= len(digits) <= 15:
        raise ConfigError(f"service_centre.hotline: {centre.hotline!r} is not a phone number")
