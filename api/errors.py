"""One error model for every refusal, mapped in one place.

Every error body is ``{"code": "<stable snake_case>", "detail": "<explanation>", "message": {"zh": …, "en": …}}``:
`code` and `detail` as they always were, `message` from the one catalogue (api/catalogue.py): what a
person reads, in Chinese and English, naming the form field where there is one. Refusals are
domain refusals (`LedgerError` subclasses, in `ledger/`) and the API's own (`ApiError` subclasses:
sign-in, idempotency, rate limits, web forms); each carries a stable `code`, and `HTTP_STATUSES`
below is the one table that gives their HTTP status (the ledger knows nothing of HTTP). Request-shape problems are
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

from api.catalogue import code_messages, messages
from ledger.domain.errors import (
    ConcurrentUpdate,
    ExistsWithDifferentTerms,
    InvalidInput,
    LedgerError,
    NotFound,
    NotPermitted,
    Unavailable,
    WrongState,
)
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


class MessageOut(BaseModel):
    """提示 / a message for people in both languages."""

    zh: str = Field(description="中文", examples=["开始时间：格式不对，请按“时:分”填写，如 09:00"])
    en: str = Field(description="English", examples=["Start time: not a time of day: write it as HH:MM, e.g. 09:00"])


class ErrorOut(BaseModel):
    """错误 Error: a stable machine code and a human explanation."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "balance_would_go_negative", "detail": "余额不足: balance is 30 minutes, redemption needs 60",
         "message": {"zh": "余额不足，本次未扣减。", "en": "Not enough hours: nothing was charged."}}]})

    code: str = Field(description="稳定的错误代码，客户端据此判断 / stable snake_case code clients match on",
                      examples=["balance_would_go_negative"])
    detail: str = Field(description="说明 / explanation (never contains personal data); may be technical English")
    message: MessageOut = Field(description="给人看的提示，中英文，来自统一的消息目录（按 code 与字段）/ the message for "
                                            "people, Chinese and English, from the one message catalogue (by code "
                                            "and field): show this, not `detail`")


class ApiError(Exception):
    """A refusal made by the API layer itself (sign-in, idempotency, signing headers, web forms …).
    Like a `LedgerError`: a stable `code` and a `detail` for people; its status is in `HTTP_STATUSES`."""

    code = "api_error"

    def __init__(self, detail: str, *, field: str | None = None, reason: str | None = None,
                 params: dict[str, str | int] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field  # as for a LedgerError: the input it is about, and the catalogue's reason
        self.reason = reason
        self.params: dict[str, str | int] = dict(params or {})


Refusal = LedgerError | ApiError
REFUSALS: tuple[type[LedgerError], type[ApiError]] = (LedgerError, ApiError)  # for `except REFUSALS`


class IdempotencyKeyReused(ApiError):
    code = "idempotency_key_reused"


class IdempotencyKeyInProgress(ApiError):
    code = "idempotency_key_in_progress"


class InvalidHeader(ApiError):
    code = "invalid_header"


# The one table of HTTP statuses: domain refusals by category (the nearest class in the refusal's
# MRO wins), the API's own refusals by their code (their classes live beside the code that raises
# them: api/auth.py, api/web/core.py …; a test checks that every refusal class has an entry).
HTTP_STATUSES: dict[type[LedgerError] | str, int] = {
    LedgerError: 400,
    InvalidInput: 422,
    NotPermitted: 403,
    NotFound: 404,
    WrongState: 409,
    ExistsWithDifferentTerms: 409,
    ConcurrentUpdate: 409,
    Unavailable: 503,
    # api/auth.py
    "not_authenticated": 401,
    "invalid_credentials": 401,
    "token_expired": 401,
    "token_revoked": 401,
    "member_login_by_member_only": 403,
    "too_many_attempts": 429,
    "sign_in_busy": 503,
    "weak_password": 422,  # api/passwords.py
    # api/member_access.py
    "activation_code_invalid": 403,
    "member_login_exists": 409,
    "reason_required": 422,
    "member_key_not_own": 403,  # api/commands.py
    # this module
    "idempotency_key_reused": 409,
    "idempotency_key_in_progress": 409,
    "invalid_header": 422,
    "rate_limited": 429,  # api/ratelimit.py
    "bundle_too_large": 413,  # api/routers/transfers.py
    # api/web/core.py
    "csrf_refused": 403,
    "wrong_role_page": 403,
    "request_too_large": 413,
}


def http_status_of(error: Refusal) -> int:
    """The HTTP status of a refusal, from `HTTP_STATUSES`."""
    if isinstance(error, ApiError):
        return HTTP_STATUSES[error.code]
    for cls in type(error).__mro__:
        status = HTTP_STATUSES.get(cls)
        if status is not None:
            return status
    raise AssertionError(f"{type(error).__name__} is not a LedgerError")  # unreachable: LedgerError is in the table


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None, *,
                   message: dict[str, str] | None = None) -> JSONResponse:
    body = {"code": code, "detail": detail[:DETAIL_CHARS_MAX], "message": message or code_messages(code)}
    return JSONResponse(body, status_code=status, headers=headers)


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


def refusal_response(error: Refusal) -> JSONResponse:
    status = http_status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    extra = getattr(error, "headers", None)  # e.g. Retry-After on 429 / 503 (api/ratelimit.py)
    if isinstance(extra, dict):
        headers = {**(headers or {}), **extra}
    return error_response(status, error.code, error.detail, headers, message=messages(error))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger_error(_request: Request, error: LedgerError) -> JSONResponse:
        return refusal_response(error)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return refusal_response(error)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_detail(error), message=messages(error))

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
    example = {"code": code, "detail": detail, "message": code_messages(code)}
    return {"model": ErrorOut, "content": {"application/json": {"example": example}}}


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
