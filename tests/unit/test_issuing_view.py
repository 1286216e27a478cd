"""The new permit's issuing screen follows the issuance forward: each of the issuance's steps
(kiosk/issuance.IssuanceStep) shows one of the screen's three, never an earlier one than the
step before it showed."""

from __future__ import annotations

from kiosk.flows.base import Snapshot
from kiosk.flows.new_permit_views import issuing
from kiosk.issuance import SEQUENCE
from kiosk.session import Session
from screens.new_permit.issuing import STEPS


def _shown(step: str | None) -> str:
    session = Session()
    session.issuing_step = step
    data, _ = issuing(Snapshot("new_permit.issuing", session, (), (), (), 3, now=0.0))
    return str(data["step"])


def test_every_issuance_step_shows_a_step_of_the_screen_and_none_goes_back() -> None:
    assert _shown(None) == "feed"
    shown = [_shown(step.value) for step in SEQUENCE]
    assert set(shown) <= set(STEPS)
    positions = [STEPS.index(s) for s in shown]
    assert positions == sorted(positions), dict(zip([s.value for s in SEQUENCE], shown, strict=True))
    assert shown[0] == "feed" and shown[-1] == "present" and "print" in shown
