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
        (lambda d: d["expect"].update(photo_problems="no_face"), "expect.photo_problems"),  # issue 12
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
    (("printer = \"fail\"", "printer = \"fail:\""), "pass or fail"),
    (("pin_lockout_s = 60", "pin_lockout = 60"), "unknown key expect.pin_lockout"),
    (("do = \"insert_technician_card\"", "do = \"insert_technician_card\"\ntechnician = \"x\""), "technicians"),
])
def test_diagnostics_mistakes_are_errors(change: tuple[str, str], message: str):
    with pytest.raises(ScenarioError, match=message):
        parse(tomllib.loads(DIAGNOSTICS.replace(*change)))


def test_a_resident_file_turned_diagnostics_says_the_service_needs_a_technician():
    """Found by `python -m tests.fuzz --total 1000000`: a resident's scenario whose service was edited
    to "diagnostics" said only "missing key technician"; the author must see which key made it needed."""
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "scenarios" / "cases" / "aborted_cancel.toml")
                         .read_text("utf-8"))
    data["service"] = "diagnostics"
    with pytest.raises(ScenarioError, match=r'missing key technician \(service = "diagnostics"\)'):
        parse(data)


def test_a_diagnostics_file_without_its_service_says_it_was_read_as_a_new_permits():
    """Found by `python -m tests.fuzz --total 1000000`: a diagnostics scenario with its service (and
    its technician) dropped said only "missing key resident", naming nothing the author had touched."""
    data = tomllib.loads(DIAGNOSTICS)
    for key in ("service", "technician", "technicians"):
        data.pop(key, None)
    with pytest.raises(ScenarioError, match=r'missing key resident \(no service: "new_permit"\)'):
        parse(data)
    data["service"] = "card_rewrite"
    with pytest.raises(ScenarioError, match=r'missing key resident \(service = "card_rewrite"\)'):
        parse(data)


def test_a_file_that_is_not_utf8_is_malformed_not_a_crash(tmp_path):
    """Issue 15: a scenario in another encoding gives ScenarioError (exit 2), never a traceback."""

    bad = tmp_path / "gbk.toml"
    bad.write_bytes('name = "张伟"\n'.encode("gbk"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load(bad)
    with pytest.raises(ScenarioError, match="cannot be read"):
        load(tmp_path)  # a folder, not a file


def test_a_self_test_may_be_expected_to_fail_with_its_cause() -> None:
    scenario = parse(tomllib.loads(DIAGNOSTICS.replace('printer = "fail"', 'printer = "fail:jam"')))
    assert scenario.expect.selftests["printer"] == "fail:jam"


def test_the_cause_of_an_expected_failure_is_checked() -> None:
    from sim.diagnostics_report import check

    scenario = parse(tomllib.loads(DIAGNOSTICS.replace('printer = "fail"', 'printer = "fail:jam"')))
    e = scenario.expect
    report = {"diagnostics_entered": e.diagnostics_entered, "pin_lockout_s": e.pin_lockout_s,
              "audit": [f"{a}:x" for a in e.audit_includes],
              "selftests": {"printer.status": "fail"}, "selftest_messages": {"printer.status": "cover_open"}}
    assert any("cause 'jam'" in f for f in check(scenario, report))
    report["selftest_messages"] = {"printer.status": "jam"}
    assert not [f for f in check(scenario, report) if "self-test" in f]


@pytest.mark.parametrize("device, kind", [
    ("printer", "jamm"), ("id_reader", "sw3:zz"), ("permit_card", "fail:65"), ("camera", "blurry"),
    ("qr_scanner", "dead"), ("backend", "slow_down"),
])
def test_a_fault_an_emulator_does_not_know_is_malformed(device: str, kind: str):
    """Issue 15: a mistyped fault kind is refused at parse time, naming the key, never silently ignored."""
    data = demo()
    data["faults"] = [{"device": device, "kind": kind}]
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.kind"):
        parse(data)


@pytest.mark.parametrize("device, kind", [
    ("printer", "jam"), ("id_reader", "sw3:41"), ("permit_card", "fail:6581"), ("camera", "no_frame"),
    ("qr_scanner", "replug"), ("backend", "policy_drift"),
])
def test_every_fault_kind_an_emulator_knows_parses(device: str, kind: str):
    data = demo()
    data["faults"] = [{"device": device, "kind": kind}]
    assert parse(data).faults[0].kind == kind


@pytest.mark.parametrize(("step", "key"), [
    ({"do": "face"}, "resident"), ({"do": "tap"}, "target"), ({"do": "expect_screen"}, "screen"),
    ({"do": "insert_technician_card"}, "technician"), ({"do": "fault", "kind": "jam", "at": "x"}, "device"),
    ({"do": "fault", "device": "printer", "at": "x"}, "kind"),
    ({"do": "fault", "device": "printer", "kind": "jam"}, "at"),
])
def test_a_steps_text_field_that_is_not_text_is_malformed(step: dict[str, str], key: str):
    """Found by the fuzz run: `resident = []` in a step was a TypeError (unhashable) and a traceback."""
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "scenarios" / "cases" / "photo_leaving.toml")
                         .read_text("utf-8"))
    data["steps"][1] = {**step, key: []}
    with pytest.raises(ScenarioError, match=rf"steps\[1\]\.{key}: expected a string"):
        parse(data)
