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
import dataclasses
import json
from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.application import transfers
from ledger.demo import simulated
from ledger.domain.errors import InvalidInput, WrongState
from ledger.domain.transfer import TransferImport, TransferRejection
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
    """Here the one answer is "not imported", signed for the source's query after the expiry; even a
    destination whose clock runs behind the source's never imports the transfer afterwards."""
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    expired = transfers.get_transfer(source, transfer_id).expires_at + timedelta(minutes=1)
    with simulated(expired):
        answer = transfers.status_answer(destination, bundle)
        assert answer.not_imported and answer.body["code"] == TransferRejection.NOT_IMPORTED
        transfers.void(source, transfer_id, rejection=answer)
    refusal = _refusal(destination, bundle)  # the destination's clock is back before the expiry
    assert refusal.code == "transfer_already_rejected"
    assert not destination._exists(member.actor_id)
    again = transfers.status_answer(destination, bundle)  # the same one answer, signed again
    assert again.not_imported and again.body["time"] == answer.body["time"]
    assert _total_minutes(source, destination, member.actor_id) == 120
    redeem(region, member)  # spendable again at the source, and only there
    verified(source)
    verified(destination)


def test_a_damaged_copy_posted_first_does_not_block_the_real_bundle(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    record_id = TransferImport.create_id("320102", transfer_id)
    for damaged in (_altered(bundle), bundle[: len(bundle) // 2], bundle[:-1],
                    json.dumps(dict(json.loads(bundle), merkle=None)).encode(),
                    json.dumps(dict(json.loads(bundle), personal_sealed="AAAA")).encode()):
        checked = transfers.check_import(destination, damaged)
        with pytest.raises(transfers.TransferRefused):
            transfers.commit_import(destination, checked)
        assert transfers.reject(destination, checked) is None  # an error, no signed rejection ...
        assert not destination._exists(record_id)  # ... and no recorded answer
    receipt = transfers.import_bundle(destination, bundle)
    transfers.complete(source, receipt)
    assert _total_minutes(source, destination, member.actor_id) == 120


def test_a_bundle_refused_for_substance_gets_a_signed_rejection(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    with simulated(transfers.get_transfer(source, transfer_id).expires_at):
        refusal = _refusal(destination, bundle)
        assert refusal.code == "transfer_expired"
        rejection = transfers.rejection_receipt(destination, bundle, refusal)
        assert rejection is not None and rejection.rejected
        assert rejection.body["bundle_sha256"] == transfers._sha256(bundle)
        transfers.void(source, transfer_id, rejection=rejection)
    assert _total_minutes(source, destination, member.actor_id) == 120


def test_the_timeout_race_import_lose_receipt_expire_completes_not_voids(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    """Issue #10's leftover: the destination imported before the expiry, its receipt got lost, and
    the source's timeout passed. Voiding now would credit the minutes in both regions."""
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    transfers.import_bundle(destination, bundle)  # the receipt is lost on its way back
    with simulated(transfers.get_transfer(source, transfer_id).expires_at + timedelta(days=1)):
        with pytest.raises(transfers.VoidNeedsAnswer) as refused:
            transfers.void(source, transfer_id)
        assert refused.value.code == "transfer_void_needs_answer"
        assert transfers.get_transfer(source, transfer_id).status == "pending"
        answer = transfers.status_answer(destination, transfers.export_bundle(source, transfer_id))
        assert answer.accepted  # the query brings the receipt back instead of "not imported"
        with pytest.raises(transfers.TransferRefused):
            transfers.void(source, transfer_id, rejection=answer)
        done = transfers.complete(source, answer)
    assert done.status == "completed"
    assert _total_minutes(source, destination, member.actor_id) == 120
    verified(source)
    verified(destination)


def test_a_status_query_that_proves_no_transfer_gets_no_answer_and_records_nothing(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    document = json.loads(bundle)
    with simulated(transfers.get_transfer(source, transfer_id).expires_at + timedelta(days=1)):
        for forged in (json.dumps({"transfer_id": str(transfer_id), "source": {"code": "320102"}}).encode(),
                       json.dumps(dict(document, transfer_id=str(uuid4()))).encode(),
                       json.dumps(dict(document, destination="320105")).encode(), b"[" * 5000, b""):
            with pytest.raises(transfers.TransferRefused):
                transfers.status_answer(destination, forged)
        assert not destination._exists(TransferImport.create_id("320102", transfer_id))
        # a damaged (but identifiable) copy after the expiry: answered, about its own bytes only
        damaged = transfers.status_answer(destination, _altered(bundle))
        assert damaged.not_imported
        with pytest.raises(transfers.TransferRefused) as wrong:
            transfers.void(source, transfer_id, rejection=damaged)
        assert wrong.value.code == "receipt_wrong_bundle"
        transfers.void(source, transfer_id, rejection=transfers.status_answer(destination, bundle))
    assert _total_minutes(source, destination, member.actor_id) == 120


def test_a_forced_void_needs_the_expiry_and_a_reason_and_is_flagged(regions) -> None:  # noqa: F811 - the `regions` fixture, imported
    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    with pytest.raises(WrongState):
        transfers.force_void(source, transfer_id, reason="目的地区长期无应答")
    with simulated(transfers.get_transfer(source, transfer_id).expires_at + timedelta(days=1)):
        for blank in ("", "   "):
            with pytest.raises(InvalidInput):
                transfers.force_void(source, transfer_id, reason=blank)
        assert transfers.get_transfer(source, transfer_id).status == "pending"
        done = transfers.force_void(source, transfer_id, reason="目的地区三个月无应答，经电话核实未导入")
    assert done.status == "voided" and done.void_forced
    assert "管理员超时强制撤销" in (done.void_reason or "")
    types = [e.topic for e in source.recorder.select_events(transfer_id)]
    assert types[-1].endswith("Transfer.VoidForced"), types
    assert _total_minutes(source, destination, member.actor_id) == 120
    verified(source)


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
    # the source's signature over the whole bundle is the first line: the altered copy is not the signed one
    assert _refusal(destination, forged).code == "bundle_signature_invalid"
    # behind it, the signature over the sealed box still binds it to this transfer
    checked = transfers.check_import(destination, bundle)
    assert checked.verified is not None
    for box in (dataclasses.replace(checked.verified, personal_sealed=swapped),
                dataclasses.replace(checked.verified, personal_signature=None)):
        with pytest.raises(transfers.TransferRefused) as refused:
            transfers._open_personal(destination, box)
        assert refused.value.code == "bundle_personal_invalid"
    assert not destination._exists(member.actor_id)
    transfers.import_bundle(destination, bundle)
    assert destination.member_personal_data(member.actor_id) == {"mobile": "15195888588"}


@pytest.mark.parametrize("change", ["re-encoded", "member_name", "source_name", "proofs_reversed", "no_signature"])
def test_only_the_bytes_the_source_signed_import(regions, change) -> None:  # noqa: F811 - the `regions` fixture, imported
    """Fields no event signs, or another encoding of the same content, made a copy that verified and
    imported under a SHA-256 the source never exported: its receipt was refused for good and the
    transfer could never settle. The source signs the whole bundle, whose bytes are the canonical
    JSON of what it signed; anything else is damage: refused, nothing signed, nothing recorded."""
    from ledger.signing.canonical import canonical_bytes

    source, destination, region = regions
    member = consented_member(region, 120)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    document = json.loads(bundle)
    if change == "re-encoded":
        copy = json.dumps(document).encode()
    elif change == "no_signature":  # as exported before the signature: still audits, no longer imports
        del document["bundle_signature"]
        copy = canonical_bytes(document)
        assert transfers.verify_bundle(copy, root_public_key=base64.b64decode(destination.root_public_key()),
                                       destination="320104", source_key_id=None).bundle_signed is False
    else:
        if change == "member_name":
            document["member_name"] = "另一个名字"
        elif change == "source_name":
            document["source"]["name"] = "别处"
        else:
            document["merkle"]["proofs"].reverse()
        copy = canonical_bytes(document)
    assert copy != bundle
    assert _refusal(destination, copy).code == "bundle_signature_invalid"
    assert transfers.rejection_receipt(destination, copy) is None
    assert not destination._exists(TransferImport.create_id("320102", transfer_id))
    assert not destination._exists(member.actor_id)
    receipt = transfers.import_bundle(destination, bundle)
    assert receipt.body["bundle_sha256"] == transfers._sha256(bundle)
    assert transfers.complete(source, receipt).status == "completed"
