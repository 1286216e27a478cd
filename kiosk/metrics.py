"""The kiosk's counters in Prometheus' text format, for a scraper on the terminal itself (issue 14).

Off by default (`[metrics] enabled`). Served on 127.0.0.1 only, never on another address: a
local agent (node_exporter's textfile collector, a Prometheus or Grafana agent) scrapes it and
forwards what the city wants. The counters come from the log channel: `Metrics.tap` sees every
catalog event, whatever `logging.level` filters from the log. Every label value comes from a
closed vocabulary (event codes, services, outcomes, reason codes, device kinds and states),
never from a field that could hold a resident's data: the session id is not a label.

    kiosk_log_events_total{code,event,level}    every catalog event (alerts: level warning/error)
    kiosk_sessions_total{service,outcome,reason}
    kiosk_issuances_total{disposition}
    kiosk_device_state{device,state}            1 for each device's current state
    kiosk_service_offered{service}              1 offered, 0 not (the configured services)
    kiosk_start_time_seconds
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kiosk.logevents import LEVELS, LogEvent

_LEVEL_NAMES = {number: name for name, number in LEVELS.items()}

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**pairs: object) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in pairs.items()) + "}"


class Metrics:
    def __init__(self, services: tuple[str, ...], *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._events: Counter[tuple[str, str, str]] = Counter()
        self._sessions: Counter[tuple[str, str, str]] = Counter()
        self._issuances: Counter[str] = Counter()
        self._devices: dict[str, str] = {}
        self._services = services
        self._offered: set[str] = set()
        self._started = clock()

    def tap(self, event: LogEvent, values: Mapping[str, Any]) -> None:
        """EventLog's tap: called with every event before the level filter."""
        spec = event.value
        with self._lock:
            self._events[(spec.code, event.name, _LEVEL_NAMES.get(spec.level, str(spec.level)))] += 1
            if event is LogEvent.SESSION_ENDED:
                self._sessions[(str(values.get("service")), str(values.get("outcome")),
                                str(values.get("reason")))] += 1
            elif event is LogEvent.ISSUANCE_ENDED:
                self._issuances[str(values.get("disposition"))] += 1
            elif event is LogEvent.DEVICE_STATUS:
                self._devices[str(values.get("device"))] = str(values.get("state"))
            elif event is LogEvent.SERVICES_CHANGED:
                available = str(values.get("available") or "")
                self._offered = {s for s in available.split(",") if s}

    def render(self) -> str:
        with self._lock:
            out = ["# HELP kiosk_log_events_total Catalog events (kiosk/logevents.py), whatever the log level.",
                   "# TYPE kiosk_log_events_total counter"]
            out += [f"kiosk_log_events_total{_labels(code=c, event=e, level=lv)} {n}"
                    for (c, e, lv), n in sorted(self._events.items())]
            out += ["# HELP kiosk_sessions_total Sessions ended, by service, outcome and reason code.",
                    "# TYPE kiosk_sessions_total counter"]
            out += [f"kiosk_sessions_total{_labels(service=s, outcome=o, reason=r)} {n}"
                    for (s, o, r), n in sorted(self._sessions.items())]
            out += ["# HELP kiosk_issuances_total Card issuances ended, by disposition.",
                    "# TYPE kiosk_issuances_total counter"]
            out += [f"kiosk_issuances_total{_labels(disposition=d)} {n}" for d, n in sorted(self._issuances.items())]
            out += ["# HELP kiosk_device_state Each device's current state (1).", "# TYPE kiosk_device_state gauge"]
            out += [f"kiosk_device_state{_labels(device=d, state=s)} 1" for d, s in sorted(self._devices.items())]
            out += ["# HELP kiosk_service_offered Whether each configured service is offered now.",
                    "# TYPE kiosk_service_offered gauge"]
            out += [f"kiosk_service_offered{_labels(service=s)} {int(s in self._offered)}" for s in self._services]
            out += ["# HELP kiosk_start_time_seconds When the kiosk started (Unix time).",
                    "# TYPE kiosk_start_time_seconds gauge", f"kiosk_start_time_seconds {self._started:.3f}"]
        return "\n".join(out) + "\n"


class MetricsServer:
    """GET /metrics on 127.0.0.1:`port` (0: any free port, see `port`), on a thread of its own."""

    def __init__(self, metrics: Metrics, port: int) -> None:
        render = metrics.render

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape is not an event of the kiosk's log

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
