"""docs/backend-api.yaml as jsonschema validators: every request is checked before it is served
and every reply before it is sent.

OpenAPI 3.0 schemas become JSON Schema 2020-12 (`nullable` becomes a union with null, component
references point into `$defs`); formats (`date`) are checked.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "backend-api.yaml"


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if isinstance(out.get("$ref"), str):
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/$defs/")
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") is True else out


class ContractError(Exception):
    """A body off the document; `field` is the first bad field (dotted), `detail` what failed."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def _field(error: jsonschema.ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [p for p in error.validator_value if p not in instance]
        path += missing[:1]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        path += sorted(set(instance) - known)[:1]
    return ".".join(path) or "body"


_PARSED: dict[tuple[Path, int, int], tuple[dict[str, Any], dict[str, Any]]] = {}


def _parsed(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document and its schemas as JSON Schema, read once a process for a file as it is now
    (its size and time in the key). The test suite's fork server reads it before it forks
    (sim/zygote.py), so a backend started for each whole session does not: about 50 ms each,
    most of it PyYAML building the objects even with libyaml's parser."""
    stat = path.stat()
    key = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        # libyaml's parser when PyYAML has it: the pure-Python one takes ~0.4 s of every start.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        _PARSED[key] = (doc, {name: _json_schema(s) for name, s in doc["components"]["schemas"].items()})
    return _PARSED[key]


class Contract:
    def __init__(self, path: Path = API_DOC) -> None:
        # Shared by every Contract of the process: read, never changed.
        self.doc, self._defs = _parsed(path)
        self._ops: dict[str, dict[str, Any]] = {}
        for item in self.doc["paths"].values():
            for method, op in item.items():
                if method != "parameters":
                    self._ops[op["operationId"]] = op

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            *_, kind, name = node["$ref"].split("/")
            node = self.doc["components"][kind][name]
        return node

    @cache  # noqa: B019 - one Contract per process, kept for its lifetime
    def _validator(self, op: str, status: int | None) -> jsonschema.Draft202012Validator | None:
        spec = self._ops[op]
        if status is None:
            body = spec.get("requestBody")
            if body is None:
                return None
            schema = body["content"]["application/json"]["schema"]
        else:
            response = spec["responses"].get(str(status))
            if response is None:
                raise ContractError("status", f"{op} does not document status {status}")
            schema = self._resolve(response)["content"]["application/json"]["schema"]
        return jsonschema.Draft202012Validator(
            {"$defs": self._defs, **_json_schema(schema)},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )

    def _check(self, validator: jsonschema.Draft202012Validator | None, body: Any) -> None:
        if validator is None:
            return
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is not None:
            raise ContractError(_field(error), str(error.validator))

    def check_request(self, op: str, body: Any) -> None:
        self._check(self._validator(op, None), body)

    def check_part(self, definition: str, body: Any, where: str = "") -> None:
        """One component schema (e.g. the envelope's RequestId), with `where` prefixed to the field."""
        validator = jsonschema.Draft202012Validator({"$defs": self._defs, "$ref": f"#/$defs/{definition}"},
                                                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is not None:
            raise ContractError(".".join(filter(None, [where, _field(error).removeprefix("body")])) or "body",
                                str(error.validator))

    def check_reply(self, op: str, status: int, body: Any) -> None:
        self._check(self._validator(op, status), body)

    def operations(self) -> set[str]:
        return set(self._ops)
