"""签到 offline (issue #15 part 2): the organiser's venue device scans members' codes with no connection,
signs each scan with its own key (registered by the community, certified by the region) and syncs
them later, in order, exactly once. The ledger re-checks every rule; presence counts from the scan's
time, not the sync's. Forged, altered, replayed or misdirected scans are refused by name and change
nothing. The clock is pinned."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import Actor, Ledger
from ledger.domain.activities import BY_DEVICE_OFFLINE, DRAFTED
from ledger.domain.errors import (
    ActivityClosed,
    AlreadyCheckedIn,
    DeviceKeyRevoked,
    DeviceKeyUnknown,
    DeviceSignatureInvalid,
    MemberNotRegisteredHere,
    NotCheckedIn,
    NotPermitted,
    OfflineRecordInvalid,
)
from ledger.domain.values import Assurance, Role
from ledger.signing import keys as ed25519
from ledger.signing.offline import offline_scan_bytes
from tests.application import test_checkin
from tests.application.test_checkin import _open, _verifies, at
from tests.scenario import Region, build_region

clock, region = test_checkin.clock, test_checkin.region  # the pinned clock and the region, as there


class Device:
    """The venue device: its own key pair, registered once while online."""

    def __init__(self, region: Region) -> None:
        self.region = region
        self.private = ed25519.generate()
        public = ed25519.public_bytes(self.private.public_key())
        self.key_id = region.ledger.register_device(actor=region.community, public_key=public, label="签到平板")

    def scan(self, activity_id: UUID, member: Actor, action: str, moment: datetime,
             **changes: Any) -> tuple[dict[str, Any], bytes]:
        record = {"scan_id": str(uuid4()), "region": self.region.ledger.region_code,
                  "community": str(self.region.community.actor_id), "activity": str(activity_id),
                  "device_key_id": self.key_id, "member": str(member.actor_id), "action": action,
                  "scanned_at": moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        record.update(changes)
        return record, self.private.sign(offline_scan_bytes(record))

    def sync(self, activity_id: UUID, record: dict[str, Any], signature: bytes) -> Any:
        return self.region.ledger.sync_offline_scan(actor=self.region.community, activity_id=activity_id,
                                                    record=record, signature=signature)


def test_scans_taken_offline_sync_later_and_presence_counts_from_the_scan(region: Region,
                                                                          clock: list[datetime]) -> None:
    activity_id = _open(region)
    device = Device(region)
    member = region.members[0]
    queued = [device.scan(activity_id, member, "in", at(8, 55)), device.scan(activity_id, member, "out", at(10, 40))]
    clock[0] = at(10, 50)  # the connection is back ten minutes after the check-out
    first = device.sync(activity_id, *queued[0])
    assert (first.applied, first.result.action) == (True, "checked_in")
    second = device.sync(activity_id, *queued[1])
    assert (second.applied, second.result.outcome, second.result.presence_minutes) == (True, DRAFTED, 100)
    session = region.ledger.get_session(second.result.session_id)
    assert (session.assurance, session.minutes, session.start_time, session.end_time) == (
        Assurance.CHECKED_IN, 100, "09:00", "10:40")
    activity = region.ledger.get_activity(activity_id)
    entry = activity.attendance[member.actor_id]
    assert (entry["in_by"], entry["out_by"]) == (BY_DEVICE_OFFLINE, BY_DEVICE_OFFLINE)
    # each scan once: the same record again (a lost answer) gets the original result and writes nothing
    before = region.ledger.recorder.max_notification_id()
    again = device.sync(activity_id, *queued[1])
    assert (again.applied, again.result.session_id) == (False, second.result.session_id)
    assert region.ledger.recorder.max_notification_id() == before
    _verifies(region)  # the device-signed provenance and the community's events verify with the root key


def test_a_forged_altered_or_misdirected_scan_is_refused_by_name_and_changes_nothing(
        region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    device = Device(region)
    member = region.members[0]
    clock[0] = at(9, 30)
    record, signature = device.scan(activity_id, member, "in", at(9))
    stranger = ed25519.generate()
    other_activity = _open(region, title="另一场活动")
    cases: list[tuple[dict[str, Any], bytes, UUID, type[Exception]]] = [
        (dict(record, action="out"), signature, activity_id, DeviceSignatureInvalid),  # altered after signing
        (record, stranger.sign(offline_scan_bytes(record)), activity_id, DeviceSignatureInvalid),
        (record, signature[:-1], activity_id, DeviceSignatureInvalid),
        (dict(record, region="320199"), signature, activity_id, OfflineRecordInvalid),
        (dict(record, extra="x"), signature, activity_id, OfflineRecordInvalid),
        (dict(record, scanned_at="2026-11-14 01:00:00"), signature, activity_id, OfflineRecordInvalid),
        (record, signature, other_activity, OfflineRecordInvalid),  # signed for one activity, sent to another
        (dict(record, device_key_id="0" * 32), signature, activity_id, DeviceKeyUnknown),
    ]
    before = region.ledger.recorder.max_notification_id()
    for bad_record, bad_signature, target, error in cases:
        with pytest.raises(error):
            region.ledger.sync_offline_scan(actor=region.community, activity_id=target, record=bad_record,
                                            signature=bad_signature)
    assert region.ledger.recorder.max_notification_id() == before
    # a scan dated in the future, or before the device's key existed
    for moment in (at(10), datetime(2020, 1, 1, tzinfo=timezone.utc)):
        with pytest.raises(OfflineRecordInvalid):
            device.sync(activity_id, *device.scan(activity_id, member, "in", moment))
    assert region.ledger.recorder.max_notification_id() == before


def test_another_communitys_device_or_member_or_a_revoked_key_is_refused(region: Region,
                                                                       clock: list[datetime]) -> None:
    activity_id = _open(region)
    device = Device(region)
    clock[0] = at(9, 30)
    # a member enrolled by the unit but not registered with this community
    stranger = Actor(region.ledger.enrol_member(actor=region.unit, name="未报到党员", party_status="正式"), Role.MEMBER)
    with pytest.raises(MemberNotRegisteredHere):
        device.sync(activity_id, *device.scan(activity_id, stranger, "in", at(9)))
    # a member's login cannot sync a venue device's scan
    with pytest.raises(NotPermitted):
        region.ledger.sync_offline_scan(actor=region.members[0], activity_id=activity_id,
                                        record=device.scan(activity_id, region.members[0], "in", at(9))[0],
                                        signature=b"\0" * 64)
    # the key revoked: its scans not yet synced are refused
    region.ledger.revoke_key(authority=region.region, key_id=device.key_id, reason="平板遗失")
    with pytest.raises(DeviceKeyRevoked):
        device.sync(activity_id, *device.scan(activity_id, region.members[0], "in", at(9)))


def test_offline_scans_follow_the_same_rules_as_online_ones(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    device = Device(region)
    member = region.members[1]
    clock[0] = at(9, 10)
    region.ledger.scan_member_code(actor=region.community, activity_id=activity_id, member_id=member.actor_id)
    with pytest.raises(AlreadyCheckedIn):  # checked in online meanwhile: the device's scan shows refused
        device.sync(activity_id, *device.scan(activity_id, member, "in", at(9, 5)))
    with pytest.raises(NotCheckedIn):  # a check-out of a member the activity never saw check in
        device.sync(activity_id, *device.scan(activity_id, region.members[2], "out", at(9, 5)))
    region.ledger.close_activity(actor=region.community, activity_id=activity_id)
    with pytest.raises(ActivityClosed):  # synced after the office closed the activity
        device.sync(activity_id, *device.scan(activity_id, region.members[2], "in", at(9, 6)))


@settings(max_examples=40, deadline=None)
@given(field=st.sampled_from(["scan_id", "region", "community", "activity", "device_key_id", "member", "action",
                              "scanned_at"]),
       value=st.one_of(st.none(), st.integers(), st.text(max_size=40), st.lists(st.integers(), max_size=2)))
def test_any_field_changed_is_refused_never_a_traceback(field: str, value: Any) -> None:
    from ledger.demo import simulated

    with simulated(at(9, 30)):
        region = build_region(Ledger("memory:"), members=1)
        activity_id = _open(region)
        device = Device(region)
        record, signature = device.scan(activity_id, region.members[0], "in", at(9))
        changed = dict(record, **{field: value})
        if changed == record:
            return
        with pytest.raises((OfflineRecordInvalid, DeviceSignatureInvalid, DeviceKeyUnknown)):
            device.sync(activity_id, changed, signature)
