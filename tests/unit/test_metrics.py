"""kiosk/metrics.py over a real HTTP socket on 127.0.0.1: the counters from the log channel's
events (whatever the log level), closed-vocabulary labels only (no session id, no masked ID),
the text format's escaping, 404 elsewhere; and [metrics] validated. The kiosk serving it during a
real session: tests/scenarios/test_metrics_endpoint.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import pytest

from kiosk.config import ConfigError, load_kiosk_config
from kiosk.logevents import EventLog, LogEvent
from kiosk.metrics import CONTENT_TYPE, Metrics, MetricsServer, _labels

ROOT = Path(__file__).resolve().parents[2]


def test_counters_from_every_event_served_on_localhost() -> None:
    metrics = Metrics(("new_permit", "registration"), clock=lambda: 1764662400.0)
    log = EventLog(None, level="error", taps=[metrics.tap])  # the level filters the log, not the counters
    log.emit(LogEvent.SERVICES_CHANGED, available="registration", unavailable="new_permit:permit_card_down")
    log.emit(LogEvent.DEVICE_STATUS, device="printer", state="online", media="none", detail="")
    log.emit(LogEvent.DEVICE_STATUS, device="printer", state="hardware_error", media="jammed", detail="jam")
    log.emit(LogEvent.ID_CARD_READ, session="s-1", card_type="citizen", masked_id="3401**********0010")
    for _ in range(2):
        log.emit(LogEvent.SESSION_ENDED, session="s-1", service="new_permit", outcome="issued", reason="OK")
    log.emit(LogEvent.ISSUANCE_ENDED, session="s-1", permit_number="310000", disposition="issued")
    log.emit(LogEvent.CARD_STUCK, device="printer", error="jam")
    assert log.recent == [r for r in log.recent if r["event"] == "CARD_STUCK"]
    server = MetricsServer(metrics, 0)
    server.start()
    try:
        reply = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5.0)
        missing = httpx.get(f"http://127.0.0.1:{server.port}/", timeout=5.0)
    finally:
        server.stop()
    assert reply.status_code == 200 and reply.headers["content-type"] == CONTENT_TYPE
    assert missing.status_code == 404
    lines = set(reply.text.splitlines())
    assert 'kiosk_sessions_total{service="new_permit",outcome="issued",reason="OK"} 2' in lines
    assert 'kiosk_issuances_total{disposition="issued"} 1' in lines
    assert 'kiosk_device_state{device="printer",state="hardware_error"} 1' in lines
    assert not any('state="online"' in line for line in lines)  # the current state only
    assert 'kiosk_service_offered{service="registration"} 1' in lines
    assert 'kiosk_service_offered{service="new_permit"} 0' in lines
    assert 'kiosk_log_events_total{code="F002",event="CARD_STUCK",level="error"} 1' in lines
    assert 'kiosk_log_events_total{code="S010",event="ID_CARD_READ",level="info"} 1' in lines
    assert "kiosk_start_time_seconds 1764662400.000" in lines
    assert "s-1" not in reply.text and "3401" not in reply.text and "310000" not in reply.text  # SH-PRIV-1
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? [0-9.]+$')
    assert all(sample.match(line) for line in lines if not line.startswith("#"))


def test_label_values_are_escaped() -> None:
    assert _labels(a='x"y\\z\nw') == '{a="x\\"y\\\\z\\nw"}'


def test_the_server_binds_localhost_only() -> None:
    server = MetricsServer(Metrics(()), 0)
    try:
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server._server.server_close()


@pytest.mark.parametrize(("old", "new", "named"), [
    ("port = 9464", "port = 70000", "metrics.port"),
    ("enabled = false              # true: GET", "enabled = 1 # true: GET", "metrics.enabled"),
])
def test_metrics_keys_are_validated(tmp_path: Path, old: str, new: str, named: str) -> None:
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "kiosk.toml").write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_kiosk_config(tmp_path / "kiosk.toml")


def test_a_taken_port_is_a_config_error_naming_the_key() -> None:
    import socket

    import run_kiosk

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cfg = load_kiosk_config(ROOT / "config" / "kiosk.toml")
        cfg = dataclasses.replace(cfg, metrics=dataclasses.replace(cfg.metrics, enabled=True,
                                                                   port=taken.getsockname()[1]))
        with pytest.raises(ConfigError, match=r"metrics\.port: cannot listen on 127\.0\.0\.1:\d+"):
            run_kiosk.start_metrics(cfg)
    assert run_kiosk.start_metrics(dataclasses.replace(cfg, metrics=dataclasses.replace(cfg.metrics,
                                                                                        enabled=False))) == (None, ())
