"""The published OpenAPI document is one a generated client can work from: it says which
operations need the bearer token, what error bodies look like, and a 405 says what is allowed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from server.errors import PROBLEM_JSON

OPENAPI_URL = "/api/openapi.json"
PUBLIC = {  # operations anyone may call (everything else needs a bearer token)
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("post", "/api/v1/auth/login"),
    ("get", "/verify/{code}"),
    ("get", "/verify/{code}.html"),
}
WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(OPENAPI_URL)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def problem_ref(operation: dict[str, Any], status: int) -> str | None:
    content = operation["responses"].get(str(status), {}).get("content", {})
    ref: str | None = content.get(PROBLEM_JSON, {}).get("schema", {}).get("$ref")
    return ref


def test_the_bearer_scheme_is_declared(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert list(schemes) == ["bearer"]
    assert (schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == ("http", "bearer")


def test_every_protected_operation_declares_security_and_its_problems(
    spec: dict[str, Any],
) -> None:
    checked = 0
    for method, path, operation in operations(spec):
        if (method, path) in PUBLIC:
            assert "security" not in operation, (method, path)
            continue
        checked += 1
        assert operation.get("security") == [{"bearer": []}], (method, path)
        expected = {401, 403, 429} | ({409} if method in WRITES else set())
        if "{" in path:
            expected |= {404}
        if operation.get("parameters") or "requestBody" in operation:
            expected |= {422}
        if "requestBody" in operation:
            expected |= {400}
        for status in expected:
            assert problem_ref(operation, status) == "#/components/schemas/Problem", (
                method,
                path,
                status,
            )
    assert checked >= 60


def test_every_operation_declares_throttling_and_unavailability(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        assert problem_ref(operation, 429), (method, path)
        assert problem_ref(operation, 503) or "503" in operation["responses"], (method, path)
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert problem_ref(login, 401)
    assert problem_ref(login, 422)


def test_validation_errors_are_declared_in_our_problem_shape(spec: dict[str, Any]) -> None:
    """FastAPI's own 422 shape is not what we send, so it must not be in the document."""
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "code", "detail"}
    assert "HTTPValidationError" not in str(spec)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    """A generator stops at a dangling $ref (we remove FastAPI's validation schemas)."""
    schemas = spec["components"]["schemas"]
    found = refs(spec)
    assert found
    assert [r for r in found if r.removeprefix("#/components/schemas/") not in schemas] == []


async def test_a_problem_the_server_sends_matches_the_declared_shape(
    client: httpx.AsyncClient, spec: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/auth/login", json={"username": 1})
    problem = spec["components"]["schemas"]["Problem"]

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert set(problem["required"]) <= set(response.json())


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/healthz", "GET"),
        ("PUT", "/api/v1/cases", "GET, POST"),  # two routes share the path
        ("GET", "/api/v1/calendar/overrides/2026-10-01", "DELETE, PUT"),
        ("GET", "/api/v1/cases/c1/draw", "POST"),  # not the static client's 404
        ("HEAD", "/api/v1/matters", "GET"),
        ("POST", "/console/", "GET, HEAD"),  # the static client
    ],
)
async def test_a_405_says_which_methods_are_allowed(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.headers["content-type"] == PROBLEM_JSON
    if method != "HEAD":
        assert allow in response.json()["detail_en"]
