"""The scenario format: the documented shape parses; unknown or malformed keys are named."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.scenario import ScenarioError, load, parse

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "tests" / "scenarios" / "cases").glob("*.toml"))


def demo() -> dict:
    with (ROOT / "sim" / "scenarios" / "demo.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_every_shipped_scenario_parses():
    assert CASES
    for path in [*CASES, ROOT / "sim" / "scenarios" / "demo.toml"]:
        load(path)


def test_issue_example_shape():
    data = demo()
    data["residents"]["zhang"]["face"] = "zhang"
    data["residents"]["zhang"]["permit"] = {
        "number": "SH2025000123", "issued": "2025-12-10", "valid_until": "2026-12-10",
        "card_valid_until": "2026-12-10", "status": "active", "endorsement": "none",
    }
    data["faults"] = [{"device": "printer", "kind": "jam", "at": "print"}]
    data["steps"] = [{"do": "tap", "target": "cancel"}, {"do": "digits", "value": "138"},
                     {"do": "wait", "seconds": 5}, {"do": "face", "resident": "nobody"}]
    data["expect"]["available_on"] = "2026-10-01"
    s = parse(data)
    assert s.who.permit is not None and s.faults[0].at == "print"
    assert [st.do for st in s.steps] == ["tap", "digits", "wait", "face"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(colour="red"), "unknown key colour"),
        (lambda d: d["expect"].update(outcom="issued"), "unknown key expect.outcom"),
        (lambda d: d["expect"].update(outcome="printed"), "expect.outcome"),
        (lambda d: d["expect"].update(reason="NOPE"), "expect.reason"),
        (lambda d: d["residents"]["zhang"].update(sex="X"), "residents.zhang.sex"),
        (lambda d: d["residents"]["zhang"]["registration"].update(declared="2026-13-01"),
         "residents.zhang.registration.declared"),
        (lambda d: d["residents"]["zhang"]["registration"].update(proof="tent"), "residents.zhang.registration.proof"),
        (lambda d: d.update(resident="li"), "resident"),
        (lambda d: d.update(service="haircut"), "service"),
        (lambda d: d.update(policy="atlantis"), "policy"),
        (lambda d: d.update(steps=[{"do": "dance"}]), r"steps\[0\]\.do"),
        (lambda d: d.update(steps=[{"do": "tap"}]), r"steps\[0\]\.target"),
        (lambda d: d.update(faults=[{"device": "toaster", "kind": "jam"}]), r"faults\[0\]\.device"),
        (lambda d: d.pop("today"), "today"),
    ],
)
def test_malformed_scenarios_name_the_key(mutate, message: str):
    data = demo()
    mutate(data)
    with pytest.raises(ScenarioError, match=message):
        parse(data)


ISSUE_10_SHOWN = {
    "registration_valid_through": "2027-03-31", "permit_possible_on": "2026-10-01",
    "permit_valid_until": "2027-10-01", "card_valid_until": "2026-10-01", "endorsement": "passed",
    "endorsement_opens": "2026-09-01", "endorsement_closes": "2026-11-30", "points_valid": True,
    "points_valid_until": "2027-10-01", "points": 96, "offered": "card_rewrite",
}


def status_demo() -> dict:
    data = demo()
    data["service"] = "status_query"
    data["residents"]["zhang"]["permit"] = {"number": "SH2025000123", "issued": "2025-10-01",
                                            "valid_until": "2027-10-01", "card_valid_until": "2026-10-01",
                                            "points": 96}
    data["expect"] = {"outcome": "info_shown", "reason": "OK", "shown": dict(ISSUE_10_SHOWN)}
    return data


def test_issue_10_status_shape():
    s = parse(status_demo())
    assert s.who.permit is not None and s.who.permit.points == 96
    assert s.expect.shown == ISSUE_10_SHOWN


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["expect"]["shown"].update(points_valid_untill="2027-10-01"), "unknown key expect.shown.points_"),
        (lambda d: d["expect"]["shown"].update(endorsement="expired"), "expect.shown.endorsement"),
        (lambda d: d["expect"]["shown"].update(offered="haircut"), "expect.shown.offered"),
        (lambda d: d["expect"]["shown"].update(points_valid="yes"), "expect.shown.points_valid"),
        (lambda d: d["expect"]["shown"].update(points=-1), "expect.shown.points"),
        (lambda d: d["expect"]["shown"].update(card_valid_until="soon"), "expect.shown.card_valid_until"),
        (lambda d: d["residents"]["zhang"]["permit"].update(points="many"), "residents.zhang.permit.points"),
        (lambda d: d["expect"].update(next_outcome="printed"), "expect.next_outcome"),
    ],
)
def test_malformed_status_expectations_name_the_key(mutate, message: str):
    data = status_demo()
    mutate(data)
    with pytest.raises(ScenarioError, match=message):
        parse(data)


def test_a_shown_key_the_screen_did_not_show_fails():
    from sim.runner import check_expectations

    s = parse(status_demo())
    report = {"outcome": "info_shown", "reason": "OK", "available_on": None, "cards_issued": 0, "cards_retained": 0,
              "printed": [], "screens": [], "final_screen": "ready.attract", "sessions": [],
              "shown": {k: v for k, v in ISSUE_10_SHOWN.items() if k != "points"} | {"endorsement": "open"}}
    failures = check_expectations(s, report)
    assert any("show points" in f and "did not show" in f for f in failures)
    assert any("shown.endorsement" in f for f in failures)
    assert len(failures) == 2
