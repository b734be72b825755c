"""Check requests and responses against an official OpenAPI 3.0 spec (``tests/contracts/``).

Example:
    spec = OpenApiSpec.load(CONTRACTS / "binarylane-openapi.json", base_path="/v2")
    spec.check_request("POST", "/v2/servers/5/actions", query={}, body={"type": "power_on"})
    spec.check_response("GET", "/v2/servers", 200, body)
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import yaml

#: The official specs, committed verbatim (origin, version and licence in its README.md).
CONTRACTS = Path(__file__).resolve().parent / "contracts"

_METHODS = {"get", "post", "put", "patch", "delete"}


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema dialect -> JSON Schema: ``nullable`` becomes a ``null`` alternative."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: _openapi_to_json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "discriminator", "example", "xml", "externalDocs")
    }
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


class OpenApiSpec:
    """One spec, with operations matched by method and concrete path."""

    def __init__(self, document: dict[str, Any], base_path: str = "") -> None:
        self.document = document
        self.base_path = base_path.rstrip("/")

    @classmethod
    def load(cls, path: Path, base_path: str = "") -> OpenApiSpec:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return cls(document, base_path)

    @cached_property
    def _components(self) -> dict[str, Any]:
        return _openapi_to_json_schema(self.document.get("components", {}))

    @cached_property
    def _routes(self) -> list[tuple[re.Pattern[str], str]]:
        routes = []
        for template in self.document["paths"]:
            # '/servers/{server_id}/actions#PowerOn' documents one body type of the same path.
            bare = template.split("#", 1)[0]
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(bare))
            routes.append((re.compile(f"^{pattern}/?$"), template))
        return routes

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def operations(self, method: str, path: str) -> list[tuple[str, dict[str, Any]]]:
        """Every (template, operation) of the spec serving ``method path``."""
        local = path[len(self.base_path) :] if path.startswith(self.base_path) else path
        found = []
        for pattern, template in self._routes:
            item = self.document["paths"][template]
            if pattern.match(local) and method.lower() in item:
                found.append((template, item))
        assert found, f"{method} {path} is not an operation of the spec"
        return [(template, item[method.lower()] | {"_item": item}) for template, item in found]

    def _validate(self, schema: dict[str, Any], instance: Any) -> None:
        root = {"components": self._components, "allOf": [_openapi_to_json_schema(schema)]}
        jsonschema.Draft202012Validator(root).validate(instance)

    def check_request(self, method: str, path: str, query: dict[str, Any], body: Any = None) -> str:
        """Assert the request fits one operation; returns the matching path template."""
        failures = []
        for template, operation in self.operations(method, path):
            try:
                parameters = [
                    self._resolve(p)
                    for p in operation["_item"].get("parameters", [])
                    + operation.get("parameters", [])
                ]
                known = {p["name"] for p in parameters if p.get("in") == "query"}
                unknown = set(query) - known
                assert not unknown, f"query parameters {sorted(unknown)} not in {template}"
                if body is not None:
                    content = self._resolve(operation.get("requestBody", {})).get("content", {})
                    media = content.get("application/json") or next(iter(content.values()), {})
                    assert media, f"{template} takes no request body"
                    self._validate(media["schema"], body)
                return template
            except (AssertionError, jsonschema.ValidationError) as failure:
                failures.append(f"{template}: {failure}")
        raise AssertionError("\n".join(failures))

    def check_response(self, method: str, path: str, status: int, body: Any) -> None:
        """Assert a JSON response body fits the documented schema for its status."""
        failures = []
        for template, operation in self.operations(method, path):
            responses = operation.get("responses", {})
            response = responses.get(str(status)) or responses.get("default")
            if response is None:
                failures.append(f"{template}: status {status} is not documented")
                continue
            content = self._resolve(response).get("content", {})
            media = content.get("application/json") or next(iter(content.values()), None)
            if media is None or "schema" not in media:
                if body in (None, b"", ""):
                    return
                failures.append(f"{template}: {status} documents no body")
                continue
            try:
                self._validate(media["schema"], body)
                return
            except jsonschema.ValidationError as failure:
                failures.append(f"{template}: {failure.message} at {list(failure.path)}")
        raise AssertionError("\n".join(failures))
