"""三单制 Orders: 居民点单 → 支部下单 → 党员接单 → fulfilled by a certified session."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, IdOut
from api.schemas.service import DispatchIn, OrderIn, OrderOut, ReasonIn

router = APIRouter(prefix="/v1/orders", tags=["orders 三单制"])


@router.post("", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES, summary="居民点单 Place an order",
             description="居民从社区服务菜单点单；居民电话或上门时，社区可代本社区登记的居民点单（resident_id）。/ A "
                         "resident orders from a community's published menu; a community may order from its own menu "
                         "on behalf of a resident it registered (resident_id).")
def place(body: OrderIn, commands: CommandsDep) -> object:
    return commands.run(action="order.place", object_id=body.community_id, body=body, status_code=201,
                        present=lambda i: IdOut(id=i),
                        call=lambda: commands.services.ledger.place_order(
                            actor=commands.actor, community_id=body.community_id, menu_item_id=body.menu_item_id,
                            note=body.note, order_id=body.order_id, request_id=commands.request_id,
                            resident_id=body.resident_id))


@router.get("/{order_id}", response_model=OrderOut, responses=READ_RESPONSES, summary="订单 An order")
def read_order(order_id: UUID, actor: ActorDep, ledger: LedgerDep) -> OrderOut:
    authorize(ledger, actor, "order.read", order_id)
    order = ledger.get_order(order_id)
    return OrderOut(id=order.id, community_id=order.community_id, menu_item_id=order.menu_item_id,
                    menu_title=order.menu_title, resident_id=order.resident_id, note=order.note,
                    placed_on=order.placed_on, status=order.status,
                    member_id=order.member_id, session_id=order.session_id)


@router.post("/{order_id}/dispatch", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="支部下单 Dispatch an order")
def dispatch(order_id: UUID, body: DispatchIn, commands: CommandsDep) -> object:
    return commands.run(action="order.dispatch", object_id=order_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.dispatch_order(
                            actor=commands.actor, order_id=order_id, member_id=body.member_id))


@router.post("/{order_id}/acceptance", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="党员接单 Accept an order", description="只能接派给自己的订单。/ Only an order dispatched to you.")
def accept(order_id: UUID, commands: CommandsDep) -> object:
    return commands.run(action="order.accept", object_id=order_id, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.accept_order(actor=commands.actor, order_id=order_id))


@router.post("/{order_id}/declination", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="党员婉拒 Decline an order",
             description="被派单的党员说明原因后婉拒，订单退回社区重新派单。/ The member it was dispatched to declines "
                         "with a reason; the order goes back to the community to dispatch again.")
def decline(order_id: UUID, body: ReasonIn, commands: CommandsDep) -> object:
    return commands.run(action="order.decline", object_id=order_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.decline_order(
                            actor=commands.actor, order_id=order_id, reason=body.reason))


@router.post("/{order_id}/cancellation", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="取消订单 Cancel an order")
def cancel(order_id: UUID, body: ReasonIn, commands: CommandsDep) -> object:
    return commands.run(action="order.cancel", object_id=order_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.cancel_order(
                            actor=commands.actor, order_id=order_id, reason=body.reason))
