"""Region-to-region transfer over HTTP (转移接续 between two running services).

The source's region admin calls `POST /v1/transfers/{id}/send`: the source exports the bundle and
pushes it to the destination's registered address, `POST /v1/federation/transfer-imports`, which
needs no login — the bundle authenticates itself (signatures chained to the shared province root,
the source registered as a peer, inclusion in the source's signed log). The destination answers
201 with its signed receipt, or 422 with a signed rejection; the source then completes or voids.
Every step is safe to repeat after a crash or a lost answer.

After the expiry a timeout alone voids nothing (the destination may have imported and the receipt
got lost): the source's admin calls `POST /v1/transfers/{id}/settlement`, which asks the
destination's `POST /v1/federation/transfer-status` with the bundle. The destination answers its
receipt if it imported the transfer (the source completes) or records and signs "not imported"
(the source voids; the destination never imports it afterwards).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import peer_http
from api.catalogue import messages
from api.deps import CommandsDep
from api.errors import COMMAND_RESPONSES, _example, http_status_of
from api.ratelimit import RateLimited, TokenBucket
from api.routers.transfers import _receipt_out, _transfer_out, read_bounded_body
from api.schemas.transfers import ReceiptOut, TransferOut
from ledger.application import Ledger, transfers

router = APIRouter(tags=["transfers 转移接续"])
SEND_TIMEOUT_SECONDS = 60.0  # a lifetime's bundle is verified at the destination before it answers
BUSY_RETRY_SECONDS = 5.0  # what a peer is told to wait when every verification slot is taken
_GUARD_LOCK = threading.Lock()


class FederationGuard:
    """What stands between anonymous peers and this server: a token bucket per client address, and
    a bound on bundles read and verified at once (each holds up to `bundle_request_bytes_max`)."""

    def __init__(self, *, buckets: TokenBucket, concurrent_max: int, redemption_buckets: TokenBucket) -> None:
        self.buckets = buckets
        self.redemption_buckets = redemption_buckets  # 通存通兑: small signed messages, at a counter's pace
        self._slots = threading.BoundedSemaphore(concurrent_max)

    def admit(self, client: str) -> None:
        self.buckets.check(client)

    def admit_redemption(self, client: str) -> None:
        self.redemption_buckets.check(client)

    def acquire_slot(self) -> None:
        if not self._slots.acquire(blocking=False):
            raise RateLimited(BUSY_RETRY_SECONDS, "服务器正在核验其他转移包，请稍后重试 / busy verifying other "
                                                  f"bundles: retry in {BUSY_RETRY_SECONDS:.0f} s")

    def release_slot(self) -> None:
        self._slots.release()


def federation_guard(app: FastAPI) -> FederationGuard:
    """The app's guard, made on first use from its settings (tests may set `app.state.federation_guard`)."""
    guard: FederationGuard | None = getattr(app.state, "federation_guard", None)
    if guard is None:
        with _GUARD_LOCK:
            guard = getattr(app.state, "federation_guard", None)
            if guard is None:
                settings = app.state.services.settings
                guard = FederationGuard(
                    buckets=TokenBucket(rate_per_second=settings.federation_requests_per_minute / 60.0,
                                         burst=settings.federation_burst),
                    concurrent_max=settings.federation_concurrent_max,
                    redemption_buckets=TokenBucket(rate_per_second=settings.federation_redemptions_per_minute / 60.0,
                                                   burst=settings.federation_redemptions_burst))
                app.state.federation_guard = guard
    return guard


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "-"


Checked = TypeVar("Checked")


@asynccontextmanager
async def _checked_bundle(request: Request, check: Callable[[Ledger, bytes], Checked]) -> AsyncIterator[Checked]:
    """What both peer routes do first: admit the caller's address (rate limit), take a verification
    slot — held until the route is done with the bundle — read the body within the bundle limit and
    verify it with `check` in a worker thread (never on the event loop, never in the writer)."""
    services = request.app.state.services
    guard = federation_guard(request.app)
    guard.admit(_client(request))
    guard.acquire_slot()
    try:
        bundle = await read_bounded_body(request, services.settings.bundle_request_bytes_max)
        yield await run_in_threadpool(check, services.ledger, bundle)
    finally:
        guard.release_slot()


@router.post(transfers.FEDERATION_IMPORT_PATH, status_code=201, responses={
    409: {"description": "已导入或寄往他区 / already imported, or addressed to another region"},
    413: {**_example("bundle_too_large", "转移包超过 16777216 字节的网络上限 / the bundle is larger than 16777216 bytes"),
          "description": "转移包超过网络上限 / larger than bundle_request_bytes_max: move it as a file"},
    422: {"description": "核验失败；能确认是发往本区的转移时附签名拒收回执 / refused, with the signed rejection when "
                         "the bundle proves a transfer to this region"},
    429: {**_example("rate_limited", "请求过于频繁，请在 2 秒后重试 / too many requests: retry in 2 s"),
          "description": "同一地址请求过多或服务器忙 / too many requests from this address, or busy (Retry-After)"}},
             summary="接收对等地区推送的转移包 Import a bundle pushed by a peer region",
             description="无需登录：转移包自证来源（省级信任根、已登记的对等地区、签名日志）。重复推送返回同一回执。按客户端地址限流，"
                         "正文大小在读取前和读取中均受限，核验在写入线程之外进行。/ No login: the bundle proves where it "
                         "comes from. Pushing it again returns the same receipt. Rate-limited per client address; "
                         "the body's size is bounded before and while reading it; verification runs outside the "
                         "writer.")
async def federation_import(request: Request) -> JSONResponse:
    # async so that the body is streamed and cut off at the limit; the blocking work (verification in
    # a worker thread, the commit in the writer) is handed to threads, never run on the event loop.
    services = request.app.state.services
    ledger = services.ledger
    async with _checked_bundle(request, transfers.check_import) as checked:
        try:
            receipt = await run_in_threadpool(services.writer.submit,
                                              lambda: transfers.commit_import(ledger, checked), alone=True)
        except transfers.TransferRefused as refused:
            rejection = await run_in_threadpool(services.writer.submit, lambda: transfers.reject(ledger, checked),
                                                alone=True)
            body: dict[str, Any] = {"code": refused.code, "detail": refused.detail, "message": messages(refused),
                                    "rejection": _receipt_out(rejection).model_dump() if rejection is not None
                                    else None}
            return JSONResponse(body, status_code=http_status_of(refused))
    return JSONResponse(_receipt_out(receipt).model_dump(), status_code=201)


@router.post(transfers.FEDERATION_STATUS_PATH, response_model=ReceiptOut, responses={
    409: {**_example("transfer_not_expired", "转移尚未到期，暂不答复未导入 / the transfer has not expired yet"),
          "description": "转移尚未到期 / not expired yet: ask again later"},
    413: {**_example("bundle_too_large", "转移包超过 16777216 字节的网络上限 / the bundle is larger than 16777216 bytes"),
          "description": "转移包超过网络上限 / larger than bundle_request_bytes_max: ask by files"},
    422: {"description": "无法确认是发往本区的转移，不作答复 / the bundle proves no transfer to this region: no answer"},
    429: {**_example("rate_limited", "请求过于频繁，请在 2 秒后重试 / too many requests: retry in 2 s"),
          "description": "同一地址请求过多或服务器忙 / too many requests from this address, or busy (Retry-After)"}},
             summary="到期后查询是否已导入 Has this transfer been imported? (after the expiry)",
             description="来源地区超时后携转移包查询。已导入：返回签名回执（来源地区据此完成）；未导入且已到期：记录并签发“未导入”"
                         "答复（来源地区据此撤销），此后本区不再导入该转移。无需登录：转移包中来源地区对转出的签名证明是谁在问。/ "
                         "The source asks with the bundle after the expiry: the signed receipt if this region "
                         "imported the transfer, else a recorded, signed 'not imported' answer — after which this "
                         "region never imports it. No login: the source's signature on the transfer-out proves "
                         "who asks.")
async def federation_status(request: Request) -> JSONResponse:
    services = request.app.state.services
    ledger = services.ledger
    async with _checked_bundle(request, transfers.check_status_query) as query:
        answer = await run_in_threadpool(services.writer.submit, lambda: transfers.answer_status(ledger, query),
                                         alone=True)
    return JSONResponse(_receipt_out(answer).model_dump(), status_code=200)


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    return peer_http.post(url, body, timeout=SEND_TIMEOUT_SECONDS)


@router.post("/v1/transfers/{transfer_id}/send", response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="推送并完成转出 Push the bundle and finish",
             description="导出转移包，推送到目的地区登记的地址，凭回执完成（或凭拒收回执撤销）。目的地区不可达时保持待定，可重试。"
                         "/ Export, push to the destination's address, complete with its receipt (or void with its "
                         "signed rejection). If the destination is unreachable the transfer stays pending: retry.")
def send(transfer_id: UUID, commands: CommandsDep) -> object:
    ledger = commands.services.ledger
    return commands.run(action="transfer.send", alone=True, present=_transfer_out,
                        call=lambda: transfers.send(ledger, transfer_id, post=_post))


@router.post("/v1/transfers/{transfer_id}/settlement", response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="到期后向目的地区查询并了结 Settle an expired transfer with the destination's answer",
             description="转移到期后，向目的地区查询是否已导入：凭回执完成，或凭签名的“未导入”答复撤销。仅凭超时不能撤销"
                         "（目的地区可能已导入而回执丢失）。目的地区不可达时保持待定，可重试。/ After the expiry, ask the "
                         "destination whether it imported the transfer: complete with its receipt, or void with its "
                         "signed 'not imported' answer. A timeout alone voids nothing. Unreachable: stays pending.")
def settle(transfer_id: UUID, commands: CommandsDep) -> object:
    ledger = commands.services.ledger
    return commands.run(action="transfer.send", alone=True, present=_transfer_out,
                        call=lambda: transfers.settle_after_timeout(ledger, transfer_id, post=_post))
