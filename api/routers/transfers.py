"""转移接续 Transfers between regions: region cards, the two-phase transfer, bundles and receipts.

The same bytes as the file transport of `timeledger transfer …`: a bundle is the canonical JSON the
source exports (POST …/export returns it verbatim) and the destination imports (POST
/v1/transfer-imports with the bundle as the request body); the destination answers with a signed
receipt that the source sends to …/completion.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES, ApiError
from api.policy import authorize
from api.schemas.common import DoneOut
from api.schemas.transfers import KeyIssuedOut, ReceiptOut, RegionCardIn, TransferIn, TransferOut, VoidIn
from ledger.application import transfers
from ledger.domain.errors import InvalidInput

router = APIRouter(tags=["transfers 转移接续"])


class BundleTooLarge(ApiError):
    code = "bundle_too_large"

    def __init__(self, bytes_max: int) -> None:
        super().__init__(f"转移包超过 {bytes_max} 字节的网络上限，请改用文件方式（timeledger transfer import）/ the "
                         f"bundle is larger than {bytes_max} bytes: move it as a file (timeledger transfer import)")


async def read_bounded_body(request: Request, bytes_max: int) -> bytes:
    """The request body, refused as soon as it exceeds `bytes_max`: first by its Content-Length,
    before reading anything, then while streaming (a chunked body has no length), so a hostile
    client never makes the server hold more than `bytes_max` bytes of it."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit() or len(declared) > 20:
            raise InvalidInput("Content-Length 无效 / invalid Content-Length")
        if int(declared) > bytes_max:
            raise BundleTooLarge(bytes_max)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > bytes_max:
            raise BundleTooLarge(bytes_max)
        chunks.append(chunk)
    if size == 0:
        raise InvalidInput("请在请求正文中发送转移包 / send the bundle as the request body")
    return b"".join(chunks)


async def bundle_bytes(request: Request) -> bytes:
    return await read_bounded_body(request, request.app.state.services.settings.bundle_request_bytes_max)


BundleBytes = Annotated[bytes, Depends(bundle_bytes)]


def _receipt_out(receipt: transfers.Receipt) -> ReceiptOut:
    document = json.loads(receipt.to_bytes())
    return ReceiptOut(receipt=document["receipt"], key_id=document["key_id"], signature=document["signature"])


def _receipt_in(body: ReceiptOut) -> transfers.Receipt:
    return transfers.Receipt.from_bytes(json.dumps(body.model_dump()).encode())


def _transfer_out(transfer: Any) -> TransferOut:
    return TransferOut(id=transfer.id, member_id=transfer.member_id, destination=transfer.destination,
                       balance_minutes=transfer.balance_minutes, owed_minutes=transfer.owed_minutes,
                       expires_at=transfer.expires_at, status=transfer.status, bundle_sha256=transfer.bundle_sha256,
                       receipt_sha256=transfer.receipt_sha256, void_reason=transfer.void_reason,
                       void_forced=getattr(transfer, "void_forced", False))


@router.get("/v1/region/card", responses=READ_RESPONSES, summary="本区名片 This region's card",
            description="供其他地区登记本区为对等方。/ What another region registers to accept our bundles.")
def region_card(actor: ActorDep, ledger: LedgerDep, commands: CommandsDep) -> dict[str, Any]:
    authorize(ledger, actor, "region.card")
    return transfers.region_card(ledger, address=commands.services.settings.public_url)


@router.post("/v1/region/peers", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="登记对等地区 Register a peer region",
             description="核对其密钥由同一省级信任根认证。/ Checks that the card's key is certified by our trust root.")
def add_peer(body: RegionCardIn, commands: CommandsDep) -> object:
    return commands.run(action="region.add_peer", body=body, alone=True, present=lambda _: DoneOut(),
                        call=lambda: transfers.register_peer(commands.services.ledger, body.model_dump()))


@router.post("/v1/transfers", status_code=201, response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="发起转出 Start a transfer-out",
             description="冻结党员和余额，指定唯一目的地区。/ Freezes the member and the balance; one destination.")
def initiate(body: TransferIn, commands: CommandsDep) -> object:
    ledger = commands.services.ledger

    def call() -> Any:
        transfer_id = transfers.initiate(ledger, member_id=body.member_id, destination=body.destination,
                                         transfer_id=body.transfer_id)
        return transfers.get_transfer(ledger, transfer_id)

    return commands.run(action="transfer.initiate", object_id=body.member_id, body=body, status_code=201,
                        alone=True, present=_transfer_out, call=call)


@router.get("/v1/transfers/{transfer_id}", response_model=TransferOut, responses=READ_RESPONSES,
            summary="转移 A transfer")
def read_transfer(transfer_id: UUID, actor: ActorDep, ledger: LedgerDep) -> TransferOut:
    authorize(ledger, actor, "transfer.read")
    return _transfer_out(transfers.get_transfer(ledger, transfer_id))


@router.post("/v1/transfers/{transfer_id}/export", responses={
    **COMMAND_RESPONSES, 200: {"description": "转移包（规范 JSON）/ the bundle, canonical JSON bytes",
                               "content": {"application/json": {}}}},
             summary="导出转移包 Export the bundle",
             description="党员全部签名事件、密钥链、密封的个人信息、以往转移包。/ Every signed event of the member, the "
                         "key chain, sealed personal fields, earlier bundles. Idempotent for a pending transfer.")
def export(transfer_id: UUID, actor: ActorDep, ledger: LedgerDep, commands: CommandsDep) -> Response:
    authorize(ledger, actor, "transfer.export")
    bundle: bytes = commands.services.writer.submit(lambda: transfers.export_bundle(ledger, transfer_id), alone=True)
    return Response(content=bundle, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="transfer-{transfer_id}.json"',
                             "Bundle-SHA256": hashlib.sha256(bundle).hexdigest()})


@router.post("/v1/transfer-imports", status_code=201, response_model=ReceiptOut, responses=COMMAND_RESPONSES,
             summary="接收转移包 Import a bundle",
             description="离线核验全部签名与哈希链后导入并记入余额，返回签名回执；重复导入为无操作。核验失败返回 422，code "
                         "说明哪项检查失败（签名拒收回执见 /v1/transfer-imports/rejection）。/ Verifies everything, "
                         "imports, credits the balance and returns the signed receipt; importing twice is a no-op.")
def import_bundle(bundle: BundleBytes, commands: CommandsDep) -> object:
    ledger = commands.services.ledger
    authorize(ledger, commands.actor, "transfer.import")
    checked = transfers.check_import(ledger, bundle)  # here, in the request thread: the writer only commits
    return commands.run(action="transfer.import", body=checked.bundle_sha256, status_code=201,
                        alone=True, present=_receipt_out, call=lambda: transfers.commit_import(ledger, checked))


@router.post("/v1/transfer-imports/rejection", response_model=ReceiptOut, responses=COMMAND_RESPONSES,
             summary="签名拒收回执 Signed rejection of a bundle",
             description="对无法核验的转移包签发拒收回执，供来源地区撤销转出。/ For a bundle that does not verify: the "
                         "signed rejection the source needs to void the transfer.")
def reject_bundle(bundle: BundleBytes, actor: ActorDep, ledger: LedgerDep, commands: CommandsDep) -> ReceiptOut:
    authorize(ledger, actor, "transfer.import")
    checked = transfers.check_import(ledger, bundle)
    receipt = commands.services.writer.submit(lambda: transfers.reject(ledger, checked), alone=True)
    if receipt is not None:
        return _receipt_out(receipt)
    if checked.identified is None:  # nothing proves which transfer this is: nothing to sign
        assert checked.refusal is not None
        raise checked.refusal
    if checked.refusal is None:
        raise InvalidInput("转移包核验通过，请导入 / the bundle verifies: import it instead")
    raise transfers.TransferAlreadyImported("transfer_already_imported", "本区已导入该转移，不能再拒收 / this "
                                            "region already imported the transfer: it cannot reject it")


@router.post("/v1/transfers/{transfer_id}/completion", response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="完成转出 Complete with the receipt",
             description="凭目的地区签名回执完成：余额转出，党员迁出。/ With the destination's signed receipt.")
def complete(transfer_id: UUID, body: ReceiptOut, commands: CommandsDep) -> object:
    ledger = commands.services.ledger

    def call() -> Any:
        transfer = transfers.complete(ledger, _receipt_in(body))
        if transfer.id != transfer_id:
            raise InvalidInput("the receipt is for another transfer")
        return transfer

    return commands.run(action="transfer.complete", body=body, alone=True, present=_transfer_out, call=call)


@router.post("/v1/transfers/{transfer_id}/voiding", response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="撤销转出 Void a transfer",
             description="凭目的地区签名的拒收回执或到期后的“未导入”答复撤销并解冻；仅凭超时不能撤销（code "
                         "transfer_void_needs_answer，先调用 …/settlement 查询）。目的地区始终不答复时，地区管理员可在到期后"
                         "以 force=true 并写明理由强制撤销：事件记为 Transfer.VoidForced，若目的地区其实已导入，则该党员的"
                         "时长在两区各有一份——这是留待核查的剩余风险。/ With the destination's signed rejection, or its "
                         "signed 'not imported' answer after the expiry; a timeout alone is refused (ask with "
                         "…/settlement). For a destination that never answers: force=true with a reason, after the "
                         "expiry — recorded as Transfer.VoidForced; if the destination did import, the minutes exist "
                         "twice (the residual risk an audit follows up).")
def void(transfer_id: UUID, body: VoidIn, commands: CommandsDep) -> object:
    ledger = commands.services.ledger
    rejection = _receipt_in(body.rejection) if body.rejection is not None else None
    if body.force and rejection is not None:
        raise InvalidInput("强制撤销不附回执 / a forced void carries no answer: send one or the other")

    def call() -> Any:
        if body.force:
            return transfers.force_void(ledger, transfer_id, reason=body.reason)
        return transfers.void(ledger, transfer_id, rejection=rejection, reason=body.reason)

    return commands.run(action="transfer.void", body=body, alone=True, present=_transfer_out, call=call)


@router.post("/v1/members/{member_id}/key", status_code=201, response_model=KeyIssuedOut,
             responses=COMMAND_RESPONSES, tags=["members 党员"], summary="为转入党员签发密钥 Key for an arrived member",
             description="转入的党员在本区还没有签名密钥。/ A member who arrived by transfer has no key here yet.")
def issue_member_key(member_id: UUID, commands: CommandsDep) -> object:
    return commands.run(action="member.issue_key", object_id=member_id, status_code=201, alone=True,
                        present=lambda k: KeyIssuedOut(key_id=k),
                        call=lambda: commands.services.ledger.issue_member_key(actor=commands.actor,
                                                                               member_id=member_id))


@router.post("/v1/members/{member_id}/adoption", response_model=DoneOut, responses=COMMAND_RESPONSES,
             tags=["members 党员"], summary="转入党员入册 Take on an arrived member",
             description="本区单位接收转入的党员。/ A unit of this region takes on a member who arrived by transfer.")
def adopt(member_id: UUID, commands: CommandsDep) -> object:
    return commands.run(action="member.adopt", object_id=member_id, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.adopt_member(actor=commands.actor, member_id=member_id))
