"""The kiosk's flows: one module per service, and the kiosk's own parts (boot, home, ending).

A new service is a module here, added to `FLOWS`; nothing of the others changes.
"""

from __future__ import annotations

from kiosk.chart import ChartPart
from kiosk.flows.base import Flow
from kiosk.flows.boot import Boot
from kiosk.flows.card_rewrite import CardRewriteFlow
from kiosk.flows.ending import Ending
from kiosk.flows.home import Home
from kiosk.flows.new_permit import NewPermit
from kiosk.flows.registration import Registration

FLOWS: tuple[type[Flow], ...] = (Boot, Home, NewPermit, CardRewriteFlow, Registration, Ending)


def chart_parts() -> tuple[ChartPart, ...]:
    return tuple(f.CHART for f in FLOWS)
