"""The kiosk's flows: one module per service, and the kiosk's own parts (boot, home, ending).

A new service is a module here, added to `FLOWS`; nothing of the others changes.
"""

from __future__ import annotations

from kiosk.chart import ChartPart
from kiosk.flows.base import Flow
from kiosk.flows.boot import Boot
from kiosk.flows.card_rewrite import CardRewriteFlow
from kiosk.flows.diagnostics import Diagnostics
from kiosk.flows.ending import Ending
from kiosk.flows.home import Home
from kiosk.flows.new_permit import NewPermit
from kiosk.flows.registration import Registration
from kiosk.flows.status_query import StatusQuery

FLOWS: tuple[type[Flow], ...] = (Boot, Home, NewPermit, CardRewriteFlow, Registration, StatusQuery, Ending,
                                 Diagnostics)


def chart_parts() -> tuple[ChartPart, ...]:
    return tuple(f.CHART for f in FLOWS)
