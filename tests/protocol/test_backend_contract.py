"""docs/backend-api.yaml against the running simulated backend, by schemathesis.

The real server runs as its own process on 127.0.0.1 with a small population. Schemathesis
generates requests from the document for every operation (valid ones, and invalid ones) and
checks each answer: no 5xx, a documented status, a body that matches the documented schema. So
the document cannot promise what the server does not do, nor the server answer what the document
does not say.

Generated values rarely hit a known terminal, permit or proof, so part of the cases are steered
onto the loaded population (`steer`): otherwise the 200 answers of most operations would never be
seen. `/sim/faults` is left out: a generated fault would make the server slow or fail on purpose.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "backend-api.yaml"
TODAY = "2026-11-22"
TERMINAL = "SH-CN-CONTRACT-01"
MAX_EXAMPLES = 15  # per operation and mode: enough to walk every branch of the document, in seconds

HOLDER = {
    "name": "合同测试", "sex": "M", "nation": "01", "birth": "1990-03-07", "id_number": "340104199003071015",
    "id_address": "安徽省合肥市瑶海区长江东路100号", "id_authority": "合肥市公安局瑶海分局",
    "id_valid_from": "2020-01-01", "id_valid_to": "长期",
}
PERMITS = ("SH20250000101", "SH20250000102")
PROOFS = ("HF-0001", "ZL-0002", "SS-0003")
POPULATION: dict[str, Any] = {
    "residents": {
        "passed": HOLDER | {
            "registration": {"address": "上海市长宁区虹桥路1号", "declared": "2026-01-10", "proof": "rental"},
            "permit": {"number": PERMITS[0], "issued": "2025-12-10", "valid_until": "2027-12-10",
                       "card_valid_until": "2026-12-10", "endorsement": "passed"},
        },
        "lapsed": HOLDER | {
            "id_number": "340104199003071031",
            "permit": {"number": PERMITS[1], "issued": "2025-09-01", "valid_until": "2026-09-01"},
        },
    },
    "proofs": [
        {"reference": PROOFS[0], "kind": "property_certificate"},
        {"reference": PROOFS[1], "kind": "rental_filing", "owner_type": "unit"},
        {"reference": PROOFS[2], "kind": "dormitory_certificate", "owner_type": "unit", "in_management_area": True},
    ],
}
ID_OF = {PERMITS[0]: HOLDER["id_number"], PERMITS[1]: "340104199003071031"}


def start_backend(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    (tmp / "population.json").write_text(json.dumps(POPULATION, ensure_ascii=False), "utf-8")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "sim.backend_server", "--db", str(tmp / "backend.db"),
            "--load", str(tmp / "population.json"), "--today", TODAY, "--policy", "shanghai",
            "--host", "127.0.0.1", "--port", "0", "--log-file", str(tmp / "backend.log"),
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout=20)
    if not ready:
        stop_backend(proc)
        raise AssertionError("backend printed no ready line")
    line = json.loads(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{line['port']}"


def stop_backend(proc: subprocess.Popen[str]) -> None:
    """By its PID, never by name."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="module")
def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    proc, url = start_backend(tmp_path_factory.mktemp("contract"))
    request.addfinalizer(lambda: stop_backend(proc))
    return url


def load_schema() -> Any:
    # Loaded at import, not through schemathesis.pytest.from_fixture: that lazy loader reads a
    # pytest-internal attribute that pytest 9 no longer has. The server's URL comes at call time.
    loaded = schemathesis.openapi.from_path(API_DOC)
    loaded.config.generation.update(
        max_examples=MAX_EXAMPLES, modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    )
    return loaded.exclude(path="/sim/faults")


schema = load_schema()


CARD = {
    "card_type": "citizen", "name": HOLDER["name"], "sex": "M", "nation": "01", "birth": HOLDER["birth"],
    "id_number": HOLDER["id_number"], "address": HOLDER["id_address"], "authority": HOLDER["id_authority"],
    "valid_from": "2020-01-01", "valid_to": None,
}
# What a card may show: behind the backend (rewrite), the backend's own (current), lapsed, not yet due.
SHOWN = ("2026-12-10", "2027-12-10", "2026-09-01", "2027-06-01")
RELATIVE = {"relationship": "parent", "name": "合同亲属", "promise_letter": True}
VALIDITIES = (("2026-12-10", "2027-12-10"), ("2025-09-01", "2026-09-01"), ("2026-11-22", "2027-11-22"))


def _png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 40), (200, 200, 200)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


PHOTO = _png()  # decodes, so apply and face-check get past the photo to their decisions


def _digest(value: Any) -> int:
    return hashlib.sha256(repr(value).encode()).digest()[0]


def steer(case: Any) -> None:
    """Point about half of the generated cases at the loaded population.

    Each replacement is valid by the document, so a valid case stays valid; the choices are
    reproducible from the generated values, so hypothesis can shrink and replay a failure.
    """
    body = case.body
    if not isinstance(body, dict) or _digest(body.get("request_id")) % 2:
        return
    seed = _digest(json.dumps(body, sort_keys=True, default=str))
    # A fresh id: generated ids repeat ("0"), and a repeated id with another body is only ever 409.
    body["request_id"] = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    body["terminal_id"] = TERMINAL
    if isinstance(body.get("card"), dict) and seed % 3:
        body["card"] = dict(CARD)
    path = case.path_parameters or {}
    chosen = PERMITS[seed % len(PERMITS)]
    if "permit_number" in path:
        path["permit_number"] = chosen
    if "permit_number" in body:
        body["permit_number"] = chosen
    if "id_number" in body:
        body["id_number"] = ID_OF[chosen]
    if "card_valid_until" in body:
        body["card_valid_until"] = SHOWN[seed % len(SHOWN)]
    if "valid_from" in body and "valid_until" in body:  # the backend's validity of either permit, or not
        body["valid_from"], body["valid_until"] = VALIDITIES[(seed // 2) % len(VALIDITIES)]
    if "photo_png" in body:
        body["photo_png"] = PHOTO
    for key in ("proof_reference", "certificate_number"):
        if key in body:
            body[key] = PROOFS[seed % len(PROOFS)]
    if "proof_kind" in body:
        relative_kind = body["proof_kind"] in ("relative_property", "relative_rental")
        if relative_kind and not isinstance(body.get("relative"), dict):
            body["relative"] = dict(RELATIVE)
        elif not relative_kind:
            body.pop("relative", None)


@schema.parametrize()
def test_the_server_keeps_the_documented_contract(case: Any, backend_url: str) -> None:
    steer(case)
    case.call_and_validate(
        base_url=backend_url, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
    )
