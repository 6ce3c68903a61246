"""Forgeries that carry valid signatures: every signature below verifies under a real key, yet the
signer had no right to sign. `verify`, transfer import (`verify_bundle`), the source's receipt check
and certificate verification must all refuse them, each naming why."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.application import transfers
from ledger.application import Actor, Ledger
from ledger.storage.raw_events import iter_raw_events
from ledger.signing import keys as ed25519
from ledger.signing.canonical import canonical_bytes
from ledger.signing.statement import Statement, encode_statement, pack, parse_signed_bytes, unpack
from ledger.application.certificates import issue_certificate
from ledger.verification.certificates import CertificateError, verify_certificate
from ledger.application.checkpoints import sign_checkpoint
from ledger.verification.store import verify_store
from tests.scenario import Region, build_region, serve
from tests.transparency.helpers import set_state


def _root_private(ledger: Ledger) -> Any:
    return ledger._signers[ledger.province_actor().actor_id][2]


def _statement(envelope: bytes) -> Statement:
    return parse_signed_bytes(unpack(envelope)[1])


def resign(envelope: bytes, private: Any, **changes: Any) -> bytes:
    """The same statement with `changes` (signer, time, region…), signed again by `private`."""
    fields = {**_statement(envelope).as_json(), **changes}
    fields.pop("v")
    signed = encode_statement(Statement(**fields))
    return pack(private.sign(signed), signed)


def _signer(ledger: Ledger, actor: Actor) -> tuple[str, Any]:
    key_id, _, private = ledger._signer_for(actor)
    return key_id, private


def _row_of(ledger: Ledger, event_type: str) -> tuple[int, bytes]:
    for raw in iter_raw_events(ledger.database, recorder=ledger.recorder, order="position"):
        if _statement(raw.state).type == event_type:
            return raw.position, raw.state
    raise AssertionError(event_type)


def _problems_at(ledger: Ledger, root: bytes, position: int) -> list[str]:
    report = verify_store(ledger.database, root_public_key=root, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    return [p.reason for p in report.problems if p.position == position]


@pytest.fixture
def region(tmp_path) -> Region:
    ledger = Ledger(f"sqlite:///{tmp_path / 'f.db'}")
    built = build_region(ledger, members=1)
    serve(built, built.members[0], 90)
    yield built
    ledger.close()


# -- verify: events in the store ------------------------------------------------------------------


def test_an_event_signed_by_a_role_that_may_not_sign_it_is_refused(region: Region) -> None:
    """The unit's own certified key certifies a session (only its community may)."""
    ledger = region.ledger
    position, envelope = _row_of(ledger, "ServiceSession.Certified")
    key_id, private = _signer(ledger, region.unit)
    set_state(ledger, position, resign(envelope, private, key=key_id, actor=str(region.unit.actor_id), role="unit"))
    assert any("a unit may not sign ServiceSession.Certified" in r for r in _problems_at(ledger, region.root_public_key,
                                                                                         position))


def test_an_event_dated_before_its_key_was_registered_is_refused(region: Region) -> None:
    ledger = region.ledger
    position, envelope = _row_of(ledger, "ServiceSession.Certified")
    key_id, private = _signer(ledger, region.community)
    registered = datetime.fromisoformat(_statement(envelope).time) - timedelta(days=400)
    set_state(ledger, position, resign(envelope, private, time=registered.isoformat()))
    assert any("before key" in r and "was registered" in r
               for r in _problems_at(ledger, region.root_public_key, position))


def test_an_event_signed_after_its_key_was_revoked_is_refused(region: Region) -> None:
    """A compromised community key, revoked from before the certification it signed."""
    ledger = region.ledger
    position, envelope = _row_of(ledger, "ServiceSession.Certified")
    key_id, _ = _signer(ledger, region.community)
    signed_at = datetime.fromisoformat(_statement(envelope).time)
    ledger.revoke_key(authority=ledger.region_actor(), key_id=key_id, effective_at=signed_at - timedelta(seconds=1),
                      reason="密钥泄露")
    assert any("revoked from" in r for r in _problems_at(ledger, region.root_public_key, position))


def test_an_event_signed_by_another_regions_key_is_refused(region: Region) -> None:
    """Region 320104 under the same province root: its keys are real and root-certified, but not
    this region's — even when its key registrations are smuggled into this store."""
    ledger = region.ledger
    other = Ledger("memory:")
    other.init_region(code="320104", name="南京市秦淮区", province_key=_root_private(ledger))
    other_region = other.region_actor()
    key_id, private = _signer(other, other_region)
    position, envelope = _row_of(ledger, "ServiceSession.Certified")
    # the other region's key, claiming to be this region's region actor, and then claiming its own region
    set_state(ledger, position, resign(envelope, private, key=key_id, actor=str(ledger.region_actor().actor_id),
                                       role="region"))
    smuggled = [n.state for n in other.recorder.select_notifications(start=1, limit=50)
                if _statement(n.state).type == "Key.Registered"]
    import sqlite3

    with sqlite3.connect(ledger.database.sqlite_path) as connection:
        for index, state in enumerate(smuggled):  # as if the other region's key history were ours
            statement = _statement(state)
            connection.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                               "VALUES (?, ?, ?, ?)", (statement.aggregate, 1000 + index,
                                                       "ledger.domain.keys:Key.Registered", state))
    problems = _problems_at(ledger, region.root_public_key, position)
    assert any("not certified by the trust root" in r for r in problems), problems
    set_state(ledger, position, resign(envelope, private, key=key_id, actor=str(other_region.actor_id),
                                       role="region", region="320104"))
    problems = _problems_at(ledger, region.root_public_key, position)
    assert any("signed for region 320104" in r for r in problems), problems


def test_a_key_registration_by_a_role_that_may_not_certify_it_is_refused(region: Region) -> None:
    """The unit's certified key registers a new key for the community (only the region may): the
    registration itself is named, and nothing signed by that key would be trusted."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.domain.keys import Key
    from ledger.signing.statement import GENESIS_HASH

    ledger = region.ledger
    template = next(_statement(raw.state) for raw in iter_raw_events(ledger.database, recorder=ledger.recorder,
                                                                     order="position")
                    if _statement(raw.state).type == "Key.Registered"
                    and _statement(raw.state).payload.get("role") == "community")
    public = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    new_key_id = ed25519.key_id_of(public)
    key_id, private = _signer(ledger, region.unit)
    fields = {**template.as_json(), "aggregate": str(Key.create_id(new_key_id)), "version": 1, "prev": GENESIS_HASH,
              "key": key_id, "actor": str(region.unit.actor_id), "role": "unit",
              "payload": {**template.payload, "key_id": new_key_id, "public_key": ed25519.b64(public),
                          "certified_by": key_id}}
    fields.pop("v")
    signed = encode_statement(Statement(**fields))
    import sqlite3

    with sqlite3.connect(ledger.database.sqlite_path) as connection:
        position = connection.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) VALUES (?, 1, ?, ?)",
            (fields["aggregate"], "ledger.domain.keys:Key.Registered", pack(private.sign(signed), signed))).lastrowid
    problems = _problems_at(ledger, region.root_public_key, position)
    assert any("a unit may not certify a community key" in r for r in problems), problems


# -- transfer import, receipts ---------------------------------------------------------------------


@pytest.fixture
def two_regions(tmp_path) -> tuple[Ledger, Ledger, Ledger, Region]:
    source = Ledger(f"sqlite:///{tmp_path / 'xuanwu.db'}")
    region = build_region(source, members=1)
    destination = Ledger("memory:")
    destination.init_region(code="320104", name="南京市秦淮区", province_key=_root_private(source))
    third = Ledger("memory:")
    third.init_region(code="320105", name="南京市建邺区", province_key=_root_private(source))
    for a, b in ((source, destination), (destination, source), (source, third), (third, source)):
        transfers.register_peer(a, transfers.region_card(b))
    member = region.members[0]
    serve(region, member, 120)
    source.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    yield source, destination, third, region
    source.close()


def _bundle_document(bundle: bytes) -> dict[str, Any]:
    return json.loads(bundle)


def test_a_bundle_whose_transfer_is_signed_by_the_community_is_refused(two_regions) -> None:
    source, destination, _, region = two_regions
    transfer_id = transfers.initiate(source, member_id=region.members[0].actor_id, destination="320104")
    document = _bundle_document(transfers.export_bundle(source, transfer_id))
    key_id, private = _signer(source, region.community)
    chain = [base64.b64decode(e) for e in document["transfer_events"]]
    forged: list[bytes] = []
    from ledger.signing.statement import GENESIS_HASH, statement_hash

    prev = GENESIS_HASH
    for envelope in chain:  # re-signed and re-chained: every signature verifies under a certified key
        resigned = resign(envelope, private, key=key_id, actor=str(region.community.actor_id), role="community",
                          prev=prev)
        prev = statement_hash(unpack(resigned)[1])
        forged.append(resigned)
    document["transfer_events"] = [base64.b64encode(e).decode() for e in forged]
    root = base64.b64decode(destination.root_public_key())
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.verify_bundle(canonical_bytes(document), root_public_key=root, destination="320104",
                                source_key_id=None)
    assert refused.value.code == "bundle_event_invalid" and "may not sign" in refused.value.detail


def test_a_bundle_from_another_region_relabelled_as_the_source_is_refused(two_regions) -> None:
    """Region 320105's genuine, well-signed history presented as 320102's (its certificate swapped in)."""
    source, destination, third, region = two_regions
    transfer_id = transfers.initiate(source, member_id=region.members[0].actor_id, destination="320104")
    document = _bundle_document(transfers.export_bundle(source, transfer_id))
    third_certificate = transfers.region_card(third)["certificate"]
    root = base64.b64decode(destination.root_public_key())
    relabelled = {**document, "region_certificate": third_certificate}
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.verify_bundle(canonical_bytes(relabelled), root_public_key=root, destination="320104",
                                source_key_id=None)
    assert refused.value.code == "peer_certificate_invalid"
    moved = {**relabelled, "source": {"code": "320105", "name": "南京市建邺区"}}
    with pytest.raises(transfers.TransferRefused) as refused:
        transfers.verify_bundle(canonical_bytes(moved), root_public_key=root, destination="320104",
                                source_key_id=None)
    assert refused.value.code in ("bundle_event_invalid", "source_key_mismatch")
    peer_key = destination.get_region().require_peer("320102")["key_id"]
    with pytest.raises(transfers.TransferRefused) as refused:  # the registered peer's key pins the source
        transfers.verify_bundle(canonical_bytes(moved), root_public_key=root, destination="320104",
                                source_key_id=peer_key)
    assert refused.value.code in ("source_key_mismatch", "bundle_event_invalid")


def test_receipts_well_signed_by_the_wrong_region_are_refused(two_regions) -> None:
    source, destination, third, region = two_regions
    transfer_id = transfers.initiate(source, member_id=region.members[0].actor_id, destination="320104")
    bundle = transfers.export_bundle(source, transfer_id)
    genuine = transfers.import_bundle(destination, bundle)
    for signer in (third, source):  # a third region, and the source's own region key
        key_id, private = _signer(signer, signer.region_actor())
        forged = transfers.Receipt(genuine.body, key_id, private.sign(canonical_bytes(genuine.body)))
        with pytest.raises(transfers.TransferRefused) as refused:
            transfers.complete(source, forged)
        assert refused.value.code == "receipt_invalid", signer.region_code
        with pytest.raises(transfers.TransferRefused):
            transfers.void(source, transfer_id, rejection=forged)
    assert transfers.get_transfer(source, transfer_id).status != "completed"
    transfers.complete(source, genuine)  # the destination's own receipt still completes it


# -- certificates ----------------------------------------------------------------------------------


def test_a_certificate_sealed_by_the_wrong_party_is_refused(region: Region) -> None:
    ledger = region.ledger
    sign_checkpoint(ledger)
    issued = issue_certificate(ledger, region.members[0].actor_id)
    root = region.root_public_key
    assert verify_certificate(issued.bundle, root).total_minutes == 90
    document = json.loads(issued.bundle)
    from ledger.verification.certificates import _seal_message
    from ledger.signing.note import Checkpoint, parse_note

    checkpoint = Checkpoint.parse(parse_note(document["checkpoint"]).text)
    from ledger.signing import merkle

    leaves = [(entry["index"], merkle.leaf_hash(base64.b64decode(entry["event"]))) for entry in document["events"]]
    message = _seal_message(document, checkpoint, leaves)
    for actor in (region.community, region.unit):  # certified keys of this region, but not the region's
        key_id, private = _signer(ledger, actor)
        forged = {**document, "seal": {"key": key_id, "signature": base64.b64encode(private.sign(message)).decode()}}
        with pytest.raises(CertificateError, match="not region 320102's key|not certified"):
            verify_certificate(canonical_bytes(forged), root)
    other = Ledger("memory:")
    other.init_region(code="320104", name="南京市秦淮区", province_key=_root_private(ledger))
    key_id, private = _signer(other, other.region_actor())
    forged = {**document, "seal": {"key": key_id, "signature": base64.b64encode(private.sign(message)).decode()}}
    with pytest.raises(CertificateError, match="not certified by the trust root"):
        verify_certificate(canonical_bytes(forged), root)


def test_a_certificate_sealed_after_the_region_key_was_revoked_is_refused(region: Region) -> None:
    """The region key rotated (old key revoked); a certificate sealed by the old key and dated after."""
    ledger = region.ledger
    sign_checkpoint(ledger)
    old_key_id, old_private = _signer(ledger, ledger.region_actor())
    issued = issue_certificate(ledger, region.members[0].actor_id)
    document = json.loads(issued.bundle)
    issued_at = datetime.fromisoformat(document["issued_at"])
    from ledger.demo import simulated

    with simulated(issued_at + timedelta(hours=1)):
        ledger.rotate_key(authority=ledger.province_actor(), owner=ledger.region_actor())
    with simulated(issued_at + timedelta(hours=2)):
        sign_checkpoint(ledger)
        reissued = json.loads(issue_certificate(ledger, region.members[0].actor_id).bundle)
    # the old (revoked) key seals the new certificate, as a thief of that key would
    from ledger.signing import merkle
    from ledger.signing.note import Checkpoint, parse_note
    from ledger.verification.certificates import _seal_message

    checkpoint = Checkpoint.parse(parse_note(reissued["checkpoint"]).text)
    leaves = [(entry["index"], merkle.leaf_hash(base64.b64decode(entry["event"]))) for entry in reissued["events"]]
    forged = {**reissued, "seal": {"key": old_key_id, "signature": base64.b64encode(
        old_private.sign(_seal_message(reissued, checkpoint, leaves))).decode()}}
    with pytest.raises(CertificateError, match="revoked from"):
        verify_certificate(canonical_bytes(forged), region.root_public_key)
