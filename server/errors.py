"""One error tree, rendered as ``application/problem+json`` (RFC 9457).

    AppError                      500  something we did not expect to fail this way
    ├── BadInput                  422  the request is malformed or a value is out of range
    │   └── TooLarge              413  the body is over the endpoint's cap
    ├── NotAuthenticated          401  no valid login or link token
    ├── Forbidden                 403  authenticated, but this role/assignment may not do it
    ├── NotFound                  404  no such thing (or not visible to the caller)
    ├── Conflict                  409  clashes with what is stored (duplicate, replay mismatch)
    │   └── InvalidState          409  illegal state transition; says in words what is allowed
    ├── TooManyRequests           429  throttled; carries retry_after seconds
    └── Unavailable               503  a dependency (database, object store) is down
        └── NotStored             503  the request's commit failed: nothing of it is stored

Every message has a Chinese text for the user and an English alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message_zh: str, message_en: str, **extra: Any) -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        return {
            "type": f"urn:cloudinspect:problem:{self.code}",
            "title": self.message_en,
            "status": self.status,
            "code": self.code,
            "detail": self.message_zh,
            "detail_en": self.message_en,
            **self.extra,
        }


class BadInput(AppError):
    status = 422
    code = "bad_input"


class TooLarge(BadInput):
    status = 413
    code = "too_large"


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class InvalidState(Conflict):
    """The message is in words (``server.cases.states.refusal`` builds it); the identifiers
    ride along for programs only, in ``current``, ``attempted`` and ``allowed``."""

    code = "invalid_state"

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        current: str,
        attempted: str,
        allowed: Sequence[str],
    ) -> None:
        super().__init__(
            message_zh,
            message_en,
            current=current,
            attempted=attempted,
            allowed=list(allowed),
        )


class TooManyRequests(AppError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message_zh: str, message_en: str, *, retry_after: int) -> None:
        super().__init__(message_zh, message_en, retry_after=retry_after)
        self.retry_after = retry_after


class Unavailable(AppError):
    status = 503
    code = "unavailable"


class NotStored(Unavailable):
    code = "not_stored"

    def __init__(self) -> None:
        super().__init__(
            "未能保存：本次操作没有生效，请稍后重试。",
            "Not saved: nothing of this request was stored; try again in a moment.",
        )


def not_found(what_zh: str, what_en: str) -> NotFound:
    return NotFound(f"找不到{what_zh}，请核对编号。", f"{what_en} not found; check the id.")


def _problem(error: AppError) -> JSONResponse:
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        error.to_problem(), status_code=error.status, media_type=PROBLEM_JSON, headers=headers
    )


async def _app_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _problem(exc)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e["type"]}
        for e in exc.errors()
    ]
    broken_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if broken_json is not None:
        position = broken_json["loc"][-1] if broken_json["loc"] else "?"
        return _problem(
            BadInput(
                f"请求体不是合法的 JSON（约第 {position} 个字符处），请检查格式。",
                f"The request body is not valid JSON (near character {position}).",
                errors=errors,
            )
        )
    fields = "; ".join(".".join(e["loc"][1:]) or e["loc"][0] for e in errors if e["loc"])
    return _problem(
        BadInput(
            f"请求内容有误，请检查这些字段：{fields}",
            f"The request is invalid; check these fields: {fields}",
            errors=errors,
        )
    )


def api_methods(request: Request) -> set[str]:
    """Every method some API route serves at this path (several routes may share a path)."""
    scope = dict(request.scope, method="")
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if isinstance(route.original_route, Mount) or not route.methods:
            continue
        match, _ = route.matches(scope)
        if match != Match.NONE:
            methods |= set(route.methods)
    return methods


def _wrong_method(request: Request, exc: StarletteHTTPException) -> str | None:
    """The ``Allow`` value when this is a wrong method, else None. The static client mounted at
    "/" catches what no API route takes, so an API path asked with a method it does not serve
    comes back from there as a 404 (GET) or a 405 without ``Allow``: both are a 405 here."""
    methods = api_methods(request)
    if methods and request.method not in methods:
        return ", ".join(sorted(methods))
    if exc.status_code == 405:
        return (exc.headers or {}).get("Allow", "GET, HEAD")
    return None


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status, headers = exc.status_code, dict(exc.headers or {})
    zh, en = ("请求无法处理。", str(exc.detail))
    allow = _wrong_method(request, exc) if status in (404, 405) else None
    if allow is not None:
        status, headers["Allow"] = 405, allow
        zh = f"该地址不支持 {request.method} 请求，可用的方法：{allow}。"
        en = f"{request.method} is not allowed here; allowed: {allow}."
    elif status == 404:
        zh, en = "找不到该地址。", "No such address."
    elif status == 400:
        zh = "请求内容无法读取，请以 UTF-8 编码的 JSON 发送。"
        en = "The request body cannot be read; send it as UTF-8 encoded JSON."
    code = f"http_{status}"
    body = AppError(zh, en).to_problem() | {
        "type": f"urn:cloudinspect:problem:{code}",
        "status": status,
        "code": code,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _last_resort_handler(_: Request, exc: Exception) -> JSONResponse:
    """Anything unexpected still answers problem+json; the server logs the traceback."""
    return _problem(
        AppError(
            "服务器出错，本次操作可能没有生效，请稍后重试；如再次出现请联系管理员。",
            "Server error: this request may not have taken effect; try again, and tell "
            "the administrator if it happens again.",
        )
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, _last_resort_handler)
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
