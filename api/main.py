"""The HTTP service: `create_app(settings=None, ledger=None)` is the composition root.

    uvicorn --factory api.main:create_app        # or: timeledger serve

Writes go through one group-commit writer thread (api/writer.py); reads are single-aggregate reads
from the Ledger (lists and reports come from projections/). Nothing is built at import time.
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

import anyio.to_thread
from fastapi import FastAPI
from pydantic import BaseModel

from api.docs import install_docs
from api.errors import install_error_handlers
from api.routers import (
    auth,
    communities,
    keys,
    logins,
    members,
    orders,
    redemptions,
    region,
    report_slips,
    reports,
    sessions,
    suggestions,
    transfers,
    units,
)
from api.services import Services, build_services
from api.settings import Settings
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
    {"name": "sessions 服务记录", "description": "记录、评价、认证、不予认证、更正、投诉（附件5）"},
    {"name": "orders 三单制", "description": "居民点单、支部下单、党员接单"},
    {"name": "suggestions 建议", "description": "采纳、交转有关机构办理"},
    {"name": "redemptions 爱心超市兑换", "description": "柜台兑换：只扣一次，余额不为负"},
    {"name": "keys 密钥", "description": "公钥、客户端密钥、轮换与吊销"},
    {"name": "transfers 转移接续", "description": "跨地区转移：名片、发起、转移包、回执、完成与撤销"},
    {"name": "reports 报表", "description": "认证待办、补录、登记册、附件3/4/5 等（来自读模型 projections/）"},
    {"name": "health", "description": "运行状态 / liveness"},
]


class HealthOut(BaseModel):
    status: str
    region_code: str | None
    writer: dict[str, float | int]


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> FastAPI:
    settings = settings or Settings()
    services = build_services(settings, ledger)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool_size
        services.writer.start()
        if settings.follow_read_models:
            services.read_models.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="爱心时间银行 timeledger API", version="1", description=DESCRIPTION, openapi_tags=TAGS,
        lifespan=lifespan, docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        openapi_url="/openapi.json" if settings.docs_enabled else None)
    app.state.services = services
    install_error_handlers(app)
    for router in (auth.router, logins.router, region.router, units.router, units.enrol_router,
                   communities.router, communities.counters_router, members.router, report_slips.router,
                   sessions.router, orders.router, suggestions.router, redemptions.router, keys.router,
                   transfers.router, reports.router):
        app.include_router(router)
    if settings.docs_enabled:
        install_docs(app)

    @app.get("/healthz", response_model=HealthOut, tags=["health"], summary="运行状态 Liveness")
    def health() -> HealthOut:
        return HealthOut(status="ok", region_code=services.ledger.region_code, writer=services.writer.stats.as_dict())

    return app


def services_of(app: FastAPI) -> Services:
    return app.state.services  # type: ignore[no-any-return]
