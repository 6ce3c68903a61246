"""爱心超市 Redemptions at a counter: exactly once per redemption id, never below zero."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CommandsDep
from api.errors import COMMAND_RESPONSES
from api.schemas.service import RedemptionIn, RedemptionOut

router = APIRouter(prefix="/v1/redemptions", tags=["redemptions 爱心超市兑换"])


@router.post("", status_code=201, response_model=RedemptionOut, responses=COMMAND_RESPONSES,
             summary="兑换 Redeem minutes",
             description="柜台按本社区目录扣减党员已认证的时间。余额不足返回 409 balance_would_go_negative；同一 "
                         "redemption_id 重试只扣一次并返回原结果。/ The signed-in counter redeems a member's certified "
                         "minutes against its community's catalogue. Never below zero (409 "
                         "`balance_would_go_negative`); the same `redemption_id` again is applied once.")
def redeem(body: RedemptionIn, commands: CommandsDep) -> object:
    items = [(line.item_id, line.quantity) for line in body.items]
    return commands.run(action="redemption.create", object_id=body.member_id, body=body, status_code=201,
                        present=RedemptionOut.of,
                        call=lambda: commands.services.ledger.redeem(
                            actor=commands.actor, member_id=body.member_id, redemption_id=body.redemption_id,
                            items=items, request_id=commands.request_id))
