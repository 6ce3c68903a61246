"""转移接续 between regions: the bundle, its offline verification, receipts, and the two phases.

Phase 1 (source)      `initiate`  — Transfer.Initiated; member and account frozen, one destination.
Bundle (source)       `export_bundle` — every signed event of the member's aggregates (complete
                      chains from version 1), the key registrations up to the root, the transfer's
                      own events, personal fields sealed to the destination's X25519 key, earlier
                      regions' bundles verbatim (A → B → C), and — when the region keeps a Merkle
                      log — inclusion proofs of each aggregate's head against a signed checkpoint.
Phase 2 (destination) `import_bundle` — verifies everything against the shared trust root and the
                      source's registered key, imports, credits, and returns a signed receipt; a
                      refusal returns a signed rejection naming the reason. Importing twice is a no-op.
Phase 3 (source)      `complete` with the receipt, or `void` with a signed rejection or after the
                      region's timeout.

Transports: the same bytes over HTTP (api/) or as files (CLI `timeledger transfer …`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.application import Ledger
from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    AlreadyExists,
    ConsentMissing,
    InvalidInput,
    LedgerError,
    NotFound,
    NotPermitted,
    WrongState,
)
from ledger.domain.keys import Key
from ledger.domain.member import Member, ReportSlip
from ledger.domain.orders import Suggestion
from ledger.domain.region import Region
from ledger.domain.service_session import ServiceSession
from ledger.domain.time_account import TimeAccount
from ledger.domain.transfer import Transfer, TransferImport
from ledger.domain.values import ConsentPurpose, Role, check_region_code
from ledger.signing import keys as ed25519
from ledger.signing import sealed
from ledger.signing.canonical import canonical_bytes, loads_bounded
from ledger.signing.statement import EnvelopeError, parse_signed_bytes, unpack

BUNDLE_FORMAT = "timeledger-transfer/v1"
RECEIPT_FORMAT = "timeledger-receipt/v1"
BUNDLE_BYTES_MAX = 256 * 1024 * 1024  # a lifetime of service is far below this
BUNDLE_EVENTS_MAX = 500_000
PRIOR_DEPTH_MAX = 32  # moves in one member's life


class TransferRefused(LedgerError):
    """A bundle or receipt that does not verify. `code` says which check failed."""

    code = "transfer_refused"
    http_status = 422

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class BundleWrongDestination(TransferRefused):
    http_status = 409


# -------------------------------------------------------------------------------------------
# Region cards: what a region publishes so others can register it as a peer.


def region_card(ledger: Ledger, *, address: str = "") -> dict[str, Any]:
    """This region's public identity: signing key, its root-signed registration, sealing key."""
    region = ledger.get_region()
    key_id = ledger.key_id_of(ledger.region_actor())
    certificate = key_envelopes(ledger, [key_id])[0]
    sealing = X25519PrivateKey.from_private_bytes(ledger.secrets.sealing_key())
    return {
        "format": "timeledger-region/v1",
        "code": region.code,
        "name": region.name,
        "key_id": key_id,
        "public_key": ledger.public_key_of(ledger.region_actor()),
        "sealing_key": ed25519.b64(sealed.x25519_public_bytes(sealing.public_key())),
        "address": address,
        "certificate": base64.b64encode(certificate).decode(),
        "root_key_id": ed25519.key_id_of(base64.b64decode(ledger.root_public_key())),
    }


def register_peer(ledger: Ledger, card: dict[str, Any]) -> None:
    """Add another region to the federation registry after checking that its key is certified by
    our trust root (the province)."""
    try:
        code = check_region_code(card["code"])
        public_key = ed25519.unb64(card["public_key"])
        certificate = base64.b64decode(card["certificate"])
        ed25519.unb64(card["sealing_key"])
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"not a region card: {error}") from None
    root = base64.b64decode(ledger.root_public_key())
    statement = _check_region_certificate(certificate, root, code)
    if statement.payload["public_key"] != card["public_key"] or ed25519.key_id_of(public_key) != card["key_id"]:
        raise TransferRefused("peer_key_mismatch", "the card's key is not the one its certificate registers")
    region = ledger.get_region()
    region.register_peer(code=code, name=card["name"], key_id=card["key_id"], public_key=card["public_key"],
                         sealing_key=card["sealing_key"], address=card.get("address", ""),
                         certificate=card["certificate"])
    ledger._commit(ledger.region_actor(), None, region)


def _check_region_certificate(certificate: bytes, root: bytes, code: str) -> Any:
    """The root-signed Key.Registered statement of a region's key."""
    try:
        signature, signed_bytes = unpack(certificate)
        statement = parse_signed_bytes(signed_bytes)
    except EnvelopeError as error:
        raise TransferRefused("peer_certificate_invalid", f"region certificate unreadable: {error}") from None
    if statement.type != "Key.Registered" or statement.payload.get("role") != Role.REGION.value:
        raise TransferRefused("peer_certificate_invalid", "the certificate does not register a region key")
    if statement.payload.get("owner_id") != str(Region.create_id(code)) or statement.region != code:
        raise TransferRefused("peer_certificate_invalid", f"the certificate is not for region {code}")
    if statement.key != ed25519.key_id_of(root) or not ed25519.verify(ed25519.load_public(ed25519.b64(root)),
                                                                      signature, signed_bytes):
        raise TransferRefused("peer_not_certified_by_root", "the region key is not certified by our trust root")
    return statement


# -------------------------------------------------------------------------------------------
# Reading a member's history out of the store


def aggregate_envelopes(ledger: Ledger, aggregate_id: UUID) -> list[bytes]:
    return [event.state for event in ledger.recorder.select_events(aggregate_id)]


def key_envelopes(ledger: Ledger, key_ids: Iterable[str]) -> list[bytes]:
    """The registration (and revocation) events of these keys and of every key up the chain."""
    wanted = list(dict.fromkeys(key_ids))
    seen: set[str] = set()
    envelopes: list[bytes] = []
    while wanted:
        key_id = wanted.pop()
        if key_id in seen:
            continue
        seen.add(key_id)
        events = aggregate_envelopes(ledger, Key.create_id(key_id))
        if not events:
            raise NotFound(f"key {key_id} is not registered in this region")
        envelopes.extend(events)
        certifier = parse_signed_bytes(unpack(events[0])[1], strict=False).key
        if certifier != key_id:
            wanted.append(certifier)
    return envelopes


def member_aggregate_ids(ledger: Ledger, member_id: UUID) -> list[UUID]:
    """The member's own aggregates: record, account, report slips, sessions and suggestions."""
    ids = [member_id]
    account_id = TimeAccount.create_id(member_id)
    if ledger.recorder.select_events(account_id, limit=1):
        ids.append(account_id)
    topics = ["ledger.domain.member:ReportSlip.Issued", "ledger.domain.service_session:ServiceSession.Recorded",
              "ledger.domain.orders:Suggestion.Submitted"]
    wanted = str(member_id)
    start = 1
    page = 5000
    while True:
        notifications = ledger.recorder.select_notifications(start=start, limit=page, topics=topics)
        for notification in notifications:
            statement = parse_signed_bytes(unpack(notification.state)[1], strict=False)
            if statement.payload.get("member_id") == wanted:
                ids.append(UUID(str(notification.originator_id)))
        if len(notifications) < page:
            return ids
        start = notifications[-1].id + 1


# -------------------------------------------------------------------------------------------
# Phase 1 — source


@dataclass(frozen=True)
class Receipt:
    """A signed answer from the destination: accepted (with the balance) or rejected (with why)."""

    body: dict[str, Any]
    key_id: str
    signature: bytes

    def to_bytes(self) -> bytes:
        return canonical_bytes({"receipt": self.body, "key_id": self.key_id,
                                "signature": ed25519.b64(self.signature)})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Receipt":
        try:
            document = loads_bounded(data)
            return cls(document["receipt"], document["key_id"], ed25519.unb64(document["signature"]))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise TransferRefused("receipt_unreadable", f"not a transfer receipt: {error}") from None

    @property
    def accepted(self) -> bool:
        return self.body.get("kind") == "accepted"


def initiate(ledger: Ledger, *, member_id: UUID, destination: str, transfer_id: UUID | None = None) -> UUID:
    """Phase 1: a pending transfer-out that freezes the member and the balance."""
    actor = ledger.region_actor()
    region = ledger.get_region()
    region.require_peer(check_region_code(destination))
    member = ledger.get_member(member_id)
    member.require_active()
    consent = next((cid for cid, (purpose, recipient) in member.consents.items()
                    if purpose is ConsentPurpose.TRANSFER and recipient == destination), None)
    if consent is None:
        raise ConsentMissing(f"member {member_id} has not consented to a transfer to {destination}")
    account = ledger.get_account(member_id)
    transfer_id = transfer_id or uuid4()
    if ledger._exists(transfer_id):
        raise AlreadyExists(f"transfer {transfer_id} already exists")
    expires_at = CLOCK.get()() + timedelta(days=region.transfer_timeout_days)
    transfer = Transfer.initiate(transfer_id=transfer_id, member_id=member_id, destination=destination,
                                 consent_id=consent, balance_minutes=account.balance_minutes,
                                 owed_minutes=account.owed_minutes, expires_at=expires_at)
    member.freeze(transfer_id=transfer_id)
    account.freeze(transfer_id=transfer_id)
    ledger._commit(actor, None, transfer, member, account)
    return transfer_id


def export_bundle(ledger: Ledger, transfer_id: UUID) -> bytes:
    """The bundle for a pending transfer, with inclusion proofs of every aggregate's head event in
    a checkpoint the region signs (the hash chains then vouch for every earlier event)."""
    from ledger.transparency.bundle import inclusion_proofs_for

    transfer = _get_transfer(ledger, transfer_id)
    transfer.require_pending()
    region = ledger.get_region()
    peer = region.require_peer(transfer.destination)
    member = ledger.get_member(transfer.member_id)
    events: list[bytes] = []
    heads: list[bytes] = []
    for aggregate_id in member_aggregate_ids(ledger, member.id):
        chain = aggregate_envelopes(ledger, aggregate_id)
        events.extend(chain)
        heads.append(chain[-1])
    transfer_events = aggregate_envelopes(ledger, transfer_id)
    signers = {parse_signed_bytes(unpack(e)[1], strict=False).key for e in events + transfer_events}
    personal = ledger.member_personal_data(member.id) if member.personal and not member.personal_erased else {}
    context = _seal_context(transfer_id, transfer.destination)
    sealed_personal = sealed.seal_to(ed25519.unb64(peer["sealing_key"]),
                                     canonical_bytes(personal), context=context)
    heads.append(transfer_events[-1])
    document: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "transfer_id": str(transfer_id),
        "source": {"code": region.code, "name": region.name},
        "destination": transfer.destination,
        "member_id": str(member.id),
        "member_name": member.name,
        "events": [_b64(e) for e in events],
        "transfer_events": [_b64(e) for e in transfer_events],
        "keys": [_b64(e) for e in key_envelopes(ledger, signers)],
        "region_certificate": region_card(ledger)["certificate"],
        "personal_sealed": _b64(sealed_personal),
        "prior": [_b64(b) for b in ledger.secrets.bundles(member_id=member.id, direction="in")],
        "merkle": inclusion_proofs_for(ledger, heads),
    }
    bundle = canonical_bytes(document)
    digest = hashlib.sha256(bundle).hexdigest()
    transfer.record_export(bundle_sha256=digest, log_size=ledger.recorder.max_notification_id() or 0)
    ledger._commit(ledger.region_actor(), None, transfer)
    ledger.secrets.put_bundle(bundle_sha256=digest, direction="out", transfer_id=transfer_id, member_id=member.id,
                              bundle=bundle)
    return bundle


def _seal_context(transfer_id: UUID, destination: str) -> bytes:
    return f"transfer {transfer_id} to {destination}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _get_transfer(ledger: Ledger, transfer_id: UUID) -> Transfer:
    return ledger._get(transfer_id, Transfer, "transfer")


# -------------------------------------------------------------------------------------------
# Phase 2 — destination


@dataclass
class VerifiedBundle:
    transfer_id: UUID
    source: str
    member_id: UUID
    member_name: str
    party_status: str
    balance_minutes: int
    owed_minutes: int
    events_count: int
    summary: dict[str, Any]  # per origin region and year: sessions and certified minutes
    personal_sealed: bytes
    expires_at: datetime


def verify_bundle(bundle: bytes, *, root_public_key: bytes, destination: str, source_key_id: str | None,
                  depth: int = 0) -> VerifiedBundle:
    """Check a bundle offline, trusting only the root key (and, when given, the source's
    registered key id). Raises TransferRefused naming the first failed check."""
    from ledger.verify import verify_envelopes

    if len(bundle) > BUNDLE_BYTES_MAX:
        raise TransferRefused("bundle_too_large", "the bundle is larger than any member's history")
    try:
        document = loads_bounded(bundle)
        transfer_id = UUID(document["transfer_id"])
        source = check_region_code(document["source"]["code"])
        member_id = UUID(document["member_id"])
        events = [base64.b64decode(e) for e in document["events"]]
        transfer_events = [base64.b64decode(e) for e in document["transfer_events"]]
        keys = [base64.b64decode(e) for e in document["keys"]]
        certificate = base64.b64decode(document["region_certificate"])
        personal_sealed = base64.b64decode(document["personal_sealed"])
        prior = [base64.b64decode(p) for p in document["prior"]]
    except (ValueError, KeyError, TypeError, AttributeError, LedgerError) as error:
        raise TransferRefused("bundle_unreadable", f"转移包无法读取 / the bundle is not readable: {error}") from None
    if document.get("format") != BUNDLE_FORMAT:
        raise TransferRefused("bundle_unreadable", "unknown bundle format")
    if document.get("destination") != destination:
        raise BundleWrongDestination("bundle_wrong_destination",
                                     f"the bundle is addressed to {document.get('destination')}, not {destination}")
    if len(events) + len(transfer_events) > BUNDLE_EVENTS_MAX or depth > PRIOR_DEPTH_MAX:
        raise TransferRefused("bundle_too_large", "too many events or moves")
    region_key = _check_region_certificate(certificate, root_public_key, source).payload
    if source_key_id is not None and region_key["key_id"] != source_key_id:
        raise TransferRefused("source_key_mismatch", "the bundle is signed by a region key other than the "
                                                     "one registered for the source region")
    checked = verify_envelopes(events + transfer_events, key_envelopes=keys, root_public_key=root_public_key,
                               region_code=source)
    if checked.report.problems:
        problem = checked.report.problems[0]
        raise TransferRefused("bundle_event_invalid", f"{problem} ({len(checked.report.problems)} problem(s))")
    transfer = checked.aggregates.get(transfer_id)
    if not isinstance(transfer, Transfer) or transfer.status != Transfer.PENDING:
        raise TransferRefused("bundle_transfer_invalid", "the bundle holds no pending transfer-out")
    if transfer.destination != destination or transfer.member_id != member_id:
        raise TransferRefused("bundle_transfer_invalid", "the transfer-out names another member or destination")
    if _signer_key(transfer_events[0]) != region_key["key_id"]:
        raise TransferRefused("bundle_transfer_invalid", "the transfer-out is not signed by the source region key")
    member = checked.aggregates.get(member_id)
    account = checked.aggregates.get(TimeAccount.create_id(member_id))
    if not isinstance(member, Member) or member.frozen_by != transfer_id:
        raise TransferRefused("bundle_history_invalid", "the member's record is missing or not frozen by this "
                                                        "transfer")
    if not isinstance(account, TimeAccount) or account.frozen_by != transfer_id:
        raise TransferRefused("bundle_history_invalid", "the time account is missing or not frozen by this transfer")
    if (account.balance_minutes, account.owed_minutes) != (transfer.balance_minutes, transfer.owed_minutes):
        raise TransferRefused("bundle_balance_mismatch", "the transfer's balance differs from the replayed account")
    for aggregate in checked.aggregates.values():
        owner = getattr(aggregate, "member_id", member_id)
        if isinstance(aggregate, (ServiceSession, Suggestion, ReportSlip, TimeAccount, Transfer)) and owner != member_id:
            raise TransferRefused("bundle_history_invalid", f"aggregate {aggregate.id} belongs to another member")
    _check_merkle(document.get("merkle"), checked.heads, transfer_events[-1], region_key, source)
    summary = _summary(source, checked.aggregates.values())
    for earlier in prior:
        verified = verify_bundle(earlier, root_public_key=root_public_key, destination=source, source_key_id=None,
                                 depth=depth + 1)
        if verified.member_id != member_id:
            raise TransferRefused("bundle_prior_invalid", "an earlier region's bundle is for another member")
        for origin, years in verified.summary.items():
            summary.setdefault(origin, years)
    return VerifiedBundle(transfer_id, source, member_id, member.name, member.party_status.value,
                          transfer.balance_minutes,
                          transfer.owed_minutes, len(events), summary, personal_sealed, transfer.expires_at)


def _signer_key(envelope: bytes) -> str:
    return parse_signed_bytes(unpack(envelope)[1], strict=False).key


def _check_merkle(merkle: Any, heads: dict[UUID, bytes], transfer_head: bytes, region_key: dict[str, Any],
                  source: str) -> None:
    """Inclusion of every aggregate head in a checkpoint the source region signed: the source
    cannot show this destination a history other than the one in its log."""
    from ledger.signing import merkle as tree
    from ledger.signing import note
    from ledger.transparency.checkpoints import origin_of

    if not isinstance(merkle, dict):
        raise TransferRefused("bundle_merkle_invalid", "the bundle carries no inclusion proofs")
    try:
        origin = origin_of(source)
        verifier = note.Ed25519Verifier(origin, ed25519.unb64(region_key["public_key"]))
        checkpoint = note.open_checkpoint(merkle["checkpoint"], verifier, origin=origin).checkpoint
        proofs = {p["leaf_hash"]: p for p in merkle["proofs"]}
        for envelope in list(heads.values()) + [transfer_head]:
            leaf = tree.leaf_hash(envelope)
            proof = proofs[leaf.hex()]
            tree.verify_inclusion(leaf, proof["index"], checkpoint.size,
                                  [bytes.fromhex(h) for h in proof["path"]], checkpoint.root_hash)
    except (KeyError, TypeError, ValueError) as error:
        raise TransferRefused("bundle_merkle_invalid", f"inclusion in the source's signed log fails: {error}") \
            from None


def _summary(source: str, aggregates: Iterable[Any]) -> dict[str, Any]:
    years: dict[str, dict[str, int]] = {}
    for aggregate in aggregates:
        if isinstance(aggregate, ServiceSession) and aggregate.status == ServiceSession.CERTIFIED:
            year = years.setdefault(str(aggregate.service_date.year), {"sessions": 0, "certified_minutes": 0})
            year["sessions"] += 1
            year["certified_minutes"] += aggregate.certified_minutes
    return {source: years}


def import_bundle(ledger: Ledger, bundle: bytes) -> Receipt:
    """Phase 2: verify, import the history, credit the balance, and sign a receipt. A bundle that
    fails verification raises TransferRefused; `rejection_receipt` signs the refusal for the source."""
    assert ledger.region_code is not None
    digest = hashlib.sha256(bundle).hexdigest()
    try:
        head = loads_bounded(bundle)
        source = check_region_code(head["source"]["code"])
        transfer_id = UUID(head["transfer_id"])
    except (ValueError, KeyError, TypeError, AttributeError, InvalidInput) as error:
        raise TransferRefused("bundle_unreadable", f"转移包无法读取 / the bundle is not readable: {error}") from None
    import_id = TransferImport.create_id(source, transfer_id)
    if ledger._exists(import_id):
        return accepted_receipt(ledger, ledger._get(import_id, TransferImport))  # the same bundle again: a no-op
    region = ledger.get_region()
    try:
        peer = region.require_peer(source)
    except NotFound:
        raise TransferRefused("source_not_registered", f"region {source} is not in the federation registry") \
            from None
    verified = verify_bundle(bundle, root_public_key=base64.b64decode(ledger.root_public_key()),
                             destination=ledger.region_code, source_key_id=peer["key_id"])
    if verified.expires_at <= CLOCK.get()():
        raise TransferRefused("transfer_expired", "the transfer expired at the source before it was imported")
    personal = json.loads(sealed.open_box(X25519PrivateKey.from_private_bytes(ledger.secrets.sealing_key()),
                                          verified.personal_sealed,
                                          context=_seal_context(verified.transfer_id, ledger.region_code)))
    actor = ledger.region_actor()
    aggregates: list[Any] = []
    if ledger._exists(verified.member_id):
        member = ledger.get_member(verified.member_id)
        member.reopen(transfer_id=verified.transfer_id, source=source)
    else:
        member = Member.enrol(member_id=verified.member_id, name=verified.member_name, unit_id=None,
                              party_status=verified.party_status, job_title="", region_code=ledger.region_code)
    member.record_history_imported(transfer_id=verified.transfer_id, source=source, bundle_sha256=digest,
                                   summary=verified.summary,
                                   personal_sealed=ledger._seal_personal(verified.member_id, personal))
    aggregates.append(member)
    account_id = TimeAccount.create_id(verified.member_id)
    account = ledger.get_account(verified.member_id) if ledger._exists(account_id) else TimeAccount.open(
        member_id=verified.member_id)
    account.transfer_in(transfer_id=verified.transfer_id, minutes=verified.balance_minutes,
                        owed_minutes=verified.owed_minutes)
    aggregates.append(account)
    record = TransferImport.accept(source=source, transfer_id=verified.transfer_id, member_id=verified.member_id,
                                   bundle_sha256=digest, balance_minutes=verified.balance_minutes,
                                   owed_minutes=verified.owed_minutes, events_count=verified.events_count,
                                   summary=verified.summary)
    aggregates.append(record)
    ledger.secrets.put_bundle(bundle_sha256=digest, direction="in", transfer_id=verified.transfer_id,
                              member_id=verified.member_id, bundle=bundle)
    ledger._commit(actor, None, *aggregates)
    return accepted_receipt(ledger, record)


def accepted_receipt(ledger: Ledger, record: TransferImport) -> Receipt:
    """The receipt for an import: deterministic, so the same import always answers the same bytes."""
    body = {"format": RECEIPT_FORMAT, "kind": "accepted", "transfer_id": str(record.transfer_id),
            "source": record.source, "destination": ledger.region_code, "member_id": str(record.member_id),
            "bundle_sha256": record.bundle_sha256, "balance_minutes": record.balance_minutes,
            "owed_minutes": record.owed_minutes, "time": record.created_on.isoformat()}
    return _sign_receipt(ledger, body)


def rejection_receipt(ledger: Ledger, bundle: bytes, refusal: TransferRefused) -> Receipt | None:
    """A signed refusal the source can use to void the transfer (None when the bundle is not ours
    or names no transfer: then there is nothing the source could void)."""
    try:
        head = loads_bounded(bundle)
        transfer_id, source = str(UUID(head["transfer_id"])), check_region_code(head["source"]["code"])
    except (ValueError, KeyError, TypeError, AttributeError, InvalidInput):
        return None
    if isinstance(refusal, BundleWrongDestination):
        return None
    body = {"format": RECEIPT_FORMAT, "kind": "rejected", "transfer_id": transfer_id, "source": source,
            "destination": ledger.region_code, "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
            "code": refusal.code, "reason": refusal.detail, "time": CLOCK.get()().isoformat()}
    return _sign_receipt(ledger, body)


def _sign_receipt(ledger: Ledger, body: dict[str, Any]) -> Receipt:
    key_id, _, private_key = ledger._signer_for(ledger.region_actor())
    return Receipt(body, key_id, private_key.sign(canonical_bytes(body)))


# -------------------------------------------------------------------------------------------
# Phase 3 — source


def _check_receipt(ledger: Ledger, receipt: Receipt) -> Transfer:
    try:
        transfer = _get_transfer(ledger, UUID(receipt.body["transfer_id"]))
        peer = ledger.get_region().require_peer(transfer.destination)
    except (KeyError, ValueError):
        raise TransferRefused("receipt_unreadable", "the receipt names no transfer") from None
    if receipt.body.get("format") != RECEIPT_FORMAT or receipt.body.get("source") != ledger.region_code:
        raise TransferRefused("receipt_invalid", "the receipt is not for this region")
    if receipt.body.get("destination") != transfer.destination or receipt.key_id != peer["key_id"]:
        raise TransferRefused("receipt_invalid", "the receipt is not from the transfer's destination")
    public = ed25519.load_public(peer["public_key"])
    if not ed25519.verify(public, receipt.signature, canonical_bytes(receipt.body)):
        raise TransferRefused("receipt_signature_invalid", "the receipt's signature does not verify")
    return transfer


def complete(ledger: Ledger, receipt: Receipt) -> Transfer:
    """Phase 3: the destination accepted. The member is closed here and the balance moves out.
    A receipt for a transfer already completed by this receipt is a no-op."""
    transfer = _check_receipt(ledger, receipt)
    if not receipt.accepted:
        raise TransferRefused("receipt_invalid", "this is a rejection: void the transfer instead")
    if transfer.status == Transfer.COMPLETED and transfer.receipt_sha256 == _digest(receipt):
        return transfer
    if transfer.status != Transfer.PENDING:
        raise WrongState(f"transfer {transfer.id} is already {transfer.status}")
    if ledger.secrets.bundle(receipt.body.get("bundle_sha256", "")) is None:
        raise TransferRefused("receipt_invalid", "the receipt names a bundle this region never exported")
    if (receipt.body.get("balance_minutes"), receipt.body.get("owed_minutes")) != (
            transfer.balance_minutes, transfer.owed_minutes):
        raise TransferRefused("receipt_invalid", "the receipt's balance differs from the transfer's")
    member = ledger.get_member(transfer.member_id)
    account = ledger.get_account(transfer.member_id)
    transfer.complete(receipt_sha256=_digest(receipt), receipt=receipt.body)
    member.close(transfer_id=transfer.id, destination=transfer.destination)
    account.transfer_out(transfer_id=transfer.id)
    ledger._commit(ledger.region_actor(), None, transfer, member, account)
    return transfer


def void(ledger: Ledger, transfer_id: UUID, *, rejection: Receipt | None = None, reason: str = "") -> Transfer:
    """Phase 3: the destination refused (a signed rejection), or the region's timeout passed."""
    transfer = _get_transfer(ledger, transfer_id)
    if rejection is not None:
        checked = _check_receipt(ledger, rejection)
        if checked.id != transfer_id or rejection.accepted:
            raise TransferRefused("receipt_invalid", "not a rejection of this transfer")
        reason = f"目的地拒收: {rejection.body.get('reason', '')}"
    elif transfer.expires_at > CLOCK.get()():
        raise NotPermitted("a pending transfer is voided only by the destination's signed rejection or after "
                           f"it expires ({transfer.expires_at.isoformat()})")
    else:
        reason = reason or "超时未收到回执"
    if transfer.status == Transfer.VOIDED:
        return transfer
    transfer.void(reason=reason, rejection=rejection.body if rejection is not None else None)
    member = ledger.get_member(transfer.member_id)
    account = ledger.get_account(transfer.member_id)
    member.unfreeze(transfer_id=transfer.id, reason=reason)
    account.unfreeze(transfer_id=transfer.id)
    ledger._commit(ledger.region_actor(), None, transfer, member, account)
    return transfer


# -------------------------------------------------------------------------------------------
# Federation: the source pushes the bundle to the destination's service and finishes the transfer


class DestinationUnreachable(LedgerError):
    """The destination did not answer; the transfer stays pending and `send` may be retried."""

    code = "destination_unreachable"
    http_status = 503


Post = Callable[[str, bytes], tuple[int, bytes]]  # (url, body) -> (status, body)
FEDERATION_IMPORT_PATH = "/v1/federation/transfer-imports"


def send(ledger: Ledger, transfer_id: UUID, *, post: Post) -> Transfer:
    """Export, deliver to the destination's registered address, and complete with its receipt (or
    void with its signed rejection). Safe to retry after any failure: the import is idempotent and
    a completed transfer answers its own receipt again."""
    transfer = _get_transfer(ledger, transfer_id)
    if transfer.status != Transfer.PENDING:
        return transfer
    peer = ledger.get_region().require_peer(transfer.destination)
    if not peer.get("address"):
        raise InvalidInput(f"region {transfer.destination} has no service address: transfer by files instead")
    bundle = export_bundle(ledger, transfer_id)
    try:
        status, answer = post(peer["address"].rstrip("/") + FEDERATION_IMPORT_PATH, bundle)
    except OSError as error:
        raise DestinationUnreachable(f"region {transfer.destination} did not answer: {error}") from None
    if status == 201:
        return complete(ledger, Receipt.from_bytes(answer))
    try:
        refusal = loads_bounded(answer)
    except ValueError:
        refusal = {}
    rejection = refusal.get("rejection") if isinstance(refusal, dict) else None
    if status in (409, 422) and rejection:
        return void(ledger, transfer_id, rejection=Receipt.from_bytes(canonical_bytes(rejection)))
    if status >= 500 or status in (408, 429):
        raise DestinationUnreachable(f"region {transfer.destination} answered {status}; try again later")
    detail = refusal.get("detail", "") if isinstance(refusal, dict) else ""
    raise TransferRefused(refusal.get("code", "transfer_refused") if isinstance(refusal, dict) else "transfer_refused",
                          f"region {transfer.destination} refused the bundle without a signed rejection: {detail}")


def _digest(receipt: Receipt) -> str:
    return hashlib.sha256(receipt.to_bytes()).hexdigest()


def get_transfer(ledger: Ledger, transfer_id: UUID) -> Transfer:
    return _get_transfer(ledger, transfer_id)


__all__ = ["DestinationUnreachable", "Receipt", "TransferRefused", "complete", "export_bundle", "import_bundle",
           "initiate", "region_card", "register_peer", "rejection_receipt", "send", "verify_bundle", "void"]
