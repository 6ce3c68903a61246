"""离线兑换 sync under attack (issue #15): a record a careless or hostile device signs — odd dates, ids
with a trailing newline, types that are not the format's, a signature of any length — is refused by
name, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.errors import LedgerError, OfflineRecordInvalid
from tests.application import test_offline_redemption
from tests.application.test_offline_redemption import Device, _member
from tests.scenario import Region

clock, region = test_offline_redemption.clock, test_offline_redemption.region  # the fixtures


def _odd(record: dict[str, Any]) -> list[dict[str, Any]]:
    line = record["items"][0]
    return [
        dict(record, created_at="2026-13-45T25:61:61Z"),  # the shape of an instant, not one
        dict(record, created_at="2026-02-30T02:00:00Z"),
        dict(record, created_at=record["created_at"] + "\n"),
        dict(record, redemption_id=record["redemption_id"] + "\n"),
        dict(record, member=record["member"] + "\n"),
        dict(record, counter=record["counter"] + "\n"),
        dict(record, device_key_id=record["device_key_id"] + "\n"),
        dict(record, items=[dict(line, item_id=line["item_id"] + "\n")]),
        dict(record, minutes=True),
        dict(record, items=[dict(line, quantity=True)]),
        dict(record, items=[line] * 51),
        dict(record, items="毛巾"),
        dict(record, region=None),
        {**record, "extra": 1},
        dict(record, items=[{**line, "name": "毛巾"}]),
    ]


def test_an_odd_offline_record_is_refused_by_name_and_changes_nothing(region: Region) -> None:
    member = _member(region, 120)
    device = Device(region)
    before = region.ledger.recorder.max_notification_id()
    for record in _odd(device.record(member)):
        with pytest.raises(LedgerError) as refused:
            region.ledger.sync_offline_redemption(actor=device.counter, record=record, signature=b"\x00" * 64)
        assert isinstance(refused.value, OfflineRecordInvalid), (record, refused.value)
    assert region.ledger.recorder.max_notification_id() == before
    assert region.ledger.get_account(member.actor_id).balance_minutes == 120


def test_a_signature_of_any_length_is_refused_by_name(region: Region) -> None:
    member = _member(region, 120)
    device = Device(region)
    record = device.record(member)
    for signature in (b"", b"\x00", b"\x00" * 63, b"\x00" * 65, b"\xff" * 64, device.sign(record) + b"\x00"):
        with pytest.raises(LedgerError) as refused:
            region.ledger.sync_offline_redemption(actor=device.counter, record=record, signature=signature)
        assert refused.value.code == "device_signature_invalid"
