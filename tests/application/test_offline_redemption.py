"""离线兑换 (issue #15 part 2): a counter device signs a redemption with its own key while offline and
syncs it later. On sync the ledger re-checks every rule: the device key (registered to this counter,
unrevoked) and its signature, the items, the region's offline bound; a balance that no longer covers
the redemption leaves the rest owed (never below zero); a retry is answered with the original result.
The clock is pinned: nothing depends on today."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Actor, Ledger
from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    DeviceKeyRevoked,
    DeviceKeyUnknown,
    DeviceSignatureInvalid,
    InvalidInput,
    NotPermitted,
    OfflineBoundExceeded,
    OfflineItemUnknown,
    OfflineRecordInvalid,
    OfflineRedemptionsOff,
    RedemptionExistsWithDifferentTerms,
)
from ledger.domain.values import Role
from ledger.signing import keys as ed25519
from ledger.signing.offline import offline_redemption_bytes
from ledger.verification.store import verify_store
from projections import queries
from projections.audit import audit
from projections.projector import Views
from tests.projections.helpers import fresh_views
from tests.scenario import Region, add_member, build_region, serve

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 in China
PRICE = 30  # the scenario's 毛巾


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    now = [NOW]
    token = CLOCK.set(lambda: now[0])
    yield now
    CLOCK.reset(token)


@pytest.fixture
def region(clock: list[datetime]) -> Region:
    built = build_region(Ledger("memory:"), members=0)
    built.ledger.set_offline_bound(actor=built.region, minutes_per_member_day=120, reason="断网时保障老人兑换")
    return built


class Device:
    """A counter device: its own key pair, registered while online."""

    def __init__(self, region: Region, counter: Actor | None = None) -> None:
        self.region = region
        self.counter = counter or region.counter
        self.private = Ed25519PrivateKey.generate()
        self.key_id = region.ledger.register_device(
            actor=self.counter, public_key=ed25519.public_bytes(self.private.public_key()), label="收银台平板")

    def record(self, member: Actor, quantity: int = 1, *, at: datetime = NOW, item: UUID | None = None,
               redemption_id: UUID | None = None) -> dict[str, Any]:
        return {"redemption_id": str(redemption_id or uuid4()), "region": self.region.ledger.region_code,
                "counter": str(self.counter.actor_id), "device_key_id": self.key_id, "member": str(member.actor_id),
                "items": [{"item_id": str(item or self.region.item_id), "quantity": quantity, "price_minutes": PRICE}],
                "minutes": quantity * PRICE, "created_at": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}

    def sign(self, record: dict[str, Any]) -> bytes:
        return self.private.sign(offline_redemption_bytes(record))

    def sync(self, record: dict[str, Any]) -> Any:
        return self.region.ledger.sync_offline_redemption(actor=self.counter, record=record,
                                                          signature=self.sign(record))


def _member(region: Region, minutes: int) -> Actor:
    member = add_member(region)
    if minutes:
        serve(region, member, minutes)
    return member


def _verifies(region: Region) -> None:
    ledger = region.ledger
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems


def test_a_synced_record_is_redeemed_signed_by_the_counter_with_the_device_signature_inside(region: Region) -> None:
    member = _member(region, 60)
    device = Device(region)
    key = region.ledger.get_key(device.key_id)
    assert key.owner_id == region.counter.actor_id and key.role == "counter"
    assert key.certified_by == region.ledger.key_id_of(region.community)  # the community certifies its counter's
    record = device.record(member)
    result = device.sync(record)
    assert (result.applied, result.minutes, result.owed_added_minutes, result.balance_minutes) == (True, 30, 0, 30)
    account = region.ledger.get_account(member.actor_id)
    _verifies(region)
    stored = region.ledger.recorder.select_events(account.id)
    assert stored[-1].topic.endswith("TimeAccount.RedeemedOffline")


def test_a_retry_is_answered_with_the_original_result_and_charges_once(region: Region) -> None:
    member = _member(region, 40)
    device = Device(region)
    record = device.record(member)
    first = device.sync(record)
    serve(region, member, 100)  # the balance changes between the two answers
    again = device.sync(record)
    assert (again.applied, again.minutes, again.owed_added_minutes) == (False, first.minutes, first.owed_added_minutes)
    assert region.ledger.get_account(member.actor_id).redeemed_minutes_total == 30
    altered = dict(record, items=[dict(record["items"][0], quantity=2)], minutes=60)
    with pytest.raises(RedemptionExistsWithDifferentTerms):
        device.sync(altered)


def test_two_devices_offline_spend_the_same_balance_the_second_is_owed_never_below_zero(region: Region) -> None:
    member = _member(region, 45)
    first, second = Device(region), Device(region)
    one = first.sync(first.record(member))  # 30 of 45
    two = second.sync(second.record(member))  # 30 more: 15 from the balance, 15 owed
    account = region.ledger.get_account(member.actor_id)
    assert (one.owed_added_minutes, two.owed_added_minutes) == (0, 15)
    assert (account.balance_minutes, account.owed_minutes) == (0, 15)
    views = fresh_views(region.ledger)  # the community's list and the region's exposure
    views.rebuild()
    community = str(region.community.actor_id)
    [short] = queries.offline_shortfalls(views, community_id=community)
    assert (short["member_id"], short["minutes"], short["owed_added_minutes"]) == (str(member.actor_id), 30, 15)
    assert queries.offline_exposure(views) == queries.OfflineExposure(redemptions=2, minutes=60, short=1,
                                                                      owed_minutes=15)
    [balance] = queries.balances(views, community_id=community)
    assert (balance.available_minutes, balance.owed_minutes, balance.redeemed_minutes) == (0, 15, 60)
    serve(region, member, 20)  # the next credit repays the owed minutes first
    account = region.ledger.get_account(member.actor_id)
    assert (account.balance_minutes, account.owed_minutes) == (5, 0)
    _verifies(region)


@settings(max_examples=25)
@given(credit=st.integers(0, 200), baskets=st.lists(st.tuples(st.booleans(), st.integers(1, 3)), min_size=1,
                                                     max_size=6))
def test_offline_syncs_never_take_the_balance_below_zero(credit: int, baskets: list[tuple[bool, int]]) -> None:
    token = CLOCK.set(lambda: NOW)
    try:
        region = build_region(Ledger("memory:"), members=0)
        region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=24 * 60, reason="测试")
        member = _member(region, credit)
        devices = (Device(region), Device(region))
        redeemed = 0
        for on_second, quantity in baskets:
            devices[on_second].sync(devices[on_second].record(member, quantity))
            redeemed += quantity * PRICE
            account = region.ledger.get_account(member.actor_id)
            assert account.balance_minutes >= 0 and account.owed_minutes >= 0
            assert account.balance_minutes - account.owed_minutes == credit - redeemed
    finally:
        CLOCK.reset(token)


def test_a_forged_signature_another_counters_key_and_an_unknown_key_are_refused(region: Region) -> None:
    member = _member(region, 60)
    device = Device(region)
    record = device.record(member)
    with pytest.raises(DeviceSignatureInvalid):  # signed, then altered
        region.ledger.sync_offline_redemption(actor=region.counter, record=dict(record, minutes=31, items=[
            dict(record["items"][0], price_minutes=31)]), signature=device.sign(record))
    stranger = Ed25519PrivateKey.generate()  # a key nobody registered, claiming the device's key id
    with pytest.raises(DeviceSignatureInvalid):
        region.ledger.sync_offline_redemption(actor=region.counter, record=record,
                                              signature=stranger.sign(offline_redemption_bytes(record)))
    other_counter = Actor(region.ledger.open_counter(actor=region.community, name="二号柜台"), Role.COUNTER)
    other = Device(region, other_counter)
    borrowed = dict(record, device_key_id=other.key_id)  # another counter's device
    with pytest.raises(DeviceKeyUnknown):
        region.ledger.sync_offline_redemption(actor=region.counter, record=borrowed, signature=other.sign(borrowed))
    with pytest.raises(OfflineRecordInvalid):  # a record of this counter synced by another
        region.ledger.sync_offline_redemption(actor=other_counter, record=record, signature=device.sign(record))
    unknown = dict(record, device_key_id="0" * 32)
    with pytest.raises(DeviceKeyUnknown):
        region.ledger.sync_offline_redemption(actor=region.counter, record=unknown, signature=device.sign(unknown))
    assert region.ledger.get_account(member.actor_id).balance_minutes == 60


def test_a_revoked_device_is_refused_but_its_synced_records_are_still_answered(region: Region) -> None:
    member = _member(region, 90)
    device = Device(region)
    synced = device.record(member)
    device.sync(synced)
    region.ledger.revoke_key(authority=region.community, key_id=device.key_id, reason="平板遗失")
    with pytest.raises(DeviceKeyRevoked):
        device.sync(device.record(member))
    assert device.sync(synced).applied is False  # the retry of what was synced before
    _verifies(region)


def test_the_region_bound_per_member_per_day_and_zero_meaning_none(region: Region, clock: list[datetime]) -> None:
    member = _member(region, 600)
    device = Device(region)
    device.sync(device.record(member, 2))  # 60
    device.sync(device.record(member, 2))  # 120: the bound
    with pytest.raises(OfflineBoundExceeded) as over:
        device.sync(device.record(member, 1))
    assert over.value.params == {"bound_minutes": 120, "used_minutes": 120}
    clock[0] = NOW + timedelta(days=1)  # the next China day starts afresh
    device.sync(device.record(member, 1, at=NOW + timedelta(days=1)))
    version = region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=0, reason="暂停离线兑换")
    assert version == region.ledger.get_region().offline_bound_version == 2
    with pytest.raises(OfflineRedemptionsOff):
        device.sync(device.record(member, 1, at=NOW + timedelta(days=1)))
    with pytest.raises(InvalidInput):
        region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=-1, reason="无")
    with pytest.raises(NotPermitted):
        region.ledger.set_offline_bound(actor=region.community, minutes_per_member_day=60, reason="社区自定")


def test_the_region_total_per_device_per_day_bounds_what_one_device_hands_out(region: Region,
                                                                               clock: list[datetime]) -> None:
    """Beside the per-member bound, a total per device per day: three members, each within their own bound,
    but the device's third basket would pass its total; another device, or the next day, starts afresh; a
    retry of a basket already taken is still answered; a refusal writes nothing."""
    version = region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=120, reason="断网保障",
                                              minutes_per_device_day=60)
    assert (region.ledger.get_region().offline_minutes_per_device_day, version) == (60, 2)
    members = [_member(region, 120) for _ in range(3)]
    device, other = Device(region), Device(region)
    first = device.record(members[0])
    device.sync(first)
    device.sync(device.record(members[1]))  # 60 in all: the device's total
    before = region.ledger.recorder.max_notification_id()
    with pytest.raises(OfflineBoundExceeded) as over:
        device.sync(device.record(members[2]))
    assert (over.value.reason, over.value.params) == ("offline_device_bound_exceeded",
                                                      {"bound_minutes": 60, "used_minutes": 60})
    assert region.ledger.recorder.max_notification_id() == before
    assert device.sync(first).applied is False  # a retry of one taken: answered, not counted again
    assert other.sync(other.record(members[2])).applied  # another device has its own total
    clock[0] = NOW + timedelta(days=1)
    assert device.sync(device.record(members[2], at=NOW + timedelta(days=1))).applied  # a new China day
    # the member bound alone changes the older event; a total left out is unchanged
    assert region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=90, reason="调整") == 3
    assert region.ledger.get_region().offline_minutes_per_device_day == 60
    with pytest.raises(InvalidInput):
        region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=60, reason="无",
                                        minutes_per_device_day=-5)
    _verifies(region)


def test_unknown_items_bad_totals_and_impossible_dates_are_refused(region: Region) -> None:
    member = _member(region, 600)
    device = Device(region)
    with pytest.raises(OfflineItemUnknown):
        device.sync(device.record(member, item=uuid4()))
    record = device.record(member)
    with pytest.raises(OfflineRecordInvalid):
        device.sync(dict(record, minutes=record["minutes"] + 1))
    with pytest.raises(OfflineRecordInvalid):
        device.sync(device.record(member, at=NOW + timedelta(hours=1)))  # ahead of the ledger's clock
    with pytest.raises(OfflineRecordInvalid):
        device.sync(device.record(member, at=NOW - timedelta(days=1)))  # before the device had its key
    with pytest.raises(OfflineRecordInvalid):
        device.sync(dict(record, region="110101"))
    assert region.ledger.get_account(member.actor_id).balance_minutes == 600


def test_the_audit_replays_offline_redemptions_and_agrees_with_the_read_models(
        clock: list[datetime], tmp_path: Any) -> None:
    region = build_region(Ledger(f"sqlite:///{tmp_path / 'offline.db'}"), members=0)
    region.ledger.set_offline_bound(actor=region.region, minutes_per_member_day=120, reason="断网时保障老人兑换")
    member = _member(region, 45)
    first, second = Device(region), Device(region)
    first.sync(first.record(member))
    second.sync(second.record(member))  # 15 owed
    views = Views(region.ledger)  # the read models in the store, as `timeledger serve` keeps them
    views.rebuild()
    views.engine.dispose()
    report = audit(region.ledger, workers=0)
    assert report.ok and not report.incomplete, (report.differences, report.incomplete)
    assert report.views_compared == "yes" and report.accounts >= 1, report
    region.ledger.close()
