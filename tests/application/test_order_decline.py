"""党员婉拒: a member declines an order dispatched to them, with a reason; the office dispatches it
again (issue #12)."""

from __future__ import annotations

import pytest

import base64
from uuid import UUID, uuid4

from ledger.application import Actor, Ledger
from ledger.domain.errors import InvalidInput, NotPermitted, OrderWrongState
from ledger.verification.store import verify_store
from tests.scenario import Region, build_region


def _dispatched(ledger: Ledger) -> tuple[Region, UUID, tuple[Actor, Actor]]:
    region = build_region(ledger, members=2)
    first, second = region.members
    menu_id = ledger.publish_menu_item(actor=region.community, title="陪同就医")
    order_id = ledger.place_order(actor=region.resident, community_id=region.community.actor_id,
                                  menu_item_id=menu_id, note="周三上午，腿脚不便")
    ledger.dispatch_order(actor=region.community, order_id=order_id, member_id=first.actor_id)
    return region, order_id, (first, second)


def test_a_declined_order_goes_back_to_the_office_with_its_reason(ledger: Ledger) -> None:
    region, order_id, (first, second) = _dispatched(ledger)
    ledger.decline_order(actor=first, order_id=order_id, reason="当天出差")
    order = ledger.get_order(order_id)
    assert (order.status, order.member_id, order.declined_reason) == ("placed", None, "当天出差")
    ledger.dispatch_order(actor=region.community, order_id=order_id, member_id=second.actor_id)
    ledger.accept_order(actor=second, order_id=order_id)
    assert ledger.get_order(order_id).status == "accepted"


def test_only_the_dispatched_member_declines_and_only_while_dispatched(ledger: Ledger) -> None:
    _, order_id, (first, second) = _dispatched(ledger)
    with pytest.raises(NotPermitted):
        ledger.decline_order(actor=second, order_id=order_id, reason="不是我的")
    with pytest.raises(InvalidInput):
        ledger.decline_order(actor=first, order_id=order_id, reason="  ")
    ledger.accept_order(actor=first, order_id=order_id)
    with pytest.raises(OrderWrongState):
        ledger.decline_order(actor=first, order_id=order_id, reason="改主意了")


def test_the_community_orders_on_behalf_of_a_resident_it_registered(ledger: Ledger) -> None:
    """电话点单: a resident who telephones the office; the community signs the order for them."""
    region = build_region(ledger, members=1)
    menu_id = ledger.publish_menu_item(actor=region.community, title="代购代办")
    assert ledger.residents_of(region.community.actor_id) == [(region.resident.actor_id, "居民甲")]
    order_id = ledger.place_order(actor=region.community, community_id=region.community.actor_id,
                                  menu_item_id=menu_id, note="电话点单", resident_id=region.resident.actor_id)
    order = ledger.get_order(order_id)
    assert (order.resident_id, order.note, order.status) == (region.resident.actor_id, "电话点单", "placed")
    with pytest.raises(InvalidInput):
        ledger.place_order(actor=region.community, community_id=region.community.actor_id, menu_item_id=menu_id)
    with pytest.raises(NotPermitted):  # a member is no resident
        ledger.place_order(actor=region.community, community_id=region.community.actor_id, menu_item_id=menu_id,
                           resident_id=region.members[0].actor_id)
    with pytest.raises(NotPermitted):  # a resident orders for themself only
        ledger.place_order(actor=region.resident, community_id=region.community.actor_id, menu_item_id=menu_id,
                           resident_id=uuid4())
    report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                          region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
    assert report.ok, [str(p) for p in report.problems]
