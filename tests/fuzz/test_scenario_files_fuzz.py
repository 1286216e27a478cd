"""Scenario files, fuzzed: every hostile file is a ScenarioError naming the key, never a traceback (issue 15).

The inputs are every scenario file under tests/scenarios/cases with one to three edits anywhere in
its tables (a value replaced by one of another TOML type, a key dropped, an unknown key added), and
arbitrary bytes and broken TOML written to a file. The oracle: sim.scenario.load/parse returns a
Scenario or raises ScenarioError, never anything else; and an error caused by an edit names a key
on the edited path (or the file, for bytes that are not TOML or not UTF-8). `run_kiosk.py` turns a
ScenarioError into exit 2 (tests/scenarios/test_scenario_validation_exit.py shows it end to end).
"""

from __future__ import annotations

import copy
import tempfile
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sim.scenario import ScenarioError, load, parse
from tests.fuzz.common import FUZZ

CASES = sorted((Path(__file__).resolve().parents[1] / "scenarios" / "cases").glob("*.toml"))
BASES = {p.stem: tomllib.loads(p.read_text("utf-8")) for p in CASES}

toml_leaves = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), st.text(max_size=20),
    st.dates(), st.datetimes(), st.times(),
    st.sampled_from(["", "2026-02-30", "sw3:zz", "sw3:", "vanish", "nobody", "new_permit", "diagnostics", "长期",
                     "\x00", "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]),
)
toml_values = st.recursive(toml_leaves, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                              st.dictionaries(st.text(max_size=10), kids, max_size=3)),
                           max_leaves=8)


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nodes(v, (*path, i))
    return found


def _named(message: str, path: tuple[Any, ...]) -> bool:
    """The message names a key of the edited path (a table's key, or a list's index as [i])."""
    names = [str(p) for p in path if isinstance(p, str)] + [f"[{p}]" for p in path if isinstance(p, int)]
    return not path or any(n in message for n in names)


@FUZZ
@given(st.sampled_from(sorted(BASES)), st.data())
def test_edited_scenarios_parse_or_name_the_key(case: str, data: st.DataObject) -> None:
    scenario = copy.deepcopy(BASES[case])
    edited: list[tuple[Any, ...]] = []
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_nodes(scenario)[1:]))
        parent = scenario
        for step in path[:-1]:
            parent = parent[step]
        edit = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if edit == "replace":
            parent[path[-1]] = data.draw(toml_values)
        elif edit == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            key = data.draw(st.text(min_size=1, max_size=10))
            parent[key] = data.draw(toml_values)
            path = (*path[:-1], key)
        edited.append(path)
    try:
        parse(scenario, Path(f"{case}.toml"))
    except ScenarioError as exc:
        message = str(exc)
        assert message, "a ScenarioError without a message"
        # An edit can make another key wrong (`service` dropped from a diagnostics file: now
        # `technician` is unknown), so the message must name a key of an edited path or a key
        # of the file: it is never an error that leaves the author guessing where.
        keys = {str(p[-1]) for p in _nodes(scenario)[1:] if isinstance(p[-1], str) and len(str(p[-1])) > 1}
        assert any(_named(message, p) for p in edited) or any(k in message for k in keys), (message, edited)


@FUZZ
@given(st.one_of(st.binary(max_size=400),
                 st.sampled_from([p.read_bytes() for p in CASES]).flatmap(
                     lambda raw: st.tuples(st.integers(0, len(raw)), st.binary(min_size=1, max_size=8)).map(
                         lambda cut: raw[: cut[0]] + cut[1] + raw[cut[0] + len(cut[1]):]))))
def test_any_file_bytes_give_a_scenario_or_a_scenario_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.toml"
        path.write_bytes(raw)
        try:
            load(path)
        except ScenarioError as exc:
            assert str(exc)


def test_the_unmodified_cases_all_parse() -> None:
    for case, data in BASES.items():
        parse(copy.deepcopy(data), Path(f"{case}.toml"))


_ = (date, datetime, time)  # TOML's own types are among the values the strategies draw
