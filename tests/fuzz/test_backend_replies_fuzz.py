"""Backend replies to the client, fuzzed through the real BackendClient (issue 15).

Every operation's 200 answer is generated from its documented schema (docs/backend-api.yaml) and
then, mostly, damaged: a value anywhere replaced by hostile JSON of another type, a key dropped, a
key added, the whole body swapped for arbitrary JSON or bytes, nested past Python's recursion
limit, or bigger than the client accepts. It reaches the client over httpx (a MockTransport
stands for the socket; real sockets, slow drips and huge bodies are test_backend_hostile_http.py)
with every status code. The oracle: each call returns its typed result or a BackendFailure, never
raises; a 200 the contract does not allow is BAD_REPLY; and an undamaged 200 of a well-formed
schema example is never taken for a server error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kiosk.backend_client import MAX_REPLY_BYTES, BackendClient
from kiosk.backend_types import BackendFailure, FailureKind
from kiosk.endorsement import Rewrite
from kiosk.identity import CardType, Identity, Sex
from kiosk.reasons import Reason
from kiosk.records import ProofKind
from tests.fuzz.common import FUZZ

# libyaml's parser when PyYAML has it: this runs in every test worker's collection (0.28 s pure Python, 0.05 s so).
API = yaml.load((Path(__file__).resolve().parents[2] / "docs" / "backend-api.yaml").read_text("utf-8"),
                Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
SCHEMAS: dict[str, Any] = API["components"]["schemas"]

CARD = Identity(CardType.CITIZEN, "测试", Sex.MALE, "01", date(1990, 3, 7), "安徽省合肥市瑶海区长江东路100号",
                "340104199003071015", "合肥市公安局瑶海分局", date(2020, 1, 1), None)
PERMIT = "SH20260000001"

# operationId -> the client call that reads its answer.
CALLS: dict[str, Callable[[BackendClient], object]] = {
    "precheck": lambda c: c.precheck("r", CARD),
    "face_check": lambda c: c.face_check("r", CARD, b"png"),
    "apply": lambda c: c.apply("r", CARD, True, "13800138000", b"png"),
    "void_application": lambda c: c.void_application("r", "a" * 32, Reason.DEVICE_FAULT),
    "confirm": lambda c: c.confirm_issuance("r", PERMIT, "0011223344556677"),
    "void": lambda c: c.void_issuance("r", PERMIT, Reason.DEVICE_FAULT),
    "register": lambda c: c.declare_registration("r", CARD, "上海市长宁区仙霞路765号", ProofKind.RENTAL, "ZL-1"),
    "verify_proof": lambda c: c.verify_proof("r", qr_payload="RPPROOF1:ZL-1"),
    "lookup": lambda c: c.lookup_permit("r", PERMIT, CARD.id_number),
    "endorsement": lambda c: c.check_endorsement("r", PERMIT, CARD.id_number, date(2026, 12, 10)),
    "rewrite_confirm": lambda c: c.confirm_rewrite("r", PERMIT, "0011223344556677",
                                                    Rewrite(date(2026, 12, 10), date(2027, 12, 10))),
    "status": lambda c: c.query_status("r", CARD),
    "health": lambda c: c.health(),
}


def _reply_schema(op_id: str) -> Any:
    for methods in API["paths"].values():
        for op in methods.values():
            if isinstance(op, dict) and op.get("operationId") == op_id:
                return op["responses"]["200"]["content"]["application/json"]["schema"]
    raise KeyError(op_id)


REPLIES = {op: _reply_schema(op) for op in CALLS}

json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                        st.text(max_size=30), st.sampled_from(["", "2026-02-30", "9999-99-99", "长期", "OK", PERMIT]))
hostile_json = st.recursive(json_leaves, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                               st.dictionaries(st.text(max_size=12), kids, max_size=4)),
                            max_leaves=12)


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value the schema allows (the subset of JSON Schema the document uses)."""
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], depth + 1))
    if "oneOf" in schema or "anyOf" in schema:
        return st.one_of([from_schema(s, depth + 1) for s in schema.get("oneOf", schema.get("anyOf"))])
    if "allOf" in schema:
        parts = [from_schema(s, depth + 1) for s in schema["allOf"]]
        return st.tuples(*parts).map(lambda ds: {k: v for d in ds if isinstance(d, dict) for k, v in d.items()})
    base = _typed(schema, depth)
    return st.one_of(st.none(), base) if schema.get("nullable") else base


def _typed(schema: Any, depth: int) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if kind == "string":
        if schema.get("format") == "date":
            return st.dates(date(1900, 1, 1), date(2199, 12, 31)).map(date.isoformat)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 24), 24))
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        return st.integers(schema.get("minimum", -1000), schema.get("maximum", 10_000))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), depth + 1), max_size=3 if depth < 4 else 0)
    props = schema.get("properties", {})
    if kind == "object" or props:
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, depth + 1) for k, v in props.items() if k not in required})
    return hostile_json


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _nodes(v, (*path, i))
    return found


def damage(data: st.DataObject, value: Any) -> Any:
    """One to three edits at nodes anywhere in the value: replace, drop, add."""
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_nodes(value)))
        edit = data.draw(st.sampled_from(["replace", "drop", "add"]))
        if not path:
            value = data.draw(hostile_json) if edit == "replace" else value
            continue
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        if edit == "replace":
            parent[path[-1]] = data.draw(hostile_json)
        elif edit == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=12))] = data.draw(hostile_json)
    return value


def call_with(op: str, status: int, body: bytes) -> object:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    with BackendClient("http://backend.test", "SH-FUZZ-01", transport=httpx.MockTransport(answer), retries=0,
                       backoff_s=0) as client:
        return CALLS[op](client)


def assert_typed(op: str, status: int, result: object) -> None:
    if op == "health":
        assert isinstance(result, bool)
        return
    if isinstance(result, BackendFailure) and status == 200:
        assert result.kind is FailureKind.BAD_REPLY, result
    assert not isinstance(result, Exception)


@FUZZ
@given(st.sampled_from(sorted(CALLS)), st.data())
def test_damaged_schema_replies_give_a_typed_result_or_bad_reply(op: str, data: st.DataObject) -> None:
    value = data.draw(from_schema(REPLIES[op]))
    if data.draw(st.booleans()):
        value = damage(data, value)
    body = json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode("utf-8")
    assert_typed(op, 200, call_with(op, 200, body))


@FUZZ
@given(st.sampled_from(sorted(CALLS)), st.sampled_from([200, 200, 201, 204, 301, 400, 404, 409, 429, 500, 503]),
       st.one_of(st.binary(max_size=300), hostile_json.map(lambda v: json.dumps(v).encode()),
                 st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
                 st.integers(1, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)))
def test_any_status_and_body_gives_a_typed_result(op: str, status: int, body: bytes) -> None:
    result = call_with(op, status, body)
    assert_typed(op, status, result)
    if op != "health" and status != 200:
        assert isinstance(result, BackendFailure) or (op in ("lookup", "endorsement") and status == 404)


def test_a_body_over_the_limit_is_a_bad_reply_not_a_memory_grab() -> None:
    body = b'{"match": true, "pad": "' + b"x" * MAX_REPLY_BYTES + b'"}'
    result = call_with("face_check", 200, body)
    assert isinstance(result, BackendFailure) and result.kind is FailureKind.BAD_REPLY


def test_a_reply_nested_past_the_recursion_limit_is_a_bad_reply() -> None:
    # Found by this fuzzer: json raised RecursionError out of the client (a crash of the worker).
    result = call_with("precheck", 200, b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(result, BackendFailure) and result.kind is FailureKind.BAD_REPLY
    assert call_with("health", 200, b"[" * 100_000 + b"]" * 100_000) is False
