"""The OpenAPI document says what a client must send and may get back, errors included.

FastAPI declares the success answer and a 422 of its own shape; our errors are problem+json
(``server.errors``). Here every operation gets the problem answers it can give, from one rule:

    any operation                    429 throttled, 503 not stored / a part is down
    with parameters or a body        422 (replacing FastAPI's own 422 shape)
    with a body                      400 (a body that cannot be read: not UTF-8, say)
    needing a caller (``security``)  401, 403
    with a path parameter            404
    a write needing a caller         409 (duplicate, illegal state transition)

A status a route declares with its own body model is kept; one it declares by description only
(``responses={401: {"description": ...}}``) is a problem answer too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from server.errors import PROBLEM_JSON

PROBLEM_REF = "#/components/schemas/Problem"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; more members name the field, id or state at fault.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "urn:cloudinspect:problem:<code>"},
        "title": {"type": "string", "description": "What went wrong, in English"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string", "description": "What went wrong, in Chinese (zh-CN)"},
        "detail_en": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
        "retry_after": {"type": "integer", "description": "429: seconds to wait"},
    },
    "required": ["type", "title", "status", "code", "detail"],
    "additionalProperties": True,
}

_DESCRIPTIONS = {
    400: "The request body cannot be read (send UTF-8 JSON)",
    401: "No valid login, link or API key",
    403: "This caller may not do this",
    404: "No such thing, or not visible to this caller",
    409: "Clashes with what is stored, or not allowed in the current state",
    422: "A value is missing, malformed or out of range; `errors` names the fields",
    429: "Too many attempts; wait `Retry-After` seconds",
    503: "Nothing was stored, or a part the service needs is down; try again",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
}

_WRITES = frozenset({"post", "put", "patch", "delete"})


def problem_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The problem answers ``operation`` can give (the rule in the module docstring)."""
    statuses = {429, 503}
    parameters = operation.get("parameters", [])
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses.add(400)
    if operation.get("security"):
        statuses |= {401, 403}
        if method in _WRITES:
            statuses.add(409)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    return sorted(statuses)


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _is_fastapi_default_422(response: dict[str, Any]) -> bool:
    content = response.get("content", {}).get("application/json", {})
    return str(content.get("schema", {}).get("$ref", "")).endswith("/HTTPValidationError")


def _declared_problems(operation: dict[str, Any]) -> set[int]:
    """Error statuses a route declared by description only (e.g. login's 401)."""
    return {
        int(status)
        for status, response in operation.get("responses", {}).items()
        if status[0] in "45" and "content" not in response
    }


def add_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Adds the Problem schema and every operation's problem answers to ``schema`` (in place)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in set(problem_statuses(method, operation)) | _declared_problems(operation):
                declared = responses.get(str(status))
                if declared is None or _is_fastapi_default_422(declared):
                    responses[str(status)] = problem_response(status)
                elif "content" not in declared:
                    responses[str(status)] = problem_response(status) | declared
    schemas = schema["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """``app.openapi()`` answers the document with the problem answers added (built once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        if "Problem" not in schema.get("components", {}).get("schemas", {}):
            add_problems(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
