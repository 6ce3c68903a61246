"""One error model for every refusal, mapped in one place.

Every error body is ``{"code": "<stable snake_case>", "detail": "<for people>"}``. Domain refusals
(`LedgerError` subclasses) carry their own code and HTTP status; request-shape problems are
`invalid_request` (422); unknown routes `not_found`; anything unexpected is a bug: 500
`internal_error`, logged with its traceback and no request data. Error texts never contain the
values a client sent (pydantic's messages name the field and the rule, not the input), so no
personal data reaches an error body or a log line.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.domain.errors import LedgerError
from ledger.signing.canonical import JsonInputError

log = logging.getLogger("timeledger.api")
DETAIL_CHARS_MAX = 500

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "not_permitted",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class ErrorOut(BaseModel):
    """错误 Error: a stable machine code and a human explanation."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "balance_would_go_negative", "detail": "余额不足: balance is 30 minutes, redemption needs 60"}]})

    code: str = Field(description="稳定的错误代码，客户端据此判断 / stable snake_case code clients match on",
                      examples=["balance_would_go_negative"])
    detail: str = Field(description="说明 / explanation for people (never contains personal data)")


class ApiError(LedgerError):
    """A refusal made by the API layer itself (idempotency, signing headers …)."""


class IdempotencyKeyReused(ApiError):
    code = "idempotency_key_reused"
    http_status = 409


class IdempotencyKeyInProgress(ApiError):
    code = "idempotency_key_in_progress"
    http_status = 409


class InvalidHeader(ApiError):
    code = "invalid_header"
    http_status = 422


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "detail": detail[:DETAIL_CHARS_MAX]}, status_code=status, headers=headers)


def _validation_detail(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:10]:
        location = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{location}: {item.get('msg', 'invalid')}")
    return "请求不符合接口定义 / " + ("; ".join(parts) or "invalid request")


def _body_parse_error(error: StarletteHTTPException) -> JSONResponse | None:
    """FastAPI answers a JSON body it cannot parse (nested past the interpreter's recursion limit,
    invalid UTF-8 …) with a bare 400 "There was an error parsing the body"; give it our code and a
    Chinese message. The cause is the exception FastAPI raised it from."""
    cause = error.__cause__
    if error.status_code != 400 or cause is None or error.detail != "There was an error parsing the body":
        return None
    if isinstance(cause, RecursionError):
        return error_response(400, "invalid_json", "JSON 嵌套过深 / the JSON body is nested too deeply")
    return error_response(400, "invalid_json", "请求体不是有效的 JSON / the request body is not valid JSON")


def ledger_error_response(error: LedgerError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else None
    extra = getattr(error, "headers", None)  # e.g. Retry-After on 429 / 503 (api/ratelimit.py)
    if isinstance(extra, dict):
        headers = {**(headers or {}), **extra}
    return error_response(error.http_status, error.code, error.detail, headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger_error(_request: Request, error: LedgerError) -> JSONResponse:
        return ledger_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_detail(error))

    @app.exception_handler(JsonInputError)
    async def _invalid_json(_request: Request, error: JsonInputError) -> JSONResponse:
        return error_response(400, "invalid_json", str(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        parse_error = _body_parse_error(error)
        if parse_error is not None:
            return parse_error
        code = HTTP_CODES.get(error.status_code, "http_error")
        detail = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
        return error_response(error.status_code, code, detail, dict(error.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(error).__name__,
                  exc_info=error)
        return error_response(500, "internal_error", "internal error; it was logged for the operators")


def _example(code: str, detail: str) -> dict[str, Any]:
    return {"model": ErrorOut, "content": {"application/json": {"example": {"code": code, "detail": detail}}}}


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_example("not_authenticated", "sign in: Authorization: Bearer <token>"),
          "description": "未登录或令牌无效/过期/已吊销 / missing, unknown, expired or revoked token"},
    403: {**_example("not_permitted", "a counter may not session.certify"),
          "description": "无权操作该对象 / the role may not do this to this object"},
}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    404: {**_example("not_found", "member 0b6e… not found"), "description": "对象不存在 / no such object"},
    422: {**_example("invalid_request", "请求不符合接口定义 / limit: Input should be less than or equal to 200"),
          "description": "请求格式错误 / the request does not match the schema"},
}


def json_errors(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route whose success is not JSON (a text/plain proof file): FastAPI would
    document `model` under the route's media type, but errors are always application/json."""
    documented: dict[int | str, dict[str, Any]] = {}
    for status, spec in responses.items():
        content = {media: dict(value) for media, value in spec.get("content", {}).items()}
        content.setdefault("application/json", {})["schema"] = {"$ref": "#/components/schemas/ErrorOut"}
        documented[status] = {**{k: v for k, v in spec.items() if k != "model"}, "content": content}
    return documented


# The 422 of an operation that has no other documented errors (sign-in): the same error body.
INVALID_REQUEST_RESPONSES: dict[int | str, dict[str, Any]] = {422: READ_RESPONSES[422]}
COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    409: {**_example("balance_would_go_negative", "余额不足: balance is 30 minutes, redemption needs 60"),
          "description": "状态冲突（余额不足、已认证、并发修改、幂等键被其他请求占用）/ state conflict: "
                         "a domain refusal, `concurrent_update` (safe to retry) or `idempotency_key_reused`"},
}
