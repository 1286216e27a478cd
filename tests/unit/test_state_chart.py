"""The transition table: the committed chart is its rendering, and every state is reachable."""

from __future__ import annotations

from kiosk.machine import SESSION_WAITING, STATES, TRANSITIONS, WAITING, state_names
from kiosk.statechart import CHART, render


def test_committed_chart_matches_the_table():
    assert CHART.read_text(encoding="utf-8") == render(), "run: python -m kiosk.statechart"


def test_every_state_is_reached_and_named_consistently():
    names = set(state_names())
    dests = {t["dest"] for t in TRANSITIONS if t["dest"]}
    for name in names - {"boot"}:
        assert name in dests, f"{name} is never entered"
    for name in list(WAITING) + list(SESSION_WAITING):
        assert name in names


def test_every_waiting_state_of_a_service_can_be_cancelled_and_timed_out():
    cancels = next(t for t in TRANSITIONS if t["trigger"] == "tap_cancel")
    idles = next(t for t in TRANSITIONS if t["trigger"] == "idle_timeout")
    assert set(cancels["source"]) == set(SESSION_WAITING) == set(idles["source"])
    assert cancels["dest"] == idles["dest"] == "goodbye"
    assert STATES
