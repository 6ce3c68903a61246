"""The whole 报到 → 服务 → 认证 → 兑换 flow on every store (memory, SQLite file, PostgreSQL)."""

from __future__ import annotations

import base64
from datetime import date
from uuid import uuid4

import pytest

from ledger.application import Actor, Ledger
from ledger.domain.errors import (
    BalanceWouldGoNegative,
    ConcurrentUpdate,
    ConsentMissing,
    InvalidInput,
    ItemNotAvailable,
    NotPermitted,
    PersonalDataErased,
    RedemptionExistsWithDifferentTerms,
)
from ledger.domain.values import ConsentPurpose, Role
from ledger.verification.store import verify_store
from tests.scenario import add_member, at_day, build_region, redeem, serve


def verified(ledger: Ledger) -> None:
    report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                          region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
    assert report.ok, [str(p) for p in report.problems]


def test_certified_minutes_are_redeemed_exactly_once(any_ledger: Ledger) -> None:
    region = build_region(any_ledger, members=1)
    member = region.members[0]
    serve(region, member, 120)
    assert any_ledger.get_balance_minutes(member.actor_id) == 120
    redemption_id = uuid4()
    first = redeem(region, member, quantity=2, redemption_id=redemption_id)
    retry = redeem(region, member, quantity=2, redemption_id=redemption_id)
    assert (first.applied, retry.applied) == (True, False)
    assert first.balance_minutes == retry.balance_minutes == 60
    with pytest.raises(RedemptionExistsWithDifferentTerms):
        redeem(region, member, quantity=1, redemption_id=redemption_id)
    with pytest.raises(BalanceWouldGoNegative):
        redeem(region, member, quantity=3)
    assert any_ledger.get_balance_minutes(member.actor_id) == 60
    verified(any_ledger)


def test_uncertified_and_rejected_sessions_deposit_nothing(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    member = region.members[0]
    pending = serve(region, member, 60, certify=False)
    rejected = serve(region, member, 60, certify=False)
    ledger.reject_session(actor=region.community, session_id=rejected, reason="无法核实")
    assert ledger.get_balance_minutes(member.actor_id) == 0
    assert ledger.get_session(pending).status == "recorded"
    assert ledger.get_session(rejected).rejection_reason == "无法核实"


def test_corrections_and_complaints_move_minutes_by_new_events(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    member = region.members[0]
    session_id = serve(region, member, 120)
    assert ledger.correct_session(actor=region.community, session_id=session_id, changes={"minutes": 90},
                                  reason="党员申请更正") == -30
    assert ledger.get_balance_minutes(member.actor_id) == 90
    redeem(region, member, quantity=3)  # spend all 90
    assert ledger.uphold_complaint(actor=region.community, session_id=session_id, reason="投诉属实") == 90
    account = ledger.get_account(member.actor_id)
    assert (account.balance_minutes, account.owed_minutes) == (0, 90)
    serve(region, member, 100)
    assert ledger.get_balance_minutes(member.actor_id) == 10  # the owed 90 is repaid first
    verified(ledger)


def test_a_community_acts_only_on_its_own_members(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    other = Actor(ledger.register_community(actor=region.region, name="玄武门社区", county="玄武区", street="玄武门街道"),
                  Role.COMMUNITY)
    session_id = serve(region, region.members[0], 60, certify=False)
    with pytest.raises(NotPermitted):
        ledger.certify_session(actor=other, session_id=session_id)
    with pytest.raises(NotPermitted):
        ledger.certify_session(actor=region.counter, session_id=session_id)


def test_registration_needs_a_claimed_post_and_records_late_reporting(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    member_id = ledger.enrol_member(actor=region.unit, name="李明", party_status="预备")
    with pytest.raises(InvalidInput):
        ledger.register_member(actor=region.community, member_id=member_id, post_ids=[])
    with at_day(date(2026, 9, 15)):
        ledger.register_member(actor=region.community, member_id=member_id, post_ids=[region.post_id])
    member = ledger.get_member(member_id)
    assert member.reported_on == date(2026, 9, 15) and member.report_late
    assert list(member.posts) == [region.post_id]


def test_report_slip_receipt_names_the_claimed_posts(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    member_id = ledger.enrol_member(actor=region.unit, name="王芳", party_status="正式")
    slip_id = ledger.issue_report_slip(actor=region.unit, member_id=member_id, community_id=region.community.actor_id)
    ledger.register_member(actor=region.community, member_id=member_id, post_ids=[region.post_id], slip_id=slip_id)
    slip = ledger.get_report_slip(slip_id)
    assert slip.receipt_sent_on is not None
    assert slip.post_names == [ledger.get_community(region.community.actor_id).posts[region.post_id]]


def test_personal_data_is_sealed_and_erasable(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    member = add_member(region, personal={"mobile": "13800138000", "home_address": "龙蟠路1号"})
    assert ledger.member_personal_data(member.actor_id) == {"mobile": "13800138000", "home_address": "龙蟠路1号"}
    assert all(v.startswith("enc:v1:") for v in ledger.get_member(member.actor_id).personal.values())
    serve(region, member, 60)
    ledger.erase_personal_data(actor=region.community, member_id=member.actor_id)
    with pytest.raises(PersonalDataErased):
        ledger.member_personal_data(member.actor_id)
    assert ledger.get_balance_minutes(member.actor_id) == 60
    verified(ledger)


def test_consent_is_recorded_and_withdrawable(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    member = region.members[0]
    consent_id = ledger.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    ledger.require_consent(member.actor_id, ConsentPurpose.TRANSFER, "320104")
    ledger.withdraw_consent(actor=member, member_id=member.actor_id, consent_id=consent_id)
    with pytest.raises(ConsentMissing):
        ledger.require_consent(member.actor_id, ConsentPurpose.TRANSFER, "320104")


def test_a_transfer_consent_names_another_region_never_this_one(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    member = region.members[0]
    assert ledger.region_code is not None
    with pytest.raises(InvalidInput, match="本地区"):
        ledger.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient=ledger.region_code)
    assert not ledger.get_member(member.actor_id).consents


def test_resident_orders_flow_through_the_three_slips(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    member = region.members[0]
    menu_id = ledger.publish_menu_item(actor=region.community, title="陪同就医")
    order_id = ledger.place_order(actor=region.resident, community_id=region.community.actor_id, menu_item_id=menu_id)
    ledger.dispatch_order(actor=region.community, order_id=order_id, member_id=member.actor_id)
    ledger.accept_order(actor=member, order_id=order_id)
    session_id = ledger.record_session(actor=member, member_id=member.actor_id, activity="陪同就医", content="陪诊",
                                       place="医院", service_date=ledger.today(), start_time="08:00",
                                       end_time="10:00", minutes=100, order_id=order_id)
    ledger.rate_session(actor=region.resident, session_id=session_id, rating="优")
    ledger.certify_session(actor=region.community, session_id=session_id)
    assert ledger._get(order_id, type(ledger._get(order_id, object))).status == "fulfilled"  # type: ignore[arg-type]  # any aggregate class


def test_storage_cap_limits_the_balance(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    ledger.change_region_settings(actor=region.region, storage_cap_minutes=100)
    serve(region, region.members[0], 120)
    account = ledger.get_account(region.members[0].actor_id)
    assert (account.balance_minutes, account.over_cap_minutes_total) == (100, 20)


def test_delisted_items_cannot_be_redeemed(ledger: Ledger) -> None:
    region = build_region(ledger, members=1)
    serve(region, region.members[0], 60)
    ledger.delist_catalogue_item(actor=region.community, item_id=region.item_id)
    with pytest.raises(ItemNotAvailable):
        redeem(region, region.members[0])


def test_group_commit_saves_many_commands_in_one_transaction(any_ledger: Ledger) -> None:
    region = build_region(any_ledger, members=3)
    for member in region.members:
        serve(region, member, 90)
    before = any_ledger.recorder.max_notification_id()
    with any_ledger.batch():
        for member in region.members:
            redeem(region, member)
            redeem(region, member)  # the second sees the first inside the batch
        assert any_ledger.recorder.max_notification_id() == before  # nothing saved yet
    assert [any_ledger.get_balance_minutes(m.actor_id) for m in region.members] == [30, 30, 30]
    verified(any_ledger)


def test_two_ledgers_racing_on_one_account_never_overdraw(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    first = Ledger(url)
    region = build_region(first, members=1)
    member = region.members[0]
    serve(region, member, 30)
    second = Ledger(url, master_key=first.secrets._master_key)
    account_a = first.get_account(member.actor_id)
    second.get_account(member.actor_id)  # both have loaded version N
    redeem(region, member)  # first spends the 30 minutes
    region.ledger = second
    with pytest.raises((ConcurrentUpdate, BalanceWouldGoNegative)):
        redeem(region, member)
    assert second.get_balance_minutes(member.actor_id) == 0
    assert account_a.balance_minutes == 30  # the stale copy was never saved
