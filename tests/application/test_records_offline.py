"""服务记录 typed offline on the member's phone (issue #15 part 2): the phone's own key (certified by the
member's community) signs the record; synced later, exactly once, with every rule of a typed record
re-checked and the device's signature kept in the member-signed event; lateness counts to the day it
was typed. Forged, altered, replayed or misdirected records are refused by name and change nothing."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from uuid import uuid4

import pytest

from ledger.application import Actor, Ledger
from ledger.demo import simulated
from ledger.domain.errors import (
    DeviceKeyRevoked,
    DeviceKeyUnknown,
    DeviceSignatureInvalid,
    InvalidInput,
    NotPermitted,
    OfflineRecordInvalid,
)
from ledger.domain.service_session import OFFLINE_DEVICE
from ledger.domain.values import Assurance
from ledger.signing import keys as ed25519
from ledger.signing.offline import offline_session_bytes
from ledger.verification.store import verify_store
from tests.scenario import Region, build_region

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)  # 10:00 China time, a Friday


class Phone:
    def __init__(self, region: Region, member: Actor) -> None:
        self.region, self.member = region, member
        self.private = ed25519.generate()
        self.key_id = region.ledger.register_device(actor=member, public_key=ed25519.public_bytes(
            self.private.public_key()), label="我的手机")

    def record(self, created_at: datetime = NOW, **changes: Any) -> tuple[dict[str, Any], bytes]:
        record = {"session_id": str(uuid4()), "region": self.region.ledger.region_code,
                  "member": str(self.member.actor_id), "device_key_id": self.key_id, "activity": "敬老助餐",
                  "content": "为独居老人送餐", "place": "紫鑫城社区", "service_date": "2026-11-19",
                  "start_time": "09:00", "end_time": "11:00", "minutes": 120, "post_id": str(self.region.post_id),
                  "order_id": "", "organiser": "", "recipient": "",
                  "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        record.update(changes)
        return record, self.private.sign(offline_session_bytes(record))

    def sync(self, record: dict[str, Any], signature: bytes, actor: Actor | None = None) -> tuple[Any, bool]:
        return self.region.ledger.sync_offline_session(actor=actor or self.member, record=record,
                                                       signature=signature)


@pytest.fixture
def region() -> Any:
    with simulated(NOW):
        yield build_region(Ledger("memory:"), members=2)


def test_a_record_typed_offline_syncs_once_with_the_devices_signature_kept(region: Region) -> None:
    phone = Phone(region, region.members[0])
    record, signature = phone.record()
    session_id, applied = phone.sync(record, signature)
    assert applied and str(session_id) == record["session_id"]
    session = region.ledger.get_session(session_id)
    assert (session.assurance, session.minutes, session.late) == (Assurance.SELF_REPORTED, 120, False)
    assert session.source == {"kind": OFFLINE_DEVICE, "device_key_id": phone.key_id,
                              "device_signature": ed25519.b64(signature), "created_at": record["created_at"]}
    before = region.ledger.recorder.max_notification_id()
    assert phone.sync(record, signature) == (session_id, False)  # a retry: nothing new
    assert region.ledger.recorder.max_notification_id() == before
    # the office certifies it as any typed record
    region.ledger.rate_session(actor=region.community, session_id=session_id, rating="优")
    assert region.ledger.certify_session(actor=region.community, session_id=session_id) == 120
    report = verify_store(region.ledger.database, root_public_key=region.root_public_key,
                          region_code=region.ledger.region_code, recorder=region.ledger.recorder, workers=0)
    assert report.ok, report.problems


def test_lateness_counts_to_the_day_it_was_typed_not_the_day_it_synced(region: Region) -> None:
    phone = Phone(region, region.members[0])
    typed = datetime(2026, 11, 20, 2, 5, tzinfo=timezone.utc)
    record, signature = phone.record(created_at=typed)
    with simulated(datetime(2026, 12, 20, 2, 0, tzinfo=timezone.utc)):  # a month offline
        session_id, _ = phone.sync(record, signature)
    assert region.ledger.get_session(session_id).late is False


def test_forged_altered_or_misdirected_records_are_refused_and_change_nothing(region: Region) -> None:
    member, other = region.members
    phone = Phone(region, member)
    record, signature = phone.record()
    stranger = ed25519.generate()
    before = region.ledger.recorder.max_notification_id()
    for bad, bad_signature, error in [
        (dict(record, minutes=600), signature, DeviceSignatureInvalid),
        (record, stranger.sign(offline_session_bytes(record)), DeviceSignatureInvalid),
        (dict(record, region="320199"), signature, OfflineRecordInvalid),
        (dict(record, extra=1), signature, OfflineRecordInvalid),
        (dict(record, minutes="120"), signature, OfflineRecordInvalid),
        (dict(record, service_date="2026-13-01"), signature, OfflineRecordInvalid),
        (dict(record, device_key_id="0" * 32), signature, DeviceKeyUnknown),
    ]:
        with pytest.raises(error):
            phone.sync(bad, bad_signature)
    with pytest.raises(OfflineRecordInvalid):  # another member's login cannot sync this member's record
        phone.sync(record, signature, actor=other)
    with pytest.raises(NotPermitted):
        region.ledger.sync_offline_session(actor=region.community, record=record, signature=signature)
    # the record's own rules: minutes beyond its span are refused as when typed online
    with pytest.raises(InvalidInput):
        phone.sync(*phone.record(minutes=500))
    with pytest.raises(OfflineRecordInvalid):  # dated in the future
        phone.sync(*phone.record(created_at=datetime(2026, 11, 21, tzinfo=timezone.utc)))
    assert region.ledger.recorder.max_notification_id() == before
    # a revoked phone: its records not yet synced are refused; one synced before stays
    region.ledger.revoke_key(authority=region.community, key_id=phone.key_id, reason="手机遗失")
    with pytest.raises(DeviceKeyRevoked):
        phone.sync(record, signature)
    assert date(2026, 11, 19).isoformat() == record["service_date"]
