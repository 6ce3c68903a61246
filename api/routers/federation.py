"""Region-to-region transfer over HTTP (转移接续 between two running services).

The source's region admin calls `POST /v1/transfers/{id}/send`: the source exports the bundle and
pushes it to the destination's registered address, `POST /v1/federation/transfer-imports`, which
needs no login — the bundle authenticates itself (signatures chained to the shared province root,
the source registered as a peer, inclusion in the source's signed log). The destination answers
201 with its signed receipt, or 422 with a signed rejection; the source then completes or voids.
Every step is safe to repeat after a crash or a lost answer.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import CommandsDep
from api.errors import COMMAND_RESPONSES
from api.routers.transfers import BundleBytes, _receipt_out, _transfer_out
from api.schemas.transfers import TransferOut
from ledger import transfer as transfers

router = APIRouter(tags=["transfers 转移接续"])
SEND_TIMEOUT_SECONDS = 60.0  # a lifetime's bundle is verified at the destination before it answers


@router.post(transfers.FEDERATION_IMPORT_PATH, status_code=201, responses={
    422: {"description": "核验失败，附签名拒收回执 / refused, with the signed rejection"}},
             summary="接收对等地区推送的转移包 Import a bundle pushed by a peer region",
             description="无需登录：转移包自证来源（省级信任根、已登记的对等地区、签名日志）。重复推送返回同一回执。/ "
                         "No login: the bundle proves where it comes from. Pushing it again returns the same receipt.")
def federation_import(bundle: BundleBytes, request: Request) -> JSONResponse:
    services = request.app.state.services
    ledger = services.ledger
    try:
        receipt = services.writer.submit(lambda: transfers.import_bundle(ledger, bundle), alone=True)
    except transfers.TransferRefused as refused:
        rejection = transfers.rejection_receipt(ledger, bundle, refused)
        body: dict[str, Any] = {"code": refused.code, "detail": refused.detail,
                                "rejection": _receipt_out(rejection).model_dump() if rejection is not None else None}
        return JSONResponse(body, status_code=refused.http_status)
    return JSONResponse(_receipt_out(receipt).model_dump(), status_code=201)


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    try:
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json"},
                              timeout=SEND_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise OSError(str(error)) from None
    return response.status_code, response.content


@router.post("/v1/transfers/{transfer_id}/send", response_model=TransferOut, responses=COMMAND_RESPONSES,
             summary="推送并完成转出 Push the bundle and finish",
             description="导出转移包，推送到目的地区登记的地址，凭回执完成（或凭拒收回执撤销）。目的地区不可达时保持待定，可重试。"
                         "/ Export, push to the destination's address, complete with its receipt (or void with its "
                         "signed rejection). If the destination is unreachable the transfer stays pending: retry.")
def send(transfer_id: UUID, commands: CommandsDep) -> object:
    ledger = commands.services.ledger
    return commands.run(action="transfer.send", alone=True, present=_transfer_out,
                        call=lambda: transfers.send(ledger, transfer_id, post=_post))
