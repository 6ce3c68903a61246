"""The HTTP service: `create_app(settings=None, ledger=None)` is the composition root.

    uvicorn --factory api.main:create_app        # or: timeledger serve

Writes go through one group-commit writer thread (api/writer.py); reads are single-aggregate reads
from the Ledger (lists and reports come from projections/). Nothing is built at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI
from pydantic import BaseModel

from api.commands import SIGNATURES_MAX
from api.docs import install_docs
from api.errors import install_error_handlers
from api.routers import (
    activities,
    anywhere,
    auth,
    communities,
    federation,
    keys,
    logins,
    members,
    offline,
    orders,
    redemptions,
    region,
    report_slips,
    reports,
    sessions,
    suggestions,
    transfers,
    transparency,
    units,
)
from api.services import build_services
from api.settings import Settings
from api.web import install_web
from ledger.application import Ledger

DESCRIPTION = """
**爱心时间银行 · 在职党员到社区报到服务时间账本** — the signed, event-sourced service-time ledger of one
region (县/市/区). Every command is stored as an Ed25519-signed statement, hash-chained per record.

* **登录 Sign in**: `POST /v1/auth/token` (OAuth2 password flow) returns a bearer token; click
  *Authorize* above. Tokens expire and can be revoked (`POST /v1/auth/revoke`).
* **权限 Authorisation**: one table (role × action × own/other object) in `api/policy.py`; a community
  acts only on its own members, sessions and catalogue; a counter reads balances and redeems; an
  auditor reads everything except personal fields and writes nothing.
* **幂等 Idempotency**: send `Idempotency-Key` on every command; a retry returns the original answer
  (`Idempotent-Replayed: true`); the same key with another body is `409 idempotency_key_reused`.
* **客户端签名 Client signing**: `Timeledger-Prepare: true` + `Timeledger-Key-Id` returns the statements to
  sign; send the request again with `Timeledger-Signed-At` and `Timeledger-Signatures`.
* **错误 Errors**: always `{"code", "detail"}` with a stable `code`.
* Durations are whole **minutes**; hours are shown with one decimal.
"""

TAGS = [
    {"name": "auth 登录", "description": "登录、令牌、修改密码 / sign-in, tokens, password"},
    {"name": "logins 账号", "description": "为主体开设和停用账号 / create and disable logins"},
    {"name": "region 地区", "description": "地区设置、积分办法、登记单位/社区/审计 / region administration"},
    {"name": "units 单位党组织", "description": "结对共建、申报人数 / pairing, declared members"},
    {"name": "communities 社区党组织", "description": "岗位、队伍、服务菜单、爱心超市目录、柜台、居民"},
    {"name": "members 党员", "description": "入册、报到单、报到登记、岗位、队伍、有故、同意、余额 / members"},
    {"name": "report slips 报到单", "description": "报到单与回执单（附件1）"},
    {"name": "activities 签到签退", "description": "活动签到码、扫码签到签退、团体录入（信用时长）"},
    {"name": "sessions 服务记录", "description": "记录、评价、认证、不予认证、更正、投诉（附件5）"},
    {"name": "orders 三单制", "description": "居民点单、支部下单、党员接单"},
    {"name": "suggestions 建议", "description": "采纳、交转有关机构办理"},
    {"name": "redemptions 爱心超市兑换", "description": "柜台兑换：只扣一次，余额不为负"},
    {"name": "keys 密钥", "description": "公钥、客户端密钥、轮换与吊销"},
    {"name": "transfers 转移接续", "description": "跨地区转移：名片、发起、转移包、回执、完成与撤销"},
    {"name": "reports 报表", "description": "认证待办、补录、登记册、附件3/4/5 等（来自读模型 projections/）"},
    {"name": "log 签名日志", "description": "签名检查点、包含与一致性证明、服务时长证明 / checkpoints, proofs, certificates"},
    {"name": "health", "description": "运行状态 / liveness"},
]


class HealthOut(BaseModel):
    status: str
    region_code: str | None
    writer: dict[str, float | int]


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or Settings()
    services = build_services(settings, ledger)

    checkpointer = transparency.Checkpointer(services, settings.checkpoint_interval_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        services.writer.start()
        if settings.follow_read_models:
            services.read_models.start()
        checkpointer.start()
        services.purger.start()  # expired tokens and old idempotency records, on a schedule
        try:
            yield
        finally:
            checkpointer.stop()
            services.close()

    app = FastAPI(
        title="爱心时间银行 timeledger API", version="1", description=DESCRIPTION, openapi_tags=TAGS,
        lifespan=lifespan, docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        openapi_url="/openapi.json" if settings.docs_enabled else None)
    app.state.services = services
    install_error_handlers(app)

    # First: FastAPI prepares each route lazily, when a request is first matched against it, so a
    # liveness probe matched last would prepare the whole table (~0.4 s of CPU on a fresh server).
    @app.get("/healthz", response_model=HealthOut, tags=["health"], summary="运行状态 Liveness")
    def health() -> HealthOut:
        return HealthOut(status="ok", region_code=services.ledger.region_code, writer=services.writer.stats.as_dict())

    # Routes are matched in order, one by one: the counter's hot path (redeem, balance) goes next.
    for router in (redemptions.router, anywhere.router, members.router, auth.router, sessions.router, logins.router, region.router,
                   units.router, units.enrol_router, communities.router, communities.counters_router,
                   report_slips.router, orders.router, suggestions.router, keys.router, transfers.router,
                   federation.router, transparency.router, reports.router, activities.router, offline.router):
        app.include_router(router)
    install_web(app)  # the web pages (api/web/) and their /static files
    if settings.docs_enabled:
        command_headers(app)
        install_docs(app)

    return app


# base64 of a 64-byte Ed25519 signature is 88 characters, plus a comma: bounds the documented header.
SIGNATURES_HEADER_CHARS_MAX = 89 * SIGNATURES_MAX
COMMAND_HEADERS = [
    {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128},
     "example": "5c1f3e0a-8d2b-4f6e-9a7c-1b2d3e4f5a6b",
     "description": "客户端请求编号：重试返回原结果 / client request id: a retry returns the original response; the "
                    "same key with a different body is refused (409 idempotency_key_reused)"},
    {"name": "Timeledger-Key-Id", "in": "header", "required": False,
     "schema": {"type": "string", "maxLength": 64, "pattern": "^[0-9a-f]{1,64}$"},
     "description": "客户端自持密钥编号 / id of the client-held key that signs (omit: the service signs with your "
                    "server-held key)"},
    {"name": "Timeledger-Prepare", "in": "header", "required": False, "schema": {"type": "string", "enum": ["true"]},
     "description": "true: 只返回待签名声明（202），不保存 / only return the statements to sign (202); nothing is stored"},
    {"name": "Timeledger-Signed-At", "in": "header", "required": False,
     "schema": {"type": "string", "format": "date-time", "maxLength": 64},
     "description": "prepare 返回的 signed_at / the signed_at returned by prepare"},
    {"name": "Timeledger-Signatures", "in": "header", "required": False,
     "schema": {"type": "string", "maxLength": SIGNATURES_HEADER_CHARS_MAX},
     "description": "base64 签名，逗号分隔，按声明顺序 / base64 Ed25519 signatures, comma-separated, in statement order"},
]
PREPARED_RESPONSE = {"description": "待签名声明，未保存 / the statements to sign (Timeledger-Prepare); nothing stored",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PreparedOut"}}}}


def command_headers(app: FastAPI) -> None:
    """Document the command headers (read by `CommandsDep` from the request) on every command."""
    from fastapi.openapi.utils import get_openapi

    from api.schemas.common import PreparedOut

    def openapi() -> dict[str, object]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags, license_info=app.license_info)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.setdefault("PreparedOut", PreparedOut.model_json_schema(ref_template="#/components/schemas/{model}"))
            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    if method == "get" or path.startswith(("/v1/auth/", "/v1/logins")):
                        continue
                    operation.setdefault("parameters", []).extend(COMMAND_HEADERS)
                    operation.setdefault("responses", {})["202"] = PREPARED_RESPONSE
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema


