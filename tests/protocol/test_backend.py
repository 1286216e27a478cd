"""kiosk.backend against the real simulated backend: its own process, HTTP on 127.0.0.1, SQLite.

Covers the record refusals of RULES.md (SH-REG-7, SH-PMT-3, SH-PMT-7), the new permit's validity,
the face stand-in, issuance confirm/void, registration declaration (SH-REG-1..6), proof
verification, permit lookup, endorsement and card-face rewrite (SH-END-1..5, BJ-END-1), status and
points (SH-PTS-1), idempotent replays, every injectable fault, an unreachable backend, mutual TLS,
SH-PRIV-1 in the logs, and that every exchange matches docs/backend-api.yaml.
"""

from __future__ import annotations

import io
import json
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
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from kiosk.backend import (
    ApplicationVoided,
    Approval,
    BackendClient,
    BackendFailure,
    Confirmed,
    EndorsementCheck,
    FaceCheck,
    FailureKind,
    Party,
    PermitGrant,
    PermitRecord,
    Precheck,
    ProofDocument,
    ProofRejected,
    PropertyUse,
    Registered,
    RegistrationRefused,
    Relationship,
    Relative,
    Rewritten,
    StatusReport,
    UnknownPermit,
    VerifiedProof,
    Voided,
    card_json,
    tls_verify,
)
from kiosk.dates import Window
from kiosk.endorsement import PermitStanding, Points, PointsState, Rewrite, rewrite_decision
from kiosk.identity import CardType, Identity, Sex
from kiosk.idnumber import check_digit
from kiosk.logevents import EventLog
from kiosk.policy import Refusal, load_pack
from kiosk.reasons import Reason
from kiosk.records import EndorsementState, PermitStatus, ProofKind
from sim import faces, zygote

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


ELIGIBLE = ("zhang", "wu", "zheng", "feng", "he", "qian", "yang", "jiang", "han", "lin", "luo", "pan")
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
    # Card-face rewrite, today 2026-11-22 (Shanghai: window V-30..V, grace to V+60).
    # SH-END-4: passed on time, the card still shows V = 2026-12-10.
    "ren": person("任静", 210, permit={
        "number": "SH20250000010", "issued": "2025-12-10", "valid_until": "2027-12-10",
        "card_valid_until": "2026-12-10", "endorsement": "passed",
    }),
    # Not due: V = 2027-03-01, the window opens 2027-01-30.
    "song": person("宋佳", 212, permit={"number": "SH20260000011", "issued": "2026-03-01",
                                        "valid_until": "2027-03-01"}),
    # SH-END-2: in grace (V = 2026-10-01), the automatic endorsement did not pass.
    "tang": person("唐宁", 214, permit={"number": "SH20250000012", "issued": "2025-10-01",
                                        "valid_until": "2026-10-01", "endorsement": "not_passed"}),
    # SH-END-3: V = 2026-09-01 is 82 days ago.
    "xie": person("谢云", 216, permit={"number": "SH20250000013", "issued": "2025-09-01",
                                       "valid_until": "2026-09-01"}),
    # SH-END-5: a reported move blocks the rewrite even though an endorsement passed.
    "cao": person("曹敏", 218, permit={
        "number": "SH20250000014", "issued": "2025-12-01", "valid_until": "2027-12-01",
        "card_valid_until": "2026-12-01", "endorsement": "passed", "address_changed": True,
    }),
    # Registration: one resident on record without a registration yet, and a relative's housing.
    "xu": person("徐明", 219, declared=None),
    "gu": person("顾玲", 220, declared=None),
    # A permit holder whose registration (at the permit's address) has expired: SH-REG-7, SH-END-5.
    "yan": person("严冬", 221, declared="2025-10-01", permit={
        "number": "SH20250000015", "issued": "2025-10-20", "valid_until": "2026-10-20"}),
    # Status query, SH-PTS-1/2: points held for a permit that passed its endorsement, and for one in grace.
    "qin": person("秦岚", 222, permit={
        "number": "SH20250000016", "issued": "2025-12-10", "valid_until": "2027-12-10",
        "card_valid_until": "2026-12-10", "endorsement": "passed", "points": 96}),
    "ma": person("马骏", 223, permit={
        "number": "SH20250000017", "issued": "2025-10-01", "valid_until": "2026-10-01", "points": 40}),
}
PROOF_ADDRESS = "上海市长宁区延安西路500弄3号201室"
PROOFS: list[dict[str, Any]] = [
    {"reference": "HF-OWN-0001", "kind": "property_certificate", "address": PROOF_ADDRESS, "holder": "徐明"},
    {"reference": "HF-REL-0002", "kind": "property_certificate", "holder": "顾建国"},
    {"reference": "ZL-RENT-0003", "kind": "rental_filing", "qr_payload": "ZL|0003|长宁",
     "valid_until": "2027-06-30"},
    {"reference": "ZL-OLD-0004", "kind": "rental_filing", "valid_until": "2026-11-21"},
    {"reference": "SP-SHOP-0005", "kind": "property_certificate", "property_use": "commercial"},
    {"reference": "SS-DORM-0006", "kind": "dormitory_certificate", "owner_type": "unit", "in_management_area": True},
    {"reference": "SS-DORM-0007", "kind": "dormitory_certificate", "owner_type": "unit",
     "property_use": "factory", "in_management_area": True},
    {"reference": "HF-UNIT-0008", "kind": "property_certificate", "owner_type": "unit"},
    {"reference": "ZL-UNIT-0009", "kind": "rental_filing", "owner_type": "unit", "lessee_type": "unit"},
    {"reference": "SS-DORM-0010", "kind": "dormitory_certificate", "owner_type": "individual"},
    {"reference": "SS-DORM-0011", "kind": "dormitory_certificate", "owner_type": "unit"},
    {"reference": "ZL-UNIT-0012", "kind": "rental_filing", "owner_type": "unit"},
    {"reference": "HF-GU-0013", "kind": "property_certificate", "holder": "顾玲"},
    {"reference": "SP-SHOP-0014", "kind": "property_certificate", "property_use": "office", "holder": "他人"},
]


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
    proc: Any = field(repr=False)  # a subprocess.Popen or a zygote.ForkedProcess
    log: Path


def stop(proc: Any) -> int:
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
    policy: str = "shanghai", faults: list[dict[str, Any]] | None = None, proofs: list[dict[str, Any]] | None = None,
    extra_args: tuple[str, ...] = (),
) -> Server:
    population = {"residents": residents} | ({"proofs": proofs} if proofs is not None else {})
    (tmp / "residents.json").write_text(json.dumps(population, ensure_ascii=False), "utf-8")
    args = [
        sys.executable, "-m", "sim.backend_server", "--db", str(tmp / "backend.db"),
        "--load", str(tmp / "residents.json"), "--today", today.isoformat(), "--policy", policy,
        "--host", "127.0.0.1", "--port", "0", "--terminals", LISTED_TERMINAL,
        "--log-file", str(tmp / "backend.log"), *extra_args,
    ]
    if faults is not None:
        (tmp / "faults.json").write_text(json.dumps(faults), "utf-8")
        args += ["--faults", str(tmp / "faults.json")]
    # Forked by the fork server (tests/conftest.py): a new interpreter's imports cost about 1 s of CPU.
    request.getfixturevalue("fork_server")
    proc = zygote.popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    request.addfinalizer(lambda: stop(proc))  # registered before anything below can fail
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=20), "backend printed no ready line"
    ready = json.loads(proc.stdout.readline())
    assert ready["pid"] == proc.pid
    return Server(f"{ready['scheme']}://127.0.0.1:{ready['port']}", ready["pid"], proc, tmp / "backend.log")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Server:
    return launch(request, tmp_path_factory.mktemp("backend"), RESIDENTS, proofs=PROOFS)


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
def recorder(wire: httpx.HTTPTransport) -> Iterator[Recorder]:
    """Every exchange a test made is checked against the document when the test ends."""
    rec = Recorder(wire)
    yield rec
    for method, path, request_body, status, reply in rec.exchanges:
        if status and _is_json(reply):  # a transport error or an injected `malformed` reply is no exchange
            contract().check_exchange(method, path, request_body, status, reply)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


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
    # "li": another of sim.faces' people (keys are hashed onto 8 variants of one photograph)
    assert client.face_check(rid(), card("zhang"), photo("li")) == FaceCheck(False)
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


ENDORSED = {"number": "SH20260000001", "issued": "2025-12-10", "status": "active", "valid_from": "2026-12-10",
            "valid_until": "2027-12-10", "endorsement": "passed", "address_changed": False}
WINDOW = {"opens": "2027-11-10", "closes": "2027-12-10", "grace_ends": "2028-02-08", "position": "not_due"}


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
        ("register", {"registered": False, "reason": "NON_RESIDENTIAL_PROPERTY", "rule": None}),
        ("register", {"registered": False, "reason": "LOCAL_HUKOU", "rule": "SH-REG-1"}),
        ("register", {"registered": False, "reason": "REG_EXPIRED", "rule": "SH-REG-1"}),
        ("register", {"registered": True, "receipt": {"number": "SHR20260000001", "declared": "2026-11-22",
                                                      "eligible_on": "2026-11-22", "expires_on": "2027-11-22",
                                                      "address": "x"}}),
        ("verify_proof", {"valid": True}),
        ("verify_proof", {"valid": False, "reason": "NON_RESIDENTIAL_PROPERTY"}),
        ("lookup", {"number": "SH20260000001", "issued": "2026-01-01", "status": "suspended",
                    "valid_from": "2026-01-01", "valid_until": "2027-01-01", "endorsement": "none",
                    "address_changed": False}),
        ("endorsement", {"permit": ENDORSED, "card_valid_until": "2026-12-10", "window": WINDOW,
                         "decision": {"rewrite": False, "reason": "ENDORSEMENT_NOT_DUE", "available_on": None}}),
        ("endorsement", {"permit": ENDORSED, "card_valid_until": "2026-12-10", "window": WINDOW,
                         "decision": {"rewrite": False, "reason": "FACE_MISMATCH", "available_on": None}}),
        ("endorsement", {"permit": ENDORSED, "card_valid_until": "2027-01-01", "window": WINDOW,
                         "decision": {"rewrite": False, "reason": "CARD_FACE_CURRENT", "available_on": None}}),
        ("endorsement", {"permit": ENDORSED, "card_valid_until": "2026-12-10",
                         "window": WINDOW | {"opens": "2028-01-01"},
                         "decision": {"rewrite": False, "reason": "CARD_FACE_CURRENT", "available_on": None}}),
        ("rewrite_confirm", {"permit_number": "SH20260000001", "card_valid_from": "2026-12-10",
                             "card_valid_until": "2028-12-10"}),
        ("status", {"registration": None, "application": None, "permit": None}),
        ("status", {"registration": None, "application": None, "permit": None,
                    "points": {"state": "void", "valid_until": None, "reason": None}}),
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
            "register": lambda: c.declare_registration(rid(), card("gu"), "x", ProofKind.RENTAL, "R-1"),
            "verify_proof": lambda: c.verify_proof(rid(), certificate_number="R-1"),
            "lookup": lambda: c.lookup_permit(rid(), "SH20260000001", "1"),
            "endorsement": lambda: c.check_endorsement(rid(), "SH20260000001", "1", date(2026, 12, 10)),
            "rewrite_confirm": lambda: c.confirm_rewrite(rid(), "SH20260000001", "S",
                                                         Rewrite(date(2026, 12, 10), date(2027, 12, 10))),
            "status": lambda: c.query_status(rid(), card("gu")),
        }
        assert calls[op]() == BackendFailure(FailureKind.BAD_REPLY, status=200)


def test_only_known_terminals_are_served(server: Server, recorder: Recorder) -> None:
    with BackendClient(server.url, "XX-ROGUE-1", transport=recorder) as rogue:
        assert rogue.precheck(rid(), card("zhang")) == BackendFailure(
            FailureKind.REFUSED_REQUEST, status=403, error="UNKNOWN_TERMINAL"
        )
    with BackendClient(server.url, LISTED_TERMINAL, transport=recorder) as listed:
        assert isinstance(listed.precheck(rid(), card("zhang")), Precheck)


# --- registration declaration (SH-REG-1..7) ----------------------------------------------------

ELSEWHERE = "上海市长宁区虹桥路999号"
PARENT = Relative(Relationship.PARENT, "顾建国")


def declare(
    wire: Recorder, server: Server, key: str, address: str, kind: ProofKind, reference: str,
    relative: Relative | None = None, **card_changes: Any,
) -> dict[str, Any]:
    """A declaration over plain HTTP: this backend answers codes (LEASE_TO_UNIT, REG_CURRENT) that the
    kiosk's client of today does not know yet, so its answer is read here, not through kiosk.backend."""
    body: dict[str, Any] = {
        "request_id": rid(), "terminal_id": TERMINAL, "card": card_json(card(key, **card_changes)),
        "address": address, "proof_kind": kind.value, "proof_reference": reference,
    }
    if relative is not None:
        body["relative"] = {"relationship": relative.relationship.value, "name": relative.name,
                            "promise_letter": relative.promise_letter}
    with httpx.Client(base_url=server.url, transport=wire) as raw:
        reply = raw.post("/v1/registrations", json=body)
    assert reply.status_code == 200
    answer: dict[str, Any] = reply.json()
    return answer


@pytest.mark.parametrize(
    ("kind", "reference", "relative", "address", "expected"),
    [
        (ProofKind.RENTAL, "NO-SUCH-0000", None, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),
        (ProofKind.RENTAL, "HF-OWN-0001", None, PROOF_ADDRESS, (Reason.PROOF_INVALID, "SH-REG-1")),  # not a filing
        (ProofKind.RENTAL, "ZL-OLD-0004", None, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),  # ended yesterday
        (ProofKind.OWN_PROPERTY, "HF-OWN-0001", None, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),  # address
        (ProofKind.OWN_PROPERTY, "HF-REL-0002", None, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),  # holder
        # a relative's home must be someone else's: the declarant's own certificate is not one
        (ProofKind.RELATIVE_PROPERTY, "HF-GU-0013", PARENT, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),
        # PROOF_INVALID (another holder) comes before NON_RESIDENTIAL_PROPERTY
        (ProofKind.OWN_PROPERTY, "SP-SHOP-0014", None, ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-1")),
        (ProofKind.OWN_PROPERTY, "SP-SHOP-0005", None, ELSEWHERE, (Reason.NON_RESIDENTIAL_PROPERTY, "SH-REG-4")),
        (ProofKind.DORMITORY, "SS-DORM-0006", None, ELSEWHERE, (Reason.DORMITORY_IN_RESIDENTIAL_AREA, "SH-REG-5")),
        # a factory dormitory is refused by SH-REG-4 before SH-REG-5 is asked
        (ProofKind.DORMITORY, "SS-DORM-0007", None, ELSEWHERE, (Reason.NON_RESIDENTIAL_PROPERTY, "SH-REG-4")),
        (ProofKind.OWN_PROPERTY, "HF-UNIT-0008", None, ELSEWHERE, ("LEASE_TO_UNIT", "SH-REG-6")),
        (ProofKind.RENTAL, "ZL-UNIT-0009", None, ELSEWHERE, ("LEASE_TO_UNIT", "SH-REG-6")),
        (ProofKind.DORMITORY, "SS-DORM-0010", None, ELSEWHERE, ("LEASE_TO_UNIT", "SH-REG-6")),
        # LEASE_TO_UNIT comes before RELATIVE_NOT_CLOSE
        (ProofKind.RELATIVE_RENTAL, "ZL-UNIT-0009", Relative(Relationship.COUSIN, "顾建国"), ELSEWHERE,
         ("LEASE_TO_UNIT", "SH-REG-6")),
        (ProofKind.RELATIVE_PROPERTY, "HF-REL-0002", Relative(Relationship.COUSIN, "顾建国"), ELSEWHERE,
         (Reason.RELATIVE_NOT_CLOSE, "SH-REG-3")),
        (ProofKind.RELATIVE_PROPERTY, "HF-REL-0002", Relative(Relationship.PARENT_IN_LAW, "顾建国"), ELSEWHERE,
         (Reason.RELATIVE_NOT_CLOSE, "SH-REG-3")),
        (ProofKind.RELATIVE_PROPERTY, "HF-REL-0002", Relative(Relationship.PARENT, "顾建国", promise_letter=False),
         ELSEWHERE, (Reason.PROOF_INVALID, "SH-REG-2")),
    ],
)
def test_registration_refused_by_the_first_failing_sh_reg_check(
    server: Server, recorder: Recorder, records: Callable[[], dict[str, Any]], kind: ProofKind, reference: str,
    relative: Relative | None, address: str, expected: tuple[str, str],
) -> None:
    answer = declare(recorder, server, "gu", address, kind, reference, relative)
    assert answer == {"registered": False, "reason": str(expected[0]), "rule": expected[1]}
    assert all(d["resident"] != "gu" or d["proof_reference"] != reference for d in records()["declarations"])


def test_registration_record_checks_reg_current_then_address_changed(
    server: Server, recorder: Recorder, records: Callable[[], dict[str, Any]]
) -> None:
    # SH-REG-7: zhang's registration at this address (declared 2026-05-22) is still valid.
    current = declare(recorder, server, "zhang", address_of("zhang"), ProofKind.RENTAL, "ZL-RENT-0003")
    assert current == {"registered": False, "reason": "REG_CURRENT", "rule": "SH-REG-7", "registration": {
        "declared": "2026-05-22", "eligible_on": "2026-11-22", "expires_on": "2027-05-22",
        "valid_through": "2027-05-21", "expired": False, "address": address_of("zhang")}}
    # SH-END-5: liu holds a permit; a new address goes to a service centre. REG_CURRENT is first.
    moved = declare(recorder, server, "liu", ELSEWHERE, ProofKind.RENTAL, "ZL-RENT-0003")
    assert moved == {"registered": False, "reason": "ADDRESS_CHANGED", "rule": "SH-END-5"}
    assert declare(recorder, server, "liu", address_of("liu"), ProofKind.RENTAL, "ZL-RENT-0003")["reason"] == (
        "REG_CURRENT")
    # The proof's checks come before the records': a bad proof is refused as such.
    assert declare(recorder, server, "liu", ELSEWHERE, ProofKind.RENTAL, "NO-SUCH-0000")["reason"] == (
        "PROOF_INVALID")
    # A permit holder whose registration expired declares the same address again: registered.
    again = declare(recorder, server, "yan", address_of("yan"), ProofKind.RENTAL, "ZL-RENT-0003")
    assert again["registered"] is True and again["receipt"]["declared"] == TODAY.isoformat()
    assert [d["resident"] for d in records()["declarations"]].count("liu") == 0


def test_registration_checks_the_id_card_first(client: BackendClient) -> None:
    local = card("gu", address="上海市黄浦区人民路1号")
    assert client.declare_registration(rid(), local, ELSEWHERE, ProofKind.RELATIVE_PROPERTY, "HF-REL-0002",
                                       PARENT) == RegistrationRefused(Reason.LOCAL_HUKOU, None)
    # SH-REG-1 still needs the relative exactly for a relative's housing: anything else is a malformed request.
    for kind, relative in ((ProofKind.RELATIVE_PROPERTY, None), (ProofKind.RENTAL, PARENT)):
        refused = client.declare_registration(rid(), card("gu"), ELSEWHERE, kind, "ZL-RENT-0003", relative)
        assert refused == BackendFailure(FailureKind.REFUSED_REQUEST, status=400, error="MALFORMED_REQUEST")


def test_registration_declared_today_restarts_the_sh_reg_7_clock(
    client: BackendClient, records: Callable[[], dict[str, Any]]
) -> None:
    request_id = rid()
    args = (card("xu"), PROOF_ADDRESS, ProofKind.OWN_PROPERTY, "HF-OWN-0001")
    result = client.declare_registration(request_id, *args)
    assert isinstance(result, Registered)
    receipt = result.receipt
    assert re.fullmatch(r"SHR2026\d{7}", receipt.number)
    assert (receipt.declared, receipt.eligible_on, receipt.expires_on) == (TODAY, date(2027, 5, 22), date(2027, 11, 22))
    assert receipt.address == PROOF_ADDRESS and PROOF_ADDRESS not in repr(result)
    assert client.declare_registration(request_id, *args) == result  # a replay: the same receipt
    changed = client.declare_registration(request_id, card("xu"), PROOF_ADDRESS, ProofKind.RENTAL, "HF-OWN-0001")
    assert changed == BackendFailure(FailureKind.REFUSED_REQUEST, status=409, error="REQUEST_ID_REUSED")
    # The new registration is what the new-permit checks read.
    assert client.precheck(rid(), card("xu")) == Precheck(
        (Refusal(Reason.REG_TOO_RECENT, date(2027, 5, 22)),), PROOF_ADDRESS
    )
    (declaration,) = [d for d in records()["declarations"] if d["receipt"] == receipt.number]
    assert declaration == {
        "receipt": receipt.number, "request_id": request_id, "terminal_id": TERMINAL, "resident": "xu",
        "declared": TODAY.isoformat(), "proof_kind": "own_property", "proof_reference": "HF-OWN-0001",
        "relationship": None, "promise_letter": None, "purpose": None,
    }


@pytest.mark.parametrize(
    ("seq", "kind", "reference", "relative"),
    [
        (905, ProofKind.RELATIVE_PROPERTY, "HF-REL-0002", PARENT),  # SH-REG-2: the promise letter stands in
        (907, ProofKind.RENTAL, "ZL-RENT-0003", None),
        (909, ProofKind.DORMITORY, "SS-DORM-0011", None),
        (911, ProofKind.RELATIVE_RENTAL, "ZL-UNIT-0012", Relative(Relationship.MATERNAL_GRANDCHILD, "外孙")),
    ],
)
def test_registration_accepted_for_someone_not_yet_on_record(
    client: BackendClient, records: Callable[[], dict[str, Any]], seq: int, kind: ProofKind, reference: str,
    relative: Relative | None,
) -> None:
    birth = date(1992, 4, 4)
    newcomer = card("gu", id_number=make_id(birth, seq), birth=birth, sex=Sex.MALE)
    result = client.declare_registration(rid(), newcomer, ELSEWHERE, kind, reference, relative)
    assert isinstance(result, Registered)
    (declaration,) = [d for d in records()["declarations"] if d["receipt"] == result.receipt.number]
    assert declaration["resident"].startswith("declared-")
    assert declaration["relationship"] == (relative.relationship.value if relative else None)
    # SH-REG-2: the backend keeps that the relative's promise letter was given.
    assert declaration["promise_letter"] == (True if relative else None)
    status = client.query_status(rid(), newcomer)
    assert isinstance(status, StatusReport) and status.registration is not None
    assert (status.registration.declared, status.registration.address) == (TODAY, ELSEWHERE)


def test_registration_keeps_the_purpose_and_a_grandparent_without_side_is_close_sh_reg_3(
    client: BackendClient, records: Callable[[], dict[str, Any]]
) -> None:
    birth = date(1991, 3, 3)
    newcomer = card("gu", id_number=make_id(birth, 913), birth=birth, sex=Sex.MALE)
    result = client.declare_registration(rid(), newcomer, ELSEWHERE, ProofKind.RELATIVE_PROPERTY, "HF-REL-0002",
                                         Relative(Relationship.GRANDPARENT, "顾建国"), purpose="study")
    assert isinstance(result, Registered)
    (declaration,) = [d for d in records()["declarations"] if d["receipt"] == result.receipt.number]
    assert (declaration["relationship"], declaration["promise_letter"], declaration["purpose"]) == (
        "grandparent", True, "study")
    friend = client.declare_registration(rid(), newcomer, ELSEWHERE, ProofKind.RELATIVE_PROPERTY, "HF-REL-0002",
                                         Relative(Relationship.FRIEND, "顾建国"))
    assert friend == RegistrationRefused(Reason.RELATIVE_NOT_CLOSE, "SH-REG-3")


def test_reg_current_through_the_client_carries_the_registration_sh_reg_7(client: BackendClient) -> None:
    refused = client.declare_registration(rid(), card("zhang"), address_of("zhang"), ProofKind.RENTAL,
                                          "ZL-RENT-0003")
    assert isinstance(refused, RegistrationRefused) and refused.reason is Reason.REG_CURRENT
    assert refused.registration is not None and refused.registration.declared == date(2026, 5, 22)
    assert refused.registration.expires_on == date(2027, 5, 22)


# --- residence proofs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind", "reference", "expected"),
    [
        ("xu", ProofKind.OWN_PROPERTY, "HF-OWN-0001", None),
        ("xu", ProofKind.RENTAL, "HF-OWN-0001", (Reason.PROOF_INVALID, "SH-REG-1")),  # another document
        ("xu", ProofKind.RELATIVE_PROPERTY, "HF-OWN-0001", (Reason.PROOF_INVALID, "SH-REG-1")),  # own, not a relative's
        ("gu", ProofKind.RELATIVE_PROPERTY, "HF-REL-0002", None),
        ("gu", ProofKind.OWN_PROPERTY, "SP-SHOP-0005", (Reason.NON_RESIDENTIAL_PROPERTY, "SH-REG-4")),
        ("gu", ProofKind.DORMITORY, "SS-DORM-0006", (Reason.DORMITORY_IN_RESIDENTIAL_AREA, "SH-REG-5")),
        ("gu", ProofKind.DORMITORY, "SS-DORM-0011", None),
        ("gu", ProofKind.RENTAL, "ZL-UNIT-0009", (Reason.LEASE_TO_UNIT, "SH-REG-6")),
    ],
)
def test_a_proof_assessed_for_the_declarant_in_the_order_of_checks(
    client: BackendClient, key: str, kind: ProofKind, reference: str, expected: tuple[Reason, str] | None
) -> None:
    result = client.verify_proof(rid(), certificate_number=reference, card=card(key), proof_kind=kind)
    assert isinstance(result, VerifiedProof)
    assert result.assessment == (None if expected is None else RegistrationRefused(*expected))


def test_a_proof_assessment_puts_the_id_card_first(client: BackendClient) -> None:
    expired = card("gu", valid_to=date(2026, 1, 1))
    result = client.verify_proof(rid(), certificate_number="SP-SHOP-0005", card=expired,
                                 proof_kind=ProofKind.OWN_PROPERTY)
    assert isinstance(result, VerifiedProof)
    assert result.assessment == RegistrationRefused(Reason.ID_CARD_EXPIRED, None)
    with pytest.raises(ValueError):
        client.verify_proof(rid(), certificate_number="SP-SHOP-0005", card=expired)


def test_a_scanned_proof_is_verified_by_its_code(client: BackendClient) -> None:
    from sim.proofs import verification_code

    code = verification_code("HF-OWN-0001")
    assert isinstance(client.verify_proof(rid(), certificate_number="HF-OWN-0001", verification_code=code),
                      VerifiedProof)
    forged = ("A" if code[0] != "A" else "B") + code[1:]
    assert client.verify_proof(rid(), certificate_number="HF-OWN-0001", verification_code=forged) == ProofRejected()
    # Another proof's code does not open this one.
    other = verification_code("ZL-RENT-0003")
    assert client.verify_proof(rid(), certificate_number="HF-OWN-0001", verification_code=other) == ProofRejected()


def test_a_rental_filing_names_its_lessee_sh_reg_6(client: BackendClient) -> None:
    result = client.verify_proof(rid(), certificate_number="ZL-UNIT-0009")
    assert isinstance(result, VerifiedProof) and result.lessee_type is Party.UNIT



def test_a_proof_verifies_by_number_or_by_qr_code(client: BackendClient) -> None:
    own = VerifiedProof(ProofDocument.PROPERTY_CERTIFICATE, "HF-OWN-0001", PropertyUse.RESIDENTIAL, False,
                        Party.INDIVIDUAL, None, PROOF_ADDRESS)
    assert client.verify_proof(rid(), certificate_number="HF-OWN-0001") == own
    assert client.verify_proof(rid(), qr_payload="RPPROOF1:HF-OWN-0001") == own  # the default payload
    assert client.verify_proof(rid(), qr_payload="ZL|0003|长宁") == VerifiedProof(
        ProofDocument.RENTAL_FILING, "ZL-RENT-0003", PropertyUse.RESIDENTIAL, False, Party.INDIVIDUAL,
        date(2027, 6, 30), None,
    )
    assert PROOF_ADDRESS not in repr(own)


def test_an_unknown_or_ended_proof_is_proof_invalid(client: BackendClient) -> None:
    assert client.verify_proof(rid(), certificate_number="NO-SUCH-0000") == ProofRejected()
    assert client.verify_proof(rid(), qr_payload="RPPROOF1:NO-SUCH-0000") == ProofRejected()
    assert client.verify_proof(rid(), certificate_number="ZL-OLD-0004") == ProofRejected()
    with pytest.raises(ValueError):
        client.verify_proof(rid(), qr_payload="x", certificate_number="y")


# --- permits: lookup, endorsement, card-face rewrite (SH-END-1..5) ------------------------------


def permit_of(key: str) -> str:
    return RESIDENTS[key]["permit"]["number"]


def test_lookup_by_chip_data_gives_status_and_validity(client: BackendClient) -> None:
    # ren's permit was renewed by an endorsement: its current period is the last year.
    assert client.lookup_permit(rid(), permit_of("ren"), card("ren").id_number) == PermitRecord(
        permit_of("ren"), date(2025, 12, 10), PermitStanding(
            PermitStatus.ACTIVE, False, date(2026, 12, 10), date(2027, 12, 10), EndorsementState.PASSED),
    )
    assert client.lookup_permit(rid(), permit_of("sun"), card("sun").id_number) == PermitRecord(
        permit_of("sun"), date(2025, 3, 1), PermitStanding(
            PermitStatus.CANCELLED, False, date(2025, 3, 1), date(2026, 3, 1), EndorsementState.NONE),
    )
    # Another holder's ID number looks exactly like an unknown number.
    assert client.lookup_permit(rid(), permit_of("ren"), card("song").id_number) == UnknownPermit(permit_of("ren"))
    assert client.lookup_permit(rid(), "SH20249999999", card("ren").id_number) == UnknownPermit("SH20249999999")


def test_a_voided_permit_is_unknown(client: BackendClient) -> None:
    approved = client.apply(rid(), card("luo"), True, "13912345678", photo("luo"))
    assert isinstance(approved, Approval)
    number = approved.permit.number
    assert isinstance(client.lookup_permit(rid(), number, card("luo").id_number), PermitRecord)
    assert client.void_issuance(rid(), number, Reason.DEVICE_FAULT) == Voided(number)
    assert client.lookup_permit(rid(), number, card("luo").id_number) == UnknownPermit(number)


@pytest.mark.parametrize(
    ("key", "card_valid_until", "decision", "position"),
    [
        ("ren", date(2026, 12, 10), Rewrite(date(2026, 12, 10), date(2027, 12, 10)), Window.NOT_DUE),  # SH-END-4
        ("song", date(2027, 3, 1), Refusal(Reason.ENDORSEMENT_NOT_DUE, date(2027, 1, 30)), Window.NOT_DUE),
        ("tang", date(2026, 10, 1), Refusal(Reason.ENDORSEMENT_NOT_PASSED), Window.GRACE),  # SH-END-2
        ("xie", date(2026, 9, 1), Refusal(Reason.ENDORSEMENT_LAPSED), Window.LAPSED),  # SH-END-3
        ("cao", date(2026, 12, 1), Refusal(Reason.ADDRESS_CHANGED), Window.NOT_DUE),  # SH-END-5
        ("sun", date(2026, 3, 1), Refusal(Reason.PERMIT_CANCELLED), Window.LAPSED),  # SH-PMT-7
    ],
)
def test_endorsement_decides_the_card_face_rewrite_sh_end(
    client: BackendClient, key: str, card_valid_until: date, decision: Rewrite | Refusal, position: Window,
) -> None:
    check = client.check_endorsement(rid(), permit_of(key), card(key).id_number, card_valid_until)
    assert isinstance(check, EndorsementCheck)
    assert check.decision == decision
    assert check.window.position is position
    assert check.window.closes == check.permit.standing.valid_until
    # Two readings of RULES.md meet here: the emulator's (sim/backend, which imports nothing of the kiosk)
    # and the kiosk's own cross-check. test_policy_drift_at_endorsement_... shows this line can fail.
    assert rewrite_decision(check.permit.standing, card_valid_until, TODAY, load_pack("shanghai")) == decision


SWEEP = [date(2026, 6, 1) + timedelta(days=9 * i) for i in range(90)]  # 2026-06-01 .. 2028-07-31


@pytest.mark.parametrize("key", ["ren", "song", "tang", "xie", "cao", "sun", "liu"])
def test_the_kiosks_rewrite_check_agrees_with_the_backend_over_a_sweep_of_card_validities(
    client: BackendClient, key: str
) -> None:
    """Whatever the card shows, the kiosk's reading and the backend's independent one decide alike."""
    pack = load_pack("shanghai")
    disagreements = []
    for shown in SWEEP:
        check = client.check_endorsement(rid(), permit_of(key), card(key).id_number, shown)
        assert isinstance(check, EndorsementCheck)
        mine = rewrite_decision(check.permit.standing, shown, TODAY, pack)
        if mine != check.decision:
            disagreements.append((shown.isoformat(), check.decision, mine))
    assert disagreements == []


def test_policy_drift_at_endorsement_is_a_rewrite_the_kiosks_check_refuses(
    client: BackendClient, inject: Callable[..., None]
) -> None:
    pack = load_pack("shanghai")
    inject(op="endorsement", kind="policy_drift", count=2)
    # song: not due, so the rules refuse; the drifted backend rewrites as if an endorsement had passed.
    song = client.check_endorsement(rid(), permit_of("song"), card("song").id_number, date(2027, 3, 1))
    # ren: the rules rewrite to 2026-12-10..2027-12-10; the drifted backend a year further.
    ren = client.check_endorsement(rid(), permit_of("ren"), card("ren").id_number, date(2026, 12, 10))
    assert isinstance(song, EndorsementCheck) and isinstance(ren, EndorsementCheck)
    assert song.decision == Rewrite(date(2027, 3, 1), date(2028, 3, 1))
    assert ren.decision == Rewrite(date(2026, 12, 10), date(2028, 12, 10))
    for check, shown in ((song, date(2027, 3, 1)), (ren, date(2026, 12, 10))):
        assert rewrite_decision(check.permit.standing, shown, TODAY, pack) != check.decision
    # The record itself never moved: the drifted validity is refused at the confirmation.
    assert client.confirm_rewrite(rid(), permit_of("ren"), "CARD-D", ren.decision) == BackendFailure(
        FailureKind.REFUSED_REQUEST, status=409, error="VALIDITY_MISMATCH")
    # The fault is used up: the next answer is the rules' again.
    again = client.check_endorsement(rid(), permit_of("song"), card("song").id_number, date(2027, 3, 1))
    assert isinstance(again, EndorsementCheck)
    assert again.decision == Refusal(Reason.ENDORSEMENT_NOT_DUE, date(2027, 1, 30))


def test_policy_drift_at_apply_is_an_approval_valid_for_two_years(
    client: BackendClient, inject: Callable[..., None], records: Callable[[], dict[str, Any]]
) -> None:
    inject(op="apply", kind="policy_drift", count=1)
    drifted = client.apply(rid(), card("jiang"), True, "13912345678", photo("jiang"))
    assert isinstance(drifted, Approval)
    assert (drifted.permit.issued, drifted.permit.valid_from) == (TODAY, TODAY)
    assert drifted.permit.valid_until == date(2028, 11, 22)  # the rules: add_months(issued, 12) = 2027-11-22
    permit = next(p for p in records()["permits"] if p["number"] == drifted.permit.number)
    assert permit["valid_until"] == "2028-11-22"  # the backend holds what it answered
    assert client.void_issuance(rid(), drifted.permit.number, Reason.DEVICE_FAULT) == Voided(drifted.permit.number)
    fair = client.apply(rid(), card("jiang"), True, "13912345678", photo("jiang"))
    assert isinstance(fair, Approval) and fair.permit.valid_until == date(2027, 11, 22)
    assert client.void_issuance(rid(), fair.permit.number, Reason.DEVICE_FAULT) == Voided(fair.permit.number)


def test_a_lost_apply_reply_is_withdrawn_by_its_request_id(
    client: BackendClient, inject: Callable[..., None], records: Callable[[], dict[str, Any]]
) -> None:
    """Issue 15, no approval stranded: the kiosk that lost the reply knows only the request id."""
    lost = rid()
    inject(op="apply", kind="drop", count=1)
    assert isinstance(client.apply(lost, card("zheng"), True, "13912345678", photo("zheng")), BackendFailure)
    withdraw = rid()
    withdrawn = client.void_application(withdraw, lost, Reason.BACKEND_UNAVAILABLE)
    assert isinstance(withdrawn, ApplicationVoided) and withdrawn.state == "voided"
    number = withdrawn.permit_number
    assert number is not None
    assert next(i for i in records()["issuances"] if i["permit_number"] == number)["state"] == "voided"
    assert client.void_application(withdraw, lost, Reason.BACKEND_UNAVAILABLE) == withdrawn  # a replay
    # Nothing is stranded: the resident can apply again at once.
    fair_rid = rid()
    fair = client.apply(fair_rid, card("zheng"), True, "13912345678", photo("zheng"))
    assert isinstance(fair, Approval)
    # The application of a permit whose card was handed out is not withdrawn.
    assert client.confirm_issuance(rid(), fair.permit.number, "SER-W") == Confirmed(fair.permit.number)
    issued = client.void_application(rid(), fair_rid, Reason.BACKEND_UNAVAILABLE)
    assert issued == BackendFailure(FailureKind.REFUSED_REQUEST, status=409, error="ISSUANCE_STATE")


def test_an_application_withdrawn_before_it_arrives_is_refused_when_it_does(client: BackendClient) -> None:
    late = rid()
    unseen = client.void_application(rid(), late, Reason.DEVICE_FAULT)
    assert unseen == ApplicationVoided(late, "unseen", None)
    refused = client.apply(late, card("yang"), True, "13912345678", photo("yang"))
    assert refused == BackendFailure(FailureKind.REFUSED_REQUEST, status=409, error="REQUEST_VOIDED")
    refusal_rid = rid()
    assert isinstance(client.apply(refusal_rid, card("zhao"), True, "13912345678", photo("zhao")), Refusal)
    assert client.void_application(rid(), refusal_rid, Reason.DEVICE_FAULT) == ApplicationVoided(
        refusal_rid, "refused", None)


def test_an_approval_nobody_confirms_or_voids_lapses(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """With the lapse at 0 s, the approval made has lapsed by the resident's next request: it no
    longer counts as a permit (no PERMIT_EXISTS), and the backend's records say why."""
    server = launch(request, tmp_path, {"zheng": RESIDENTS["zheng"]}, extra_args=("--approval-ttl-s", "0"))
    with BackendClient(server.url, TERMINAL) as client:
        first = client.apply(rid(), card("zheng"), True, "13912345678", photo("zheng"))
        assert isinstance(first, Approval)
        second = client.apply(rid(), card("zheng"), True, "13912345678", photo("zheng"))
        assert isinstance(second, Approval) and second.permit.number != first.permit.number
        with httpx.Client(base_url=server.url) as raw:
            issuances = {i["permit_number"]: i for i in raw.get("/sim/records").json()["issuances"]}
        assert (issuances[first.permit.number]["state"], issuances[first.permit.number]["void_reason"]) == (
            "voided", "APPROVAL_EXPIRED")


def test_policy_drift_strikes_only_apply_endorsement_and_status(sim: httpx.Client) -> None:
    for op in ("precheck", "lookup", "confirm"):
        reply = sim.post("/sim/faults", json={"op": op, "kind": "policy_drift"})
        assert (reply.status_code, reply.json()) == (400, {"error": "MALFORMED_REQUEST", "field": "op"})
    assert sim.post("/sim/faults", json={"op": "*", "kind": "policy_drift", "count": 1}).is_success
    assert sim.delete("/sim/faults").json() == {"faults": []}


def test_a_confirmed_rewrite_makes_the_card_face_current(
    client: BackendClient, records: Callable[[], dict[str, Any]]
) -> None:
    number, id_number = permit_of("ren"), card("ren").id_number
    check = client.check_endorsement(rid(), number, id_number, date(2026, 12, 10))
    assert isinstance(check, EndorsementCheck) and isinstance(check.decision, Rewrite)
    assert check.decision.printed == "2026.12.10-2027.12.10"
    wrong = Rewrite(date(2026, 11, 22), date(2027, 11, 22))
    assert client.confirm_rewrite(rid(), number, "CARD-77", wrong) == BackendFailure(
        FailureKind.REFUSED_REQUEST, status=409, error="VALIDITY_MISMATCH"
    )
    done = client.confirm_rewrite(rid(), number, "CARD-77", check.decision)
    assert done == Rewritten(number, date(2026, 12, 10), date(2027, 12, 10))
    data = records()
    assert next(p for p in data["permits"] if p["number"] == number)["card_valid_until"] == "2027-12-10"
    assert {"permit_number": number, "terminal_id": TERMINAL, "card_serial": "CARD-77", "valid_from": "2026-12-10",
            "valid_until": "2027-12-10", "rewritten_on": TODAY.isoformat()} in data["rewrites"]
    again = client.check_endorsement(rid(), number, id_number, date(2027, 12, 10))
    assert isinstance(again, EndorsementCheck)
    assert again.decision == Refusal(Reason.CARD_FACE_CURRENT)
    assert client.confirm_rewrite(rid(), "SH20249999999", "CARD-77", wrong) == BackendFailure(
        FailureKind.REFUSED_REQUEST, status=404, error="UNKNOWN_PERMIT"
    )
    assert client.check_endorsement(rid(), number, card("song").id_number, date(2027, 12, 10)) == UnknownPermit(number)


# --- status and points (SH-PTS-1/2) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected", "position"),
    [
        ("song", Points(PointsState.VALID, date(2027, 3, 1)), Window.NOT_DUE),
        ("tang", Points(PointsState.SUSPENDED, date(2026, 10, 1)), Window.GRACE),  # SH-END-2
        ("xie", Points(PointsState.VOID, reason=Reason.ENDORSEMENT_LAPSED), Window.LAPSED),  # SH-PTS-1
        ("sun", Points(PointsState.VOID, reason=Reason.PERMIT_CANCELLED), Window.LAPSED),  # SH-PTS-1
    ],
)
def test_status_shows_permit_window_and_points_sh_pts_1_sh_pts_2(
    client: BackendClient, key: str, expected: Points, position: Window
) -> None:
    status = client.query_status(rid(), card(key))
    assert isinstance(status, StatusReport)
    assert status.points == expected
    assert status.permit is not None and status.permit.permit.number == permit_of(key)
    assert status.permit.window.position is position
    assert status.registration is not None
    assert (status.registration.declared, status.registration.eligible_on) == (date(2026, 1, 10), date(2026, 7, 10))
    assert status.registration.expired is False


@pytest.mark.parametrize(
    ("key", "state"),
    [("cao", "passed"), ("song", "not_due"), ("tang", "grace"), ("xie", "lapsed"), ("sun", "lapsed")],
)
def test_status_shows_the_endorsement_state_and_the_last_valid_day(
    server: Server, recorder: Recorder, key: str, state: str
) -> None:
    """RULES.md, Status shown to a resident: passed when the backend's validity is later than the card's;
    otherwise by the window of the backend's V. A registration is valid through add_months(declared, 12) - 1."""
    body = {"request_id": rid(), "terminal_id": TERMINAL, "card": card_json(card(key))}
    with httpx.Client(base_url=server.url, transport=recorder) as raw:
        reply = raw.post("/v1/status", json=body).json()
    assert reply["permit"]["endorsement_state"] == state
    assert reply["registration"]["valid_through"] == "2027-01-09"  # declared 2026-01-10


def test_status_follows_an_application_and_knows_nothing_of_strangers(client: BackendClient) -> None:
    nobody = client.query_status(rid(), card("wang"))
    assert nobody == StatusReport(None, None, None, Points(PointsState.NONE))
    approved = client.apply(rid(), card("pan"), True, "13912345678", photo("pan"))
    assert isinstance(approved, Approval)
    status = client.query_status(rid(), card("pan"))
    assert isinstance(status, StatusReport) and status.application is not None and status.permit is not None
    assert (status.application.approved, status.application.permit_number, status.application.issuance) == (
        True, approved.permit.number, "approved")
    assert status.permit.card_valid_until == date(2027, 11, 22)
    assert status.points == Points(PointsState.VALID, date(2027, 11, 22))
    zhao = client.query_status(rid(), card("zhao"))
    assert isinstance(zhao, StatusReport) and zhao.registration is not None
    assert zhao.registration.eligible_on == date(2026, 11, 23)  # SH-REG-7: the date a permit becomes possible


# --- odd requests get the contract's answers, never a 500 ------------------------------------


def test_odd_requests_are_answered_in_the_contracts_terms(server: Server) -> None:
    envelope = {"request_id": rid(), "terminal_id": TERMINAL}
    with httpx.Client(base_url=server.url) as raw:  # not recorded: most of these are off the document on purpose
        # A lone surrogate is valid JSON and invalid text: it could be neither stored nor answered.
        surrogate = b'{"request_id": "\\ud800", "terminal_id": "SH-1", "card": {}}'
        reply = raw.post("/v1/status", content=surrogate, headers={"Content-Type": "application/json"})
        assert (reply.status_code, reply.json()) == (400, {"error": "MALFORMED_REQUEST", "field": "body"})
        deep = b"[" * 100_000 + b"]" * 100_000
        assert raw.post("/v1/status", content=deep).status_code == 400
        # The endorsement arithmetic needs days around V: dates far out are refused, not overflowed.
        for shown in ("0001-01-01", "9999-12-31"):
            body = envelope | {"request_id": rid(), "id_number": "1", "card_valid_until": shown}
            reply = raw.post(f"/v1/permits/{permit_of('ren')}/endorsement", json=body)
            assert (reply.status_code, reply.json()["field"]) == (400, "card_valid_until")
        # Other methods: 405 with Allow on a documented path, 404 elsewhere; JSON either way.
        for method in ("PUT", "TRACE", "QUERY"):
            reply = raw.request(method, "/v1/status")
            assert (reply.status_code, reply.json(), reply.headers["Allow"]) == (
                405, {"error": "METHOD_NOT_ALLOWED"}, "POST")
        assert raw.head("/v1/health").status_code == 405
        assert raw.get("/v1/nowhere").json() == {"error": "NOT_FOUND"}
        assert raw.post("/v1/permits/SH1/renew", content=b"{not json").json() == {"error": "NOT_FOUND"}


# --- SH-PRIV-1 --------------------------------------------------------------------------------


def test_no_personal_data_in_either_log(server: Server, recorder: Recorder, tmp_path: Path) -> None:
    spec = RESIDENTS["lin"]
    kiosk_log = tmp_path / "kiosk.jsonl"
    events = EventLog(kiosk_log, level="debug")
    with BackendClient(server.url, TERMINAL, transport=recorder, log=events) as client:
        assert isinstance(client.precheck(rid(), card("lin")), Precheck)
        refused = client.apply(rid(), card("lin"), False, "13955556666", photo("lin"))
        assert refused == Refusal(Reason.ADDRESS_CHANGED)
        relative = Relative(Relationship.PARENT, "林某某")
        refused = client.declare_registration(rid(), card("lin"), ELSEWHERE, ProofKind.RELATIVE_PROPERTY,
                                              "HF-OWN-0001", relative)  # the proof names another address
        assert refused == RegistrationRefused(Reason.PROOF_INVALID, "SH-REG-1")
        assert isinstance(client.query_status(rid(), card("lin")), StatusReport)
        assert isinstance(client.check_endorsement(rid(), permit_of("tang"), card("tang").id_number,
                                                   date(2026, 10, 1)), EndorsementCheck)
    events.close()
    server_log = server.log.read_text("utf-8")
    assert f"id={spec['id_number'][:4]}" in server_log  # the masked form is there, so the log is live
    for op in ("apply", "register", "status", "endorsement"):
        assert f"op={op}" in server_log
    records = [json.loads(line) for line in kiosk_log.read_text("utf-8").splitlines()]
    assert {r["op"] for r in records if r["event"] == "BACKEND_ANSWERED"} >= {"apply", "register", "status",
                                                                             "endorsement"}
    for text in (server_log, kiosk_log.read_text("utf-8")):
        for secret in (spec["name"], spec["id_number"], spec["id_address"], spec["registration"]["address"],
                       "13955556666", "林某某", PROOF_ADDRESS, card("tang").id_number):
            assert secret not in text


# --- a second server: start-time faults, Beijing, a leap day, clean exit ---------------------


def test_start_faults_beijing_pack_and_clean_exit(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    residents = {
        "ma": person("马丽", 301, declared="2027-06-01"),
        # BJ-END-1: no grace, so nine days after V is already lapsed (Shanghai: not passed, within grace).
        "niu": person("牛犇", 303, permit={"number": "BJ20270000001", "issued": "2027-02-20",
                                           "valid_until": "2028-02-20", "endorsement": "not_passed"}),
        "qin": person("秦川", 305, permit={"number": "BJ20270000002", "issued": "2027-03-10",
                                           "valid_until": "2028-03-10"}),
    }
    srv = launch(request, tmp_path, residents, today=date(2028, 2, 29), policy="beijing",
                 faults=[{"op": "health", "kind": "error_500"}])
    with BackendClient(srv.url, "BJ-DX-01") as c:
        assert c.health() is False
        result = c.apply(rid(), card_of(residents["ma"]), True, "13912345678", photo("ma"))
        late = c.check_endorsement(rid(), "BJ20270000001", card_of(residents["niu"]).id_number, date(2028, 2, 20))
        due = c.check_endorsement(rid(), "BJ20270000002", card_of(residents["qin"]).id_number, date(2028, 3, 10))
        late_status = c.query_status(rid(), card_of(residents["niu"]))
    assert isinstance(result, Approval)
    assert re.fullmatch(r"BJ2028\d{7}", result.permit.number)
    assert (result.permit.valid_from, result.permit.valid_until) == (date(2028, 2, 29), date(2029, 2, 28))
    assert result.permit.authority == "北京市公安局"
    assert isinstance(late, EndorsementCheck) and isinstance(due, EndorsementCheck)
    assert late.decision == Refusal(Reason.ENDORSEMENT_LAPSED)
    assert late.window.grace_ends == late.window.closes == date(2028, 2, 20)
    assert due.decision == Refusal(Reason.ENDORSEMENT_NOT_PASSED)
    assert isinstance(late_status, StatusReport)
    assert late_status.points == Points(PointsState.VOID, reason=Reason.ENDORSEMENT_LAPSED)  # SH-PTS-1, no grace
    assert stop(srv.proc) == 0


# --- mutual TLS -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # signed by another CA
    stranger_key: Path


def make_pki(tmp: Path) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and terminal certificates, made fresh for the test."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import ip_address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        return path

    def write_cert(cert: x509.Certificate, path: Path) -> Path:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def issue(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
        | None, usage: x509.ObjectIdentifier | None, san: x509.GeneralName | None = None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(name(subject))
            .issuer_name(issuer[0].subject if issuer else name(subject))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
        if issuer is None:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                              key_encipherment=False, data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False), critical=True)
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256())

    ca_key, other_ca_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = issue("Test backend CA", ca_key, None, None)
    other_ca = issue("Another CA", other_ca_key, None, None)
    server_key, client_key, stranger_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    server = issue("127.0.0.1", server_key, (ca, ca_key), ExtendedKeyUsageOID.SERVER_AUTH,
                   x509.IPAddress(ip_address("127.0.0.1")))
    client = issue("SH-CN-TEST-01", client_key, (ca, ca_key), ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger = issue("SH-CN-ROGUE-01", stranger_key, (other_ca, other_ca_key), ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(
        ca=write_cert(ca, tmp / "ca.pem"),
        server_cert=write_cert(server, tmp / "server.pem"), server_key=write_key(server_key, tmp / "server.key"),
        client_cert=write_cert(client, tmp / "client.pem"), client_key=write_key(client_key, tmp / "client.key"),
        stranger_cert=write_cert(stranger, tmp / "stranger.pem"),
        stranger_key=write_key(stranger_key, tmp / "stranger.key"),
    )


def test_mutual_tls_serves_only_terminals_with_a_certificate_from_the_ca(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    residents = {"zhang": RESIDENTS["zhang"]}
    srv = launch(request, tmp_path, residents, extra_args=(
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--client-ca", str(pki.ca)))
    assert srv.url.startswith("https://127.0.0.1:")
    with BackendClient(srv.url, TERMINAL, verify=str(pki.ca), cert=(str(pki.client_cert), str(pki.client_key))) as c:
        assert c.health() is True
        assert c.precheck(rid(), card("zhang")) == Precheck((), address_of("zhang"))
    refused = [
        BackendClient(srv.url, TERMINAL, verify=str(pki.ca), backoff_s=0.01),  # no client certificate
        BackendClient(srv.url, TERMINAL, verify=str(pki.ca), cert=(str(pki.stranger_cert), str(pki.stranger_key)),
                      backoff_s=0.01),  # a certificate from another CA
        BackendClient(srv.url, TERMINAL, cert=(str(pki.client_cert), str(pki.client_key)),
                      backoff_s=0.01),  # the system CAs do not know this server
        BackendClient(srv.url.replace("https://", "http://"), TERMINAL, read_timeout=2.0, backoff_s=0.01),
    ]
    for client in refused:
        with client:
            assert client.health() is False
            assert client.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.UNREACHABLE)
    # A server certificate the terminal does not trust stays untrusted: one attempt, no retries.
    untrusting = Recorder(httpx.HTTPTransport(verify=tls_verify(True, (str(pki.client_cert), str(pki.client_key)))))
    with BackendClient(srv.url, TERMINAL, transport=untrusting, backoff_s=0.01) as c:
        assert c.precheck(rid(), card("zhang")) == BackendFailure(FailureKind.UNREACHABLE)
    untrusting.inner.close()
    assert untrusting.attempts == 1
    assert "zhang" not in srv.log.read_text("utf-8")
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
        self.doc = yaml.load(path.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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


@cache
def contract() -> Contract:
    return Contract(API_DOC)


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
        assert isinstance(c.void_application(rid(), rid(), Reason.BACKEND_UNAVAILABLE), ApplicationVoided)
        reused = rid()
        c.face_check(reused, card("zhang"), photo("zhang"))
        assert c.face_check(reused, card("wu"), photo("zhang")).kind is FailureKind.REFUSED_REQUEST
        inject(op="face_check", kind="error_500", count=3)
        assert c.face_check(rid(), card("zhang"), photo("zhang")).kind is FailureKind.SERVER_ERROR
        # registration, proofs, permits, status
        assert isinstance(c.declare_registration(rid(), card("gu"), ELSEWHERE, ProofKind.RELATIVE_RENTAL,
                                                 "ZL-RENT-0003", PARENT), Registered)
        assert isinstance(c.declare_registration(rid(), card("gu"), ELSEWHERE, ProofKind.DORMITORY,
                                                 "SS-DORM-0006"), RegistrationRefused)
        assert isinstance(c.declare_registration(rid(), card("gu", address="上海市黄浦区人民路1号"), ELSEWHERE,
                                                 ProofKind.RENTAL, "ZL-RENT-0003"), RegistrationRefused)
        assert isinstance(c.verify_proof(rid(), qr_payload="ZL|0003|长宁"), VerifiedProof)
        assert isinstance(c.verify_proof(rid(), certificate_number="HF-OWN-0001"), VerifiedProof)
        assert isinstance(c.verify_proof(rid(), certificate_number="ZL-OLD-0004"), ProofRejected)
        assert isinstance(c.lookup_permit(rid(), permit_of("tang"), card("tang").id_number), PermitRecord)
        assert isinstance(c.lookup_permit(rid(), permit_of("tang"), "0"), UnknownPermit)
        for key, shown in (("ren", date(2026, 12, 10)), ("song", date(2027, 3, 1)), ("xie", date(2026, 9, 1))):
            assert isinstance(c.check_endorsement(rid(), permit_of(key), card(key).id_number, shown), EndorsementCheck)
        assert isinstance(c.check_endorsement(rid(), "SH1", "0", date(2027, 3, 1)), UnknownPermit)
        assert isinstance(c.confirm_rewrite(rid(), permit_of("ren"), "C-9", Rewrite(date(2026, 12, 10),
                                                                                    date(2027, 12, 10))), Rewritten)
        mismatch = c.confirm_rewrite(rid(), permit_of("song"), "C-9", Rewrite(date(2027, 3, 1), date(2028, 3, 1)))
        assert isinstance(mismatch, BackendFailure) and mismatch.status == 409
        for key in ("wang", "tang", "sun", "jiang"):
            assert isinstance(c.query_status(rid(), card(key)), StatusReport)
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


def test_status_carries_the_points_and_the_notice_only_while_they_stand_sh_pts_1_sh_pts_2(
    client: BackendClient,
) -> None:
    passed = client.query_status(rid(), card("qin"))
    assert isinstance(passed, StatusReport) and passed.permit is not None
    assert passed.permit.endorsement_state == "passed"  # SH-END-4: the backend's validity is later than the card's
    assert (passed.points.state, passed.points.valid_until) == (PointsState.VALID, date(2027, 12, 10))
    assert (passed.points_value, passed.points_notice) == (96, "JFSH20250000016")
    grace = client.query_status(rid(), card("ma"))  # V = 2026-10-01: within the 60 days of grace
    assert isinstance(grace, StatusReport) and grace.permit is not None
    assert grace.permit.endorsement_state == "grace" and grace.points.state is PointsState.SUSPENDED
    assert (grace.points_value, grace.points_notice) == (40, None)
    assert grace.registration is not None and grace.registration.valid_through == date(2027, 1, 9)
    nobody = client.query_status(rid(), card("wang"))
    assert isinstance(nobody, StatusReport) and (nobody.points_value, nobody.points_notice) == (None, None)


def test_the_kiosks_status_reading_agrees_with_the_backend_for_everyone_on_record(client: BackendClient) -> None:
    """SH-REG-7, SH-END-1..4, SH-PTS-1: the kiosk shows what it computes; for every resident here the
    backend's own reading is the same (otherwise the status screen would show nothing)."""
    from kiosk.flows.status_query import disagreement, facts_of

    pack = load_pack("shanghai")
    for key in RESIDENTS:
        report = client.query_status(rid(), card(key))
        assert isinstance(report, StatusReport), key
        assert disagreement(facts_of(report, card(key).birth, TODAY, pack)) is None, key


def test_policy_drift_at_status_is_a_reading_the_kiosks_check_refuses(
    client: BackendClient, inject: Callable[..., None]
) -> None:
    """SH-END-4, SH-PTS-1, SH-REG-7: a backend whose status reading is off the rules is caught."""
    from kiosk.flows.status_query import disagreement, facts_of

    pack = load_pack("shanghai")
    # wang: nothing on record (no test here registers her), so nothing for a drift to bend
    for key, what in (("song", "endorsement"), ("qin", "points"), ("wang", None), ("zhao", "registration")):
        inject(op="status", kind="policy_drift", count=1)
        report = client.query_status(rid(), card(key))
        assert isinstance(report, StatusReport), key
        found = disagreement(facts_of(report, card(key).birth, TODAY, pack))
        assert (found.what if found is not None else None) == what, key
