"""转移接续 under attack: forged, replayed and garbage federation messages never credit a member twice.

The attack of issue #10 (defect 1): anyone could post a garbage body naming a transfer id to the
destination's anonymous import endpoint and receive a destination-signed rejection; the source then
voided the transfer with it (unfreezing the member) while the real bundle still imported at the
destination. Each test here checks one of the three locks against it:

* the destination signs a rejection only for a transfer it can identify (the source region's
  signature on the transfer-out, under the key registered for that peer, addressed to us);
* the destination holds at most one answer per transfer: imported or rejected, never both;
* the source voids only with a rejection naming the SHA-256 of a bundle it exported for that transfer.
"""

from __future__ import annotations

import base64
import json
from uuid import uuid4

import pytest

from ledger.application import transfers
from tests.application.test_transfer import consented_member, regions, verified  # noqa: F401 - fixture
from tests.scenario import redeem


def _total_minutes(source, destination, member_id) -> int:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    """Minutes the member can spend, summed over the regions where the member is active."""
    total = 0
    for ledger in (source, destination):
        if not ledger._exists(member_id):
            continue
        member = ledger.get_member(member_id)
        if not member.closed and member.frozen_by is None:
            total += ledger.get_balance_minutes(member_id)
    return total


def _refusal(ledger, bundle: bytes) -> transfers.TransferRefused:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.import_bundle(ledger, bundle)
    return refused.value


def test_a_garbage_body_naming_a_transfer_gets_no_signed_rejection_and_cannot_void_it(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    garbage = json.dumps({"transfer_id": str(transfer_id), "source": {"code": "320102"}}).encode()
    refusal = _refusal(destination, garbage)
    assert transfers.rejection_receipt(destination, garbage, refusal) is None
    # The real bundle still imports; the source completes; the minutes exist once.
    receipt = transfers.import_bundle(destination, bundle)
    transfers.complete(source, receipt)
    assert _total_minutes(source, destination, member.actor_id) == 120
    verified(source)
    verified(destination)


def test_a_rejection_naming_another_bundle_does_not_void_the_transfer(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    # A rejection well signed by the destination, for this transfer, but of bytes the source never exported
    # (what today's destination signs for a garbage body).
    body = {"format": transfers.RECEIPT_FORMAT, "kind": "rejected", "transfer_id": str(transfer_id),
            "source": "320102", "destination": "320104", "bundle_sha256": "ab" * 32,
            "code": "bundle_unreadable", "reason": "garbage", "time": source.today().isoformat()}
    forged = transfers._sign_receipt(destination, body)
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.void(source, transfer_id, rejection=forged)
    assert refused.value.code == "receipt_wrong_bundle"
    no_hash = transfers._sign_receipt(destination, {k: v for k, v in body.items() if k != "bundle_sha256"})
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.void(source, transfer_id, rejection=no_hash)
    assert refused.value.code == "receipt_wrong_bundle"
    odd_kind = transfers._sign_receipt(destination, dict(body, kind="maybe",
                                                         bundle_sha256=transfers._sha256(bundle)))
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.void(source, transfer_id, rejection=odd_kind)
    assert refused.value.code == "receipt_invalid"
    assert transfers.get_transfer(source, transfer_id).status == "pending"
    transfers.complete(source, transfers.import_bundle(destination, bundle))
    assert _total_minutes(source, destination, member.actor_id) == 120


def test_the_full_attack_credits_the_member_once(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    """Issue #10's sequence end to end: garbage → rejection → void at the source → real import."""
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    for garbage in (json.dumps({"transfer_id": str(transfer_id), "source": {"code": "320102"}}).encode(),
                    json.dumps({"transfer_id": str(transfer_id), "source": {"code": "320102"},
                                "destination": "320104", "format": transfers.BUNDLE_FORMAT}).encode()):
        rejection = transfers.rejection_receipt(destination, garbage, _refusal(destination, garbage))
        if rejection is not None:
            try:
                transfers.void(source, transfer_id, rejection=rejection)
            except transfers.TransferRefused:
                pass
    try:
        receipt = transfers.import_bundle(destination, bundle)
    except transfers.TransferRefused:
        pass
    else:
        try:
            transfers.complete(source, receipt)
        except Exception:
            pass
    assert _total_minutes(source, destination, member.actor_id) <= 120


def _altered(bundle: bytes) -> bytes:
    """The real bundle with one history event damaged: the transfer is still identifiable."""
    document = json.loads(bundle)
    raw = bytearray(base64.b64decode(document["events"][-1]))
    raw[-3] ^= 1
    document["events"][-1] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(document).encode()


def test_after_importing_a_transfer_the_destination_never_signs_its_rejection(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    receipt = transfers.import_bundle(destination, bundle)
    altered = _altered(bundle)
    refusal = _refusal(destination, altered)
    assert refusal.code == "transfer_already_imported"
    assert transfers.rejection_receipt(destination, altered, refusal) is None
    assert transfers.rejection_receipt(destination, bundle, refusal) is None
    transfers.complete(source, receipt)
    assert _total_minutes(source, destination, member.actor_id) == 120


def test_after_rejecting_a_transfer_the_destination_never_imports_it(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    altered = _altered(bundle)
    first = transfers.rejection_receipt(destination, altered, _refusal(destination, altered))
    assert first is not None and first.body["bundle_sha256"] == transfers._sha256(altered)
    with pytest.raises(transfers.TransferRefused) as refused:  # the altered copy is not what the source sent
        transfers.void(source, transfer_id, rejection=first)
    assert refused.value.code == "receipt_wrong_bundle"
    refusal = _refusal(destination, bundle)  # the real bundle arrives after the rejection
    assert refusal.code == "transfer_already_rejected"
    assert not destination._exists(member.actor_id)
    second = transfers.rejection_receipt(destination, bundle, refusal)
    assert second is not None and second.body["bundle_sha256"] == transfers._sha256(bundle)
    transfers.void(source, transfer_id, rejection=second)
    assert _total_minutes(source, destination, member.actor_id) == 120
    redeem(region, member)  # spendable again at the source, and only there
    verified(source)
    verified(destination)


def test_a_rejection_for_a_transfer_of_another_source_or_destination_is_not_signed(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    bundle = transfers.export_bundle(source, transfers.initiate(source, member_id=member.actor_id,
                                                                destination="320104"))
    document = json.loads(bundle)
    for change in ({"transfer_id": str(uuid4())}, {"source": {"code": "320105", "name": "x"}},
                   {"destination": "320105"}, {"transfer_events": []}, {"region_certificate": "AAAA"}):
        forged = json.dumps(dict(document, **change)).encode()
        assert transfers.rejection_receipt(destination, forged, _refusal(destination, forged)) is None, change
    assert transfers.import_bundle(destination, bundle).accepted


def test_personal_fields_swapped_in_transit_are_refused(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    """The sealed personal fields are sealed to the destination's public key, which anyone can do:
    the source's signature over the sealed box is what ties them to the transfer."""
    from ledger.signing import sealed
    from ledger.signing.canonical import canonical_bytes

    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    document = json.loads(bundle)
    card = transfers.region_card(destination)
    swapped = sealed.seal_to(base64.b64decode(card["sealing_key"]), canonical_bytes({"mobile": "13000000000"}),
                             context=transfers._seal_context(transfer_id, "320104"))
    document["personal_sealed"] = base64.b64encode(swapped).decode()
    forged = json.dumps(document).encode()
    assert _refusal(destination, forged).code == "bundle_personal_invalid"
    for missing in ("personal_signature",):
        stripped = json.dumps({k: v for k, v in json.loads(bundle).items() if k != missing}).encode()
        assert _refusal(destination, stripped).code == "bundle_personal_invalid"
    assert not destination._exists(member.actor_id)
    transfers.import_bundle(destination, bundle)
    assert destination.member_personal_data(member.actor_id) == {"mobile": "15195888588"}
