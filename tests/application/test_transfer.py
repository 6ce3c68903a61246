"""转移接续 between two regions in one process: two-phase, exactly once, tamper-evident."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from ledger.application import transfers
from ledger.application import Actor, Ledger
from ledger.demo import simulated
from ledger.domain.base import CLOCK
from ledger.domain.errors import ConsentMissing, MemberFrozen, NotPermitted
from ledger.domain.transfer import TransferImport
from ledger.domain.values import Role
from ledger.signing import keys as ed25519
from ledger.verification.store import verify_store
from tests.scenario import build_region, redeem, serve


@pytest.fixture
def regions(tmp_path):
    """Xuanwu (320102, SQLite) and Qinhuai (320104, memory) under one province root."""
    source = Ledger(f"sqlite:///{tmp_path / 'xuanwu.db'}")
    region = build_region(source, members=1)
    root = source.secrets.get_setting("root_public_key")
    destination = Ledger("memory:")
    province_key = _root_private(source, region)
    destination.init_region(code="320104", name="南京市秦淮区", province_key=province_key)
    assert destination.root_public_key() == root
    transfers.register_peer(source, transfers.region_card(destination))
    transfers.register_peer(destination, transfers.region_card(source))
    return source, destination, region


def _root_private(source: Ledger, region):
    # build_region made the root key; tests get it back through the scenario's ledger cache
    province = source.province_actor()
    return source._signers[province.actor_id][2]


def consented_member(region, minutes: int = 120) -> Actor:
    member = region.members[0]
    serve(region, member, minutes)
    region.ledger.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    return member


def verified(ledger: Ledger) -> None:
    report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                          region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
    assert report.ok, [str(p) for p in report.problems]


def test_a_member_moves_with_history_and_balance_exactly_once(regions) -> None:
    source, destination, region = regions
    member = consented_member(region, 120)
    redeem(region, member)  # 90 left
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    with pytest.raises(MemberFrozen):
        redeem(region, member)
    bundle = transfers.export_bundle(source, transfer_id)
    assert b"15195888588" not in bundle  # personal fields travel sealed to the destination only
    receipt = transfers.import_bundle(destination, bundle)
    assert receipt.accepted and receipt.body["balance_minutes"] == 90
    again = transfers.import_bundle(destination, bundle)
    assert again.to_bytes() == receipt.to_bytes()  # importing twice is a no-op with the same receipt
    assert destination.get_balance_minutes(member.actor_id) == 90
    assert destination.member_personal_data(member.actor_id) == {"mobile": "15195888588"}
    transfers.complete(source, receipt)
    transfers.complete(source, receipt)  # a replayed receipt changes nothing
    assert source.get_account(member.actor_id).balance_minutes == 0
    assert source.get_member(member.actor_id).closed
    assert destination.get_member(member.actor_id).prior_records[0]["source"] == "320102"
    verified(source)
    verified(destination)


def test_transfer_needs_the_members_consent_naming_the_destination(regions) -> None:
    source, _, region = regions
    with pytest.raises(ConsentMissing):
        transfers.initiate(source, member_id=region.members[0].actor_id, destination="320104")


def test_a_bundle_for_another_region_is_refused(regions, tmp_path) -> None:
    source, destination, region = regions
    member = consented_member(region)
    bundle = transfers.export_bundle(source, transfers.initiate(source, member_id=member.actor_id,
                                                                destination="320104"))
    third = Ledger("memory:")
    third.init_region(code="320105", name="南京市建邺区", province_key=_root_private(source, region))
    transfers.register_peer(third, transfers.region_card(source))
    with pytest.raises(transfers.BundleWrongDestination):
        transfers.import_bundle(third, bundle)


@pytest.mark.parametrize("field", ["events", "transfer_events", "keys"])
def test_an_altered_bundle_is_refused_unsigned_and_the_real_bundle_still_imports(regions, field) -> None:
    source, destination, region = regions
    member = consented_member(region)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    document = json.loads(bundle)
    raw = bytearray(base64.b64decode(document[field][-1]))
    raw[-3] ^= 1
    document[field][-1] = base64.b64encode(bytes(raw)).decode()
    altered = json.dumps(document).encode()
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.import_bundle(destination, altered)
    assert refused.value.code.startswith("bundle_")
    assert not destination._exists(member.actor_id)
    # damage is not a refusal for substance: nothing signed, nothing recorded
    assert transfers.rejection_receipt(destination, altered, refused.value) is None
    assert not destination._exists(TransferImport.create_id("320102", transfer_id))
    transfers.complete(source, transfers.import_bundle(destination, bundle))
    assert source.get_member(member.actor_id).closed


def test_a_pending_transfer_is_voided_only_by_rejection_or_the_answer_after_timeout(regions) -> None:
    source, destination, region = regions
    member = consented_member(region)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    with pytest.raises(NotPermitted):
        transfers.void(source, transfer_id)
    with pytest.raises(transfers.TransferNotExpired):  # before the expiry the destination answers nothing
        transfers.status_answer(destination, bundle)
    with simulated(CLOCK.get()() + timedelta(days=31)):
        with pytest.raises(transfers.VoidNeedsAnswer):  # a timeout alone is not enough
            transfers.void(source, transfer_id)
        answer = transfers.status_answer(destination, bundle)
        assert answer.not_imported and answer.body["bundle_sha256"] == transfers._sha256(bundle)
        transfers.void(source, transfer_id, rejection=answer)
        with pytest.raises(transfers.TransferRefused) as refused:  # a late import would credit twice
            transfers.import_bundle(destination, bundle)
    assert refused.value.code == "transfer_already_rejected"
    assert transfers.get_transfer(source, transfer_id).status == "voided"
    redeem(region, member)


def test_a_forged_receipt_is_refused(regions) -> None:
    source, destination, region = regions
    member = consented_member(region)
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    receipt = transfers.import_bundle(destination, bundle)
    forged = transfers.Receipt(dict(receipt.body, balance_minutes=9999), receipt.key_id, receipt.signature)
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.complete(source, forged)
    assert refused.value.code == "receipt_signature_invalid"
    other_key = ed25519.generate()
    stranger = transfers.Receipt(receipt.body, receipt.key_id, other_key.sign(b"x"))
    with pytest.raises(transfers.TransferRefused):
        transfers.complete(source, stranger)


def test_a_member_moves_on_and_the_third_region_verifies_the_first(regions) -> None:
    source, destination, region = regions
    member = consented_member(region, 60)
    receipt = transfers.import_bundle(destination, transfers.export_bundle(
        source, transfers.initiate(source, member_id=member.actor_id, destination="320104")))
    transfers.complete(source, receipt)
    third = Ledger("memory:")
    third.init_region(code="320105", name="南京市建邺区", province_key=_root_private(source, region))
    for a, b in ((destination, third), (third, destination)):
        transfers.register_peer(a, transfers.region_card(b))
    _consent_by_region(destination, member.actor_id, "320105")
    onward = transfers.export_bundle(destination, transfers.initiate(destination, member_id=member.actor_id,
                                                                     destination="320105"))
    final = transfers.import_bundle(third, onward)
    assert final.body["balance_minutes"] == 60
    summary = third.get_member(member.actor_id).prior_records[0]["summary"]
    assert set(summary) == {"320102", "320104"}
    assert summary["320102"][str(source.today().year)]["certified_minutes"] == 60


def _consent_by_region(ledger: Ledger, member_id, recipient: str) -> None:
    """In the new region the member first gets a key (at the region's office), then consents."""
    ledger.issue_member_key(actor=ledger.region_actor(), member_id=member_id)
    ledger.give_consent(actor=Actor(member_id, Role.MEMBER), member_id=member_id, purpose="transfer",
                        recipient=recipient)


@pytest.mark.parametrize("damage", ["no_proofs", "proof_hash", "checkpoint_by_destination"])
def test_a_bundle_without_valid_inclusion_in_the_sources_signed_log_is_refused(regions, damage) -> None:
    from ledger.signing import note
    from ledger.storage.checkpoints import origin_of

    source, destination, region = regions
    member = consented_member(region)
    document = json.loads(transfers.export_bundle(source, transfers.initiate(source, member_id=member.actor_id,
                                                                             destination="320104")))
    if damage == "no_proofs":
        document["merkle"] = None
    elif damage == "proof_hash":
        proof = document["merkle"]["proofs"][0]
        proof["path"][0] = "00" * 32 if proof["path"] else proof["path"]
        proof["index"] += 0 if proof["path"] else 1
    else:
        body = note.parse_note(document["merkle"]["checkpoint"]).text
        signer = note.Ed25519Signer(origin_of("320102"), destination._signer_for(destination.region_actor())[2])
        document["merkle"]["checkpoint"] = note.sign_note(body, [signer])
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.import_bundle(destination, json.dumps(document).encode())
    assert refused.value.code == "bundle_merkle_invalid"
