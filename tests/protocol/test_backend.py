"""kiosk.backend against the real simulated backend: its own process, HTTP on 127.0.0.1, SQLite.

Covers the record refusals of RULES.md (SH-REG-7, SH-PMT-3, SH-PMT-7), the new permit's validity,
the face stand-in, issuance confirm/void, idempotent replays, every injectable fault, an
unreachable backend, SH-PRIV-1 in the logs, and that every reply matches docs/backend-api.yaml.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from kiosk.backend import (
    Approval,
    BackendClient,
    BackendFailure,
    Confirmed,
    FaceCheck,
    FailureKind,
    PermitGrant,
    Precheck,
    Voided,
)
from kiosk.identity import CardType, Identity, Sex
from kiosk.idnumber import check_digit
from kiosk.policy import Refusal
from kiosk.reasons import Reason
from sim import faces

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "backend-api.yaml"
TODAY = date(2026, 11, 22)
TERMINAL = "SH-CN-TEST-01"
LISTED_TERMINAL = "MALL-7"  # accepted only because the server is started with --terminals


# --- synthetic residents ----------------------------------------------------------------------


def make_id(birth: date, seq: int, region: str = "340104") -> str:
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    return first17 + check_digit(first17)


def person(
    name: str, seq: int, *, declared: str | None = "2026-01-10", overrides: dict[str, str] | None = None,
    permit: dict[str, str] | None = None, birth: date = date(1990, 3, 7),
) -> dict[str, Any]:
    """A resident whose card is valid; odd seq means male (GB 11643)."""
    spec: dict[str, Any] = {
        "name": name, "sex": "M" if seq % 2 else "F", "nation": "01", "birth": birth.isoformat(),
        "id_number": make_id(birth, seq), "id_address": "安徽省合肥市瑶海区长江东路100号",
        "id_authority": "合肥市公安局瑶海分局", "id_valid_from": "2020-01-01", "id_valid_to": "长期",
        "card_type": "citizen", "phone": "13800138000",
    }
    if declared is not None:
        spec["registration"] = {
            "address": f"上海市长宁区虹桥路{seq}号", "declared": declared, "proof": "rental",
            "lives_there": True,
            **(overrides or {}),
        }
    if permit is not None:
        spec["permit"] = permit
    return spec


ELIGIBLE = ("zhang", "wu", "zheng", "feng", "he", "qian", "yang", "jiang", "han", "lin")
RESIDENTS: dict[str, dict[str, Any]] = {
    # SH-REG-7: declared exactly six months ago is eligible today
    "zhang": person("张伟", 101, declared="2026-05-22"),
    **{key: person(f"居民{key}", 111 + 2 * i) for i, key in enumerate(ELIGIBLE[1:])},
    "wang": person("王芳", 202, declared=None),
    "li": person("李强", 203, declared="2025-11-22"),  # one year ago today: expired
    "zhao": person("赵敏", 204, declared="2026-05-23"),  # six months tomorrow
    "chen": person("陈静", 206, overrides={"name": "陈晶"}),
    "liu": person("刘洋", 207, permit={
        "number": "SH20260000500", "issued": "2026-02-01", "valid_until": "2027-02-01", "status": "active",
    }),
    "sun": person("孙丽", 208, permit={
        "number": "SH20250000007", "issued": "2025-03-01", "valid_until": "2026-03-01", "status": "cancelled",
    }),
    "zhou": person("周杰", 209, declared="2025-10-01", overrides={"name": "周洁"}, permit={
        "number": "SH20250000009", "issued": "2025-04-01", "valid_until": "2026-04-01",
    }),
}


def card_of(spec: dict[str, Any], **changes: Any) -> Identity:
    card = Identity(
        card_type=CardType(spec["card_type"]), name=spec["name"], sex=Sex(spec["sex"]), nation=spec["nation"],
        birth=date.fromisoformat(spec["birth"]), address=spec["id_address"], id_number=spec["id_number"],
        authority=spec["id_authority"], valid_from=date.fromisoformat(spec["id_valid_from"]),
        valid_to=None if spec["id_valid_to"] == "长期" else date.fromisoformat(spec["id_valid_to"]),
    )
    return replace(card, **changes)


def card(key: str, **changes: Any) -> Identity:
    return card_of(RESIDENTS[key], **changes)


@cache
def photo(face_key: str) -> bytes:
    """What the kiosk's camera sends: a frame showing this face."""
    buf = io.BytesIO()
    faces.scene("face", face_key).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def address_of(key: str) -> str:
    return RESIDENTS[key]["registration"]["address"]


def rid() -> str:
    return uuid.uuid4().hex


# --- the server process -----------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    proc: subprocess.Popen[str] = field(repr=False)
    log: Path


def stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return proc.returncode


def launch(
    request: pytest.FixtureRequest, tmp: Path, residents: dict[str, Any], *, today: date = TODAY,
    policy: str = "shanghai", faults: list[dict[str, Any]] | None = None,
) -> Server:
    (tmp / "residents.json").write_text(json.dumps({"residents": residents}, ensure_ascii=False), "utf-8")
    args = [
        sys.executable, "-m", "sim.backend_server", "--db", str(tmp / "backend.db"),
        "--load", str(tmp / "residents.json"), "--today", today.isoformat(), "--policy", policy,
        "--host", "127.0.0.1", "--port", "0", "--terminals", LISTED_TERMINAL,
        "--log-file", str(tmp / "backend.log"),
    ]
    if faults is not None:
        (tmp / "faults.json").write_text(json.dumps(faults), "utf-8")
        args += ["--faults", str(tmp / "faults.json")]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    request.addfinalizer(lambda: stop(proc))  # registered before anything below can fail
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=20), "backend printed no ready line"
    ready = json.loads(proc.stdout.readline())
    assert ready["pid"] == proc.pid
    return Server(f"http://127.0.0.1:{ready['port']}", ready["pid"], proc, tmp / "backend.log")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return launch(request, tmp_path_factory.mktemp("backend"), RESIDENTS)


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that counts attempts and keeps every exchange for the contract check.

    The pooled transport underneath is shared by the module: building one costs 40-120 ms.
    """

    def __init__(self, inner: httpx.HTTPTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[str, str, bytes, int, bytes]] = []

    @property
    def attempts(self) -> int:
        return len(self.exchanges)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
            response.read()
        except httpx.TransportError:
            self.exchanges.append((request.method, request.url.path, request.content, 0, b""))
            raise
        self.exchanges.append((request.method, request.url.path, request.content, response.status_code,
                               response.content))
        return response

    def close(self) -> None:
        pass  # the shared transport is closed by its fixture


@pytest.fixture(scope="module")
def wire() -> Iterator[httpx.HTTPTransport]:
    transport = httpx.HTTPTransport()
    yield transport
    transport.close()


@pytest.fixture
def recorder(wire: httpx.HTTPTransport) -> Recorder:
    return Recorder(wire)


@pytest.fixture(scope="module")
def sim(server: Server, wire: httpx.HTTPTransport) -> Iterator[httpx.Client]:
    """The simulator-only endpoints."""
    with httpx.Client(base_url=server.url, transport=Recorder(wire)) as c:
        yield c


@pytest.fixture
def client(server: Server, recorder: Recorder) -> Iterator[BackendClient]:
    c = BackendClient(server.url, TERMINAL, connect_timeout=1.0, read_timeout=2.0, transport=recorder,
                      backoff_s=0.01)
    yield c
    c.close()


@pytest.fixture
def inject(sim: httpx.Client) -> Iterator[Callable[..., None]]:
    def add(**fault: Any) -> None:
        sim.post("/sim/faults", json=fault).raise_for_status()

    yield add
    sim.delete("/sim/faults").raise_for_status()  # no fault outlives its test


@pytest.fixture
def records(sim: httpx.Client) -> Callable[[], dict[str, list[dict[str, Any]]]]:
    return lambda: sim.get("/sim/records").json()


# --- precheck ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("zhang", []),
        ("wang", [Refusal(Reason.NO_REGISTRATION)]),
        ("li", [Refusal(Reason.REG_EXPIRED)]),  # SH-REG-7
        ("zhao", [Refusal(Reason.REG_TOO_RECENT, date(2026, 11, 23))]),  # SH-REG-7, SH-PMT-3
        ("chen", [Refusal(Reason.INFO_MISMATCH)]),  # SH-PMT-3
        ("liu", [Refusal(Reason.PERMIT_EXISTS)]),  # SH-PMT-3
        ("sun", [Refusal(Reason.PERMIT_CANCELLED)]),  # SH-PMT-7
        ("zhou", [Refusal(Reason.REG_EXPIRED), Refusal(Reason.INFO_MISMATCH), Refusal(Reason.PERMIT_EXISTS)]),
    ],
)
def test_precheck_lists_every_failing_record_check_in_order(
    client: BackendClient, key: str, expected: list[Refusal]
) -> None:
    result = client.precheck(rid(), card(key))
    registration = RESIDENTS[key].get("registration")
    assert result == Precheck(tuple(expected), registration["address"] if registration else None)


def test_precheck_of_an_unknown_person_is_no_registration(client: BackendClient) -> None:
    stranger = card("zhang", id_number=make_id(date(1985, 1, 1), 901), birth=date(1985, 1, 1))
    assert client.precheck(rid(), stranger) == Precheck((Refusal(Reason.NO_REGISTRATION),), None)


def test_precheck_repr_hides_the_address(client: BackendClient) -> None:
    result = client.precheck(rid(), card("zhang"))
    assert isinstance(result, Precheck) and result.registered_address
    assert result.registered_address not in repr(result)


# --- face -------------------------------------------------------------------------------------


def test_face_check_matches_only_the_holder(client: BackendClient) -> None:
    assert client.face_check(rid(), card("zhang"), photo("zhang")) == FaceCheck(True)
    assert client.face_check(rid(), card("zhang"), photo("someone else")) == FaceCheck(False)
    stranger = card("zhang", id_number=make_id(date(1985, 1, 1), 903), birth=date(1985, 1, 1))
    assert client.face_check(rid(), stranger, photo("zhang")) == FaceCheck(False)


# --- applications -----------------------------------------------------------------------------


def test_application_approved_for_one_year_and_confirmed(
    client: BackendClient, records: Callable[[], dict[str, Any]]
) -> None:
    result = client.apply(rid(), card("wu"), True, "13912345678", photo("wu"))
    assert isinstance(result, Approval)
    grant = result.permit
    assert re.fullmatch(r"SH2026\d{7}", grant.number)
    assert (grant.issued, grant.valid_from, grant.valid_until) == (TODAY, TODAY, date(2027, 11, 22))
    assert grant.authority == "上海市公安局"
    assert grant.residence_address == address_of("wu")
    # The approval is a permit on record: a second application is a replacement (SH-PMT-3).
    assert client.precheck(rid(), card("wu")) == Precheck(
        (Refusal(Reason.PERMIT_EXISTS),), address_of("wu")
    )
    assert client.confirm_issuance(rid(), grant.number, "CARD-0001") == Confirmed(grant.number)
    issuance = next(i for i in records()["issuances"] if i["permit_number"] == grant.number)
    assert (issuance["state"], issuance["card_serial"]) == ("issued", "CARD-0001")


@pytest.mark.parametrize(
    ("key", "changes", "lives", "face", "expected"),
    [
        ("zhao", {}, True, "zhao", Refusal(Reason.REG_TOO_RECENT, date(2026, 11, 23))),
        ("yang", {}, False, "yang", Refusal(Reason.ADDRESS_CHANGED)),
        ("zheng", {}, True, "an impostor", Refusal(Reason.FACE_MISMATCH)),
        # the backend re-runs the ID card checks itself
        ("zhang", {"valid_to": date(2026, 11, 21)}, True, "zhang", Refusal(Reason.ID_CARD_EXPIRED)),
        ("zhang", {"address": "上海市黄浦区人民路1号"}, True, "zhang", Refusal(Reason.LOCAL_HUKOU)),
    ],
)
def test_application_refused_with_the_first_failing_check(
    client: BackendClient, records: Callable[[], dict[str, Any]],
    key: str, changes: dict[str, Any], lives: bool, face: str, expected: Refusal,
) -> None:
    request_id = rid()
    assert client.apply(request_id, card(key, **changes), lives, "13912345678", photo(face)) == expected
    (app,) = [a for a in records()["applications"] if a["request_id"] == request_id]
    assert (app["approved"], app["reason"], app["permit_number"]) == (False, expected.reason.value, None)


def test_void_withdraws_the_approval_so_the_resident_may_apply_again(client: BackendClient) -> None:
    first = client.apply(rid(), card("feng"), True, "13912345678", photo("feng"))
    assert isinstance(first, Approval)
    number = first.permit.number
    assert client.void_issuance(rid(), number, Reason.DEVICE_FAULT) == Voided(number)
    refused = client.confirm_issuance(rid(), first.permit.number, None)
    assert refused == BackendFailure(FailureKind.REFUSED_REQUEST, status=409, error="ISSUANCE_STATE")
    assert client.precheck(rid(), card("feng")) == Precheck((), address_of("feng"))
    second = client.apply(rid(), card("feng"), True, "13912345678", photo("feng"))
    assert isinstance(second, Approval)
    assert second.permit.number != first.permit.number


def test_unknown_permit_is_refused(client: BackendClient) -> None:
    assert client.confirm_issuance(rid(), "SH20269999999", "X") == BackendFailure(
        FailureKind.REFUSED_REQUEST, status=404, error="UNKNOWN_PERMIT"
    )


# --- idempotency ------------------------------------------------------------------------------


def test_replay_returns_the_first_answer_and_a_changed_body_is_409(
    client: BackendClient, records: Callable[[], dict[str, Any]]
) -> None:
    request_id = rid()
    first = client.apply(request_id, card("he"), True, "13912345678", photo("he"))
    assert isinstance(first, Approval)
    assert client.apply(request_id, card("he"), True, "13912345678", photo("he")) == first
    assert [a["request_id"] for a in records()["applications"]].count(request_id) == 1
    changed = client.apply(request_id, card("he"), True, "13700000000", photo("he"))
    assert changed == BackendFailure(FailureKind.REFUSED_REQUEST, status=409, error="REQUEST_ID_REUSED")
    confirm_id = rid()
    assert client.confirm_issuance(confirm_id, first.permit.number, "C-1") == Confirmed(first.permit.number)
    assert client.confirm_issuance(confirm_id, first.permit.number, "C-1") == Confirmed(first.permit.number)
    assert client.confirm_issuance(confirm_id, first.permit.number, "C-2").kind is FailureKind.REFUSED_REQUEST


# --- faults -----------------------------------------------------------------------------------


def test_a_500_is_retried_with_the_same_request(
    client: BackendClient, recorder: Recorder, inject: Callable[..., None]
) -> None:
    inject(op="precheck", kind="error_500", count=1)
    assert client.precheck(rid(), card("zhang")) == Precheck((), address_of("zhang"))
    assert [status for *_, status, _ in recorder.exchanges] == [500, 200]
    assert recorder.exchanges[0][2] == recorder.exchanges[1][2]  # byte-identical retry, same request id


def test_persistent_500s_end_as_server_error_after_bounded_retries(
    client: BackendClient, recorder: Recorder, inject: Callable[..., None]
) -> None:
    inject(op="*", kind="error_500")
    assert client.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.SERVER_ERROR, status=500)
    assert recorder.attempts == 3
    assert client.health() is False


def test_a_reply_slower_than_the_read_timeout_is_a_timeout(
    server: Server, recorder: Recorder, inject: Callable[..., None]
) -> None:
    inject(op="precheck", kind="slow", delay_s=1.5, count=1)
    with BackendClient(server.url, TERMINAL, read_timeout=0.3, transport=recorder) as c:
        assert c.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.TIMEOUT)
    assert recorder.attempts == 1  # the request may be running: not retried


def test_a_dropped_reply_is_unreachable_and_a_replay_recovers_it(
    client: BackendClient, recorder: Recorder, inject: Callable[..., None],
    records: Callable[[], dict[str, Any]],
) -> None:
    inject(op="apply", kind="drop", count=1)
    request_id = rid()
    args = (card("qian"), True, "13912345678", photo("qian"))
    assert client.apply(request_id, *args) == BackendFailure(FailureKind.UNREACHABLE)
    assert recorder.attempts == 1
    recovered = client.apply(request_id, *args)
    assert isinstance(recovered, Approval)
    assert [a["request_id"] for a in records()["applications"]].count(request_id) == 1


def test_a_malformed_reply_is_bad_reply(client: BackendClient, inject: Callable[..., None]) -> None:
    inject(op="precheck", kind="malformed", count=1)
    assert client.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.BAD_REPLY, status=200)


def test_a_closed_port_is_unreachable(recorder: Recorder) -> None:
    with socket.socket() as reserved:  # bound, never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}"
        with BackendClient(url, TERMINAL, connect_timeout=0.5, transport=recorder, backoff_s=0.01) as c:
            assert c.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.UNREACHABLE)
            assert recorder.attempts == 3
            assert c.health() is False


@pytest.mark.parametrize(
    ("op", "reply"),
    [
        ("precheck", {"refusals": [{"reason": "NOT_A_REASON", "available_on": None}]}),
        ("precheck", {"refusals": [{"reason": "TIMEOUT", "available_on": None}], "registered_address": None}),
        ("precheck", {"refusals": "none", "registered_address": None}),
        ("precheck", []),
        ("apply", {"approved": True}),
        ("apply", {"approved": True, "permit": {"number": "SH20260000001", "issued": "2026-11-22",
                                                "valid_from": "2026-11-22", "valid_until": "soon",
                                                "authority": "x", "residence_address": "y"}}),
        ("apply", {"approved": False, "reason": "REG_TOO_RECENT", "available_on": None}),
        ("apply", {"approved": "yes"}),
        ("face_check", {"match": "true"}),
        ("confirm", {"permit_number": "SH20260000002", "state": "issued"}),
        ("void", {"permit_number": "SH20260000001", "state": "issued"}),
    ],
)
def test_a_reply_off_the_contract_is_bad_reply_not_an_exception(op: str, reply: Any) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=reply))
    with BackendClient("http://backend.test", TERMINAL, transport=transport) as c:
        calls = {
            "precheck": lambda: c.precheck(rid(), card("zhang")),
            "apply": lambda: c.apply(rid(), card("zhang"), True, "13912345678", b"png"),
            "face_check": lambda: c.face_check(rid(), card("zhang"), b"png"),
            "confirm": lambda: c.confirm_issuance(rid(), "SH20260000001", None),
            "void": lambda: c.void_issuance(rid(), "SH20260000001", Reason.DEVICE_FAULT),
        }
        assert calls[op]() == BackendFailure(FailureKind.BAD_REPLY, status=200)


def test_only_known_terminals_are_served(server: Server, recorder: Recorder) -> None:
    with BackendClient(server.url, "XX-ROGUE-1", transport=recorder) as rogue:
        assert rogue.precheck(rid(), card("zhang")) == BackendFailure(
            FailureKind.REFUSED_REQUEST, status=403, error="UNKNOWN_TERMINAL"
        )
    with BackendClient(server.url, LISTED_TERMINAL, transport=recorder) as listed:
        assert isinstance(listed.precheck(rid(), card("zhang")), Precheck)


# --- SH-PRIV-1 --------------------------------------------------------------------------------


def test_no_personal_data_in_either_log(
    client: BackendClient, server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    spec = RESIDENTS["lin"]
    with caplog.at_level(logging.DEBUG, logger="kiosk.backend"):
        assert isinstance(client.precheck(rid(), card("lin")), Precheck)
        refused = client.apply(rid(), card("lin"), False, "13955556666", photo("lin"))
        assert refused == Refusal(Reason.ADDRESS_CHANGED)
    server_log = server.log.read_text("utf-8")
    assert f"id={spec['id_number'][:4]}" in server_log  # the masked form is there, so the log is live
    for text in (server_log, caplog.text):
        assert "op=apply" in text
        for secret in (spec["name"], spec["id_number"], spec["id_address"], spec["registration"]["address"],
                       "13955556666"):
            assert secret not in text


# --- a second server: start-time faults, Beijing, a leap day, clean exit ---------------------


def test_start_faults_beijing_pack_and_clean_exit(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    residents = {"ma": person("马丽", 301, declared="2027-06-01")}
    srv = launch(request, tmp_path, residents, today=date(2028, 2, 29), policy="beijing",
                 faults=[{"op": "health", "kind": "error_500"}])
    with BackendClient(srv.url, "BJ-DX-01") as c:
        assert c.health() is False
        result = c.apply(rid(), card_of(residents["ma"]), True, "13912345678", photo("ma"))
    assert isinstance(result, Approval)
    assert re.fullmatch(r"BJ2028\d{7}", result.permit.number)
    assert (result.permit.valid_from, result.permit.valid_until) == (date(2028, 2, 29), date(2029, 2, 28))
    assert result.permit.authority == "北京市公安局"
    assert stop(srv.proc) == 0


# --- the document cannot drift from the code ---------------------------------------------------


def _jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema 2020-12: `nullable` and component references."""
    if isinstance(node, list):
        return [_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if k != "nullable"}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


class Contract:
    def __init__(self, path: Path) -> None:
        self.doc = yaml.safe_load(path.read_text("utf-8"))
        self.defs = {name: _jsonschema(s) for name, s in self.doc["components"]["schemas"].items()}
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"), item)
            for template, item in self.doc["paths"].items()
        ]

    def operations(self) -> set[str]:
        return {op["operationId"] for _, item in self.paths for m, op in item.items() if m != "parameters"}

    def operation(self, method: str, path: str) -> dict[str, Any]:
        for pattern, item in self.paths:
            if pattern.match(path) and method.lower() in item:
                return item[method.lower()]
        raise AssertionError(f"{method} {path} is not in {API_DOC.name}")

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            *_, kind, name = node["$ref"].split("/")
            node = self.doc["components"][kind][name]
        return node

    def check(self, schema: dict[str, Any], instance: Any) -> None:
        validator = jsonschema.Draft202012Validator(
            {"$defs": self.defs, **_jsonschema(schema)},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        validator.validate(instance)

    def check_exchange(self, method: str, path: str, request: bytes, status: int, reply: bytes) -> str:
        op = self.operation(method, path)
        responses = op["responses"]
        assert str(status) in responses, f"{op['operationId']}: status {status} is not documented"
        self.check(self._resolve(responses[str(status)])["content"]["application/json"]["schema"],
                   json.loads(reply))
        if request and status != 400:  # a 400 was provoked with a deliberately bad request
            self.check(op["requestBody"]["content"]["application/json"]["schema"], json.loads(request))
        return op["operationId"]


def test_every_reply_and_request_matches_the_openapi_document(
    server: Server, recorder: Recorder, inject: Callable[..., None]
) -> None:
    contract = Contract(API_DOC)
    with BackendClient(server.url, TERMINAL, transport=recorder, backoff_s=0.01) as c:
        assert c.health()
        for key in ("zhang", "zhao", "wang", "zhou"):
            assert isinstance(c.precheck(rid(), card(key)), Precheck)
        assert isinstance(c.face_check(rid(), card("zhang"), photo("zhang")), FaceCheck)
        assert isinstance(c.apply(rid(), card("zhao"), True, "13912345678", photo("zhao")), Refusal)
        kept = c.apply(rid(), card("jiang"), True, "13912345678", photo("jiang"))
        dropped = c.apply(rid(), card("han"), True, "13912345678", photo("han"))
        assert isinstance(kept, Approval) and isinstance(dropped, Approval)
        assert isinstance(kept.permit, PermitGrant)
        assert c.confirm_issuance(rid(), kept.permit.number, "SER-1") == Confirmed(kept.permit.number)
        assert c.void_issuance(rid(), kept.permit.number, Reason.TIMEOUT).kind is FailureKind.REFUSED_REQUEST
        voided = dropped.permit.number
        assert c.void_issuance(rid(), voided, Reason.USER_CANCELLED) == Voided(voided)
        assert c.confirm_issuance(rid(), "SH20260000000", None).kind is FailureKind.REFUSED_REQUEST
        reused = rid()
        c.face_check(reused, card("zhang"), photo("zhang"))
        assert c.face_check(reused, card("wu"), photo("zhang")).kind is FailureKind.REFUSED_REQUEST
        inject(op="face_check", kind="error_500", count=3)
        assert c.face_check(rid(), card("zhang"), photo("zhang")).kind is FailureKind.SERVER_ERROR
    with BackendClient(server.url, "XX-1", transport=recorder) as rogue:
        assert rogue.precheck(rid(), card("zhang")).kind is FailureKind.REFUSED_REQUEST
    with httpx.Client(base_url=server.url, transport=recorder) as raw:
        bad = {"request_id": rid(), "terminal_id": TERMINAL, "card": {"card_type": "citizen"}}
        assert raw.post("/v1/new-permit/precheck", json=bad).status_code == 400
        slow_once = {"op": "apply", "kind": "slow", "delay_s": 0.1, "count": 1}
        assert raw.post("/sim/faults", json=slow_once).is_success
        assert raw.post("/sim/faults", json={"op": "nothing", "kind": "slow"}).status_code == 400
        assert raw.delete("/sim/faults").is_success
        assert raw.get("/sim/records").is_success

    exercised = {contract.check_exchange(*exchange) for exchange in recorder.exchanges}
    assert exercised == contract.operations()
    statuses = {status for *_, status, _ in recorder.exchanges}
    assert statuses == {200, 400, 403, 404, 409, 500}
