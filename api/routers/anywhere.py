"""通存通兑 over HTTP (issue #14): a counter of this region redeems for a member of another region, and
this region answers other regions' counters about its own members.

`POST /v1/redemptions/anywhere` (a counter's login): this region's counter, a member whose QR names
another region. The messages to the member's home region go out from a worker thread, never from the
writer; each step that records goes through the writer.
`POST /v1/federation/redemptions` (no login: the request proves who sends it — signed by a registered
peer region's key): the home region's answer, signed. A request that does not verify is refused with
its code and changes nothing; the same request again gets the same signed bytes.
"""

from __future__ import annotations

from uuid import UUID

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import peer_http
from api.deps import ActorDep, ServicesDep
from api.errors import COMMAND_RESPONSES, _example
from api.policy import authorize
from api.routers.federation import _client, federation_guard
from api.routers.transfers import read_bounded_body
from api.schemas.anywhere import RemoteRedemptionIn, RemoteRedemptionOut
from ledger.application import Actor, Ledger, anywhere, settlement
from ledger.application.anywhere import RemoteResult
from ledger.domain.errors import LedgerError

router = APIRouter(tags=["redemptions 爱心超市兑换"])
log = logging.getLogger("timeledger.api.anywhere")
ANSWER_TIMEOUT_SECONDS = 10.0  # a counter waits this long for the member's home region, then retries


def post(url: str, body: bytes) -> tuple[int, bytes]:
    """Send a signed request to the member's home region."""
    return peer_http.post(url, body, timeout=ANSWER_TIMEOUT_SECONDS)


@router.post("/v1/redemptions/anywhere", status_code=201, response_model=RemoteRedemptionOut,
             responses=COMMAND_RESPONSES, summary="跨区兑换 Redeem for a member of another region",
             description="党员码上的所属地区不是本地区时使用：向党员所属地区申请冻结（双方签名，按 redemption_id 只兑换一次），"
                         "冻结成功即可交付商品（status authorised），随后自动确认扣减（captured）。所属地区拒绝：409，code "
                         "为其理由（如 balance_would_go_negative）；无法连接：503 home_region_unreachable，未扣减，可用同一 "
                         "redemption_id 重试；所属地区不接受本地区的请求（未登记本地区或其密钥）：409 home_region_rejected_request，未扣减。"
                         "/ For a member whose QR names another region: the home region holds the "
                         "minutes (both sides sign; once per `redemption_id`); once authorised the goods may be given, "
                         "and the capture follows at once in the background. Refused at home: 409 with its code; home "
                         "unreachable: 503, nothing charged, retry with the same id; home will not read this region's "
                         "requests (it has not registered this region or its key): 409 home_region_rejected_request.")
def redeem_anywhere(body: RemoteRedemptionIn, actor: ActorDep, services: ServicesDep,
                    background: BackgroundTasks) -> RemoteRedemptionOut:
    ledger = services.ledger
    authorize(ledger, actor, "redemption.anywhere")
    result: RemoteResult = anywhere.redeem_at_counter(
        ledger, actor=actor, member_id=body.member_id, home=body.home_region, redemption_id=body.redemption_id,
        items=[(line.item_id, line.quantity) for line in body.items], post=post, write=services.writer.submit,
        capture=False, offline=body.offline)
    if result.status == "authorised":
        background.add_task(_capture, services, actor, body.redemption_id)
    return RemoteRedemptionOut.of(result)


def _capture(services: Any, actor: Actor, redemption_id: UUID) -> None:
    """Right after the counter's answer: ask home to capture (the service's sweep retries a failure)."""
    try:
        anywhere.capture_pending(services.ledger, actor, redemption_id, post, services.writer.submit)
    except LedgerError as error:
        log.info("capture of a cross-region redemption deferred to the sweep: %s", error.code)


@router.get("/v1/redemptions/anywhere/{redemption_id}", response_model=RemoteRedemptionOut,
            responses=COMMAND_RESPONSES, summary="查看跨区兑换 A cross-region redemption",
            description="本地区柜台的一笔跨区兑换及其状态（authorised 已冻结、captured 已扣减、released 已撤销、refused "
                        "被拒绝）。/ A cross-region redemption at this region's counters and its status.")
def read_anywhere(redemption_id: UUID, actor: ActorDep, services: ServicesDep) -> RemoteRedemptionOut:
    ledger = services.ledger
    authorize(ledger, actor, "redemption.anywhere")
    return _out(ledger, anywhere.get_remote_redemption(ledger, redemption_id))


def _out(ledger: Any, record: Any) -> RemoteRedemptionOut:
    peer = ledger.get_region().peers.get(record.home, {})
    return RemoteRedemptionOut.of(RemoteResult(
        redemption_id=record.redemption_id, home=record.home, home_name=peer.get("name", record.home),
        minutes=record.minutes, lines=record.lines, balance_minutes=record.balance_minutes, status=record.status,
        applied=False))


@router.post("/v1/redemptions/anywhere/{redemption_id}/void", response_model=RemoteRedemptionOut,
             responses=COMMAND_RESPONSES, summary="撤销跨区兑换 Void a cross-region redemption",
             description="柜台未交付商品时撤销：所属地区释放冻结的时长。已扣减的不能撤销（409 hold_captured）。/ The counter "
                         "gave nothing: the home region releases the hold. A captured one cannot be voided.")
def void_anywhere(redemption_id: UUID, actor: ActorDep, services: ServicesDep) -> RemoteRedemptionOut:
    ledger = services.ledger
    authorize(ledger, actor, "redemption.anywhere")
    record = anywhere.void(ledger, actor=actor, redemption_id=redemption_id, post=post, write=services.writer.submit)
    return _out(ledger, record)


def _peer_responses(code: str, detail: str, refused: str) -> dict[int | str, dict[str, Any]]:
    """What a no-login 通存通兑 route answers besides 200: too large, a message that does not verify
    (`code`: nothing changed), too many requests from the caller's address."""
    return {
        413: {**_example("request_too_large", "请求过大 / the request is too large"), "description": "过大 / too large"},
        422: {**_example(code, detail), "description": refused},
        429: {**_example("rate_limited", "请求过于频繁，请在 2 秒后重试 / too many requests: retry in 2 s"),
              "description": "同一地址请求过多 / too many requests from this address (Retry-After)"}}


Checked = TypeVar("Checked")


async def _answer_peer(request: Request, bytes_max: int, check: Callable[[Ledger, bytes], Checked],
                       answer: Callable[[Ledger, bytes, Checked], bytes]) -> Response:
    """What both no-login 通存通兑 routes do: admit the caller's address (the redemption bucket), read
    the body within `bytes_max`, `check` it in a worker thread — outside the writer, so forgeries never
    reach it — then `answer` inside the writer with the checked message; the answer's bytes as JSON."""
    services = request.app.state.services
    ledger = services.ledger
    federation_guard(request.app).admit_redemption(_client(request))
    message = await read_bounded_body(request, bytes_max)
    checked = await run_in_threadpool(check, ledger, message)
    answered = await run_in_threadpool(services.writer.submit, lambda: answer(ledger, message, checked))
    return Response(answered, media_type="application/json")


@router.post(anywhere.FEDERATION_REDEMPTION_PATH, tags=["transfers 转移接续"], responses=_peer_responses(
    "anywhere_signature_invalid", "跨区兑换消息的签名无法核验。/ the signature does not verify",
    "消息未通过核验，未作任何更改 / the message does not verify: nothing changed"),
             summary="答复他区柜台的跨区兑换请求 Answer another region's counter about a member of this region",
             description="无需登录：请求由已登记的对等地区的密钥签名。答复（冻结、扣减、释放或拒绝）由本地区签名；同一请求再发，"
                         "答复字节相同。/ No login: the request is signed by a registered peer region. The answer "
                         "(authorised, captured, released or refused) is signed by this region; the same request "
                         "again gets the same bytes.")
async def federation_redemption(request: Request) -> Response:
    return await _answer_peer(request, anywhere.MESSAGE_BYTES_MAX, anywhere.check_request, anywhere.answer)


@router.post(settlement.FEDERATION_SETTLEMENT_PATH, tags=["transfers 转移接续"], responses=_peer_responses(
    "settlement_signature_invalid", "结算单的签名无法核验。/ the signature does not verify",
    "结算单未通过核验，未作任何记录 / the statement does not verify: nothing recorded"),
             summary="与他区交换通存通兑结算单 Exchange settlement statements with another region",
             description="无需登录：结算单由已登记的对等地区的密钥签名。本地区按自己的日志核对后，答复本地区给该地区的签名结算单"
                         "及核对结论（一致笔数、双方应付分钟、争议明细），并记下这次对账的结论。/ No login: the statement is "
                         "signed by a registered peer region. This region checks it against its own log and answers "
                         "with its own signed statement for that peer and the verdict (agreed count, minutes each "
                         "way, disputes); the verdict is recorded.")
async def federation_settlement(request: Request) -> Response:
    return await _answer_peer(request, settlement.STATEMENT_BYTES_MAX, settlement.verify_statement,
                              settlement.answer_exchange)
