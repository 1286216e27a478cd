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


# --- diagnostics (issue 11) -------------------------------------------------------------------

DIAGNOSTICS = """
service = "diagnostics"
technician = "t1"
today = "2026-11-22"

[technicians.t1]
card_id = "T0001"
pin = "482913"
status = "active"
valid_until = "2027-12-31"

[[steps]]
do = "insert_technician_card"

[[steps]]
do = "digits"
value = "111111"

[[steps]]
do = "wait"
seconds = 61

[expect]
diagnostics_entered = false
pin_lockout_s = 60
final_screen = "ready.attract"
audit_includes = ["pin_wrong", "locked"]

[expect.selftests]
printer = "fail"
"""


def test_the_issues_diagnostics_shape_parses():
    sc = parse(tomllib.loads(DIAGNOSTICS))
    assert sc.diagnostics and sc.technician == "t1" and sc.residents == {}
    t = sc.technicians["t1"]
    assert (t.card_id, t.pin, t.status, t.valid_until.isoformat()) == ("T0001", "482913", "active", "2027-12-31")
    assert [s.do for s in sc.steps] == ["insert_technician_card", "digits", "wait"]
    e = sc.expect
    assert (e.diagnostics_entered, e.pin_lockout_s, e.audit_includes, e.selftests) == (
        False, 60, ("pin_wrong", "locked"), {"printer": "fail"})
    assert "482913" not in repr(t)  # the PIN stays out of reprs


@pytest.mark.parametrize(("change", "message"), [
    (("technician = \"t1\"", "technician = \"t2\""), "technician: 't2'"),
    (("pin = \"482913\"", "pin = 482913"), "as a string"),
    (("pin = \"482913\"", "pin = \"48\""), "4 to 8 digits"),
    (("status = \"active\"", "status = \"lost\""), "active or revoked"),
    (("printer = \"fail\"", "printr = \"fail\""), "not a device"),
    (("printer = \"fail\"", "printer = \"broken\""), "pass or fail"),
    (("pin_lockout_s = 60", "pin_lockout = 60"), "unknown key expect.pin_lockout"),
    (("do = \"insert_technician_card\"", "do = \"insert_technician_card\"\ntechnician = \"x\""), "technicians"),
])
def test_diagnostics_mistakes_are_errors(change: tuple[str, str], message: str):
    with pytest.raises(ScenarioError, match=message):
        parse(tomllib.loads(DIAGNOSTICS.replace(*change)))
