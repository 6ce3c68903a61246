"""转移接续 between regions: the bundle, its offline verification, receipts, and the two phases.

Phase 1 (source)      `initiate`  — Transfer.Initiated; member and account frozen, one destination.
Bundle (source)       `export_bundle` — every signed event of the member's aggregates (complete
                      chains from version 1), the key registrations up to the root, the transfer's
                      own events, personal fields sealed to the destination's X25519 key, earlier
                      regions' bundles verbatim (A → B → C), and — when the region keeps a Merkle
                      log — inclusion proofs of each aggregate's head against a signed checkpoint;
                      the source region signs all of it (`bundle_signature`), and the bytes are the
                      canonical JSON of what it signed, so one signed bundle has exactly one
                      encoding: the destination imports only bytes the source exported, and its
                      receipt names their SHA-256 (a re-encoded copy — same content, other bytes —
                      would be imported under a digest the source never exported, and the transfer
                      could then never complete).
Phase 2 (destination) `import_bundle` = `check_import` (parse and verify everything against the
                      shared trust root and the source's registered key; no writes, so a server runs
                      it outside its single writer) + `commit_import` (import, credit, sign a
                      receipt). Importing twice is a no-op. `reject` signs a refusal for the source —
                      only for a bundle that fully verifies but is refused for substance (expired,
                      member already active here): a damaged copy gets an error, nothing signed or
                      recorded, so the real bundle still imports. It records the refusal first: a
                      destination answers one transfer once, imported or rejected.
Timeout query         `answer_status` (destination), asked by `settle_after_timeout` (source): after
                      the expiry the destination answers with its receipt if it imported the
                      transfer, or else records and signs "not imported" (a rejection: it never
                      imports the transfer afterwards). Only the source's signature on the
                      transfer-out is needed to ask, so a bundle it could not verify is answered too.
Phase 3 (source)      `complete` with the receipt, or `void` with a signed rejection / "not imported".
                      Either must name the SHA-256 of a bundle the source exported for that
                      transfer: a signed answer about other bytes changes nothing. A timeout alone
                      voids nothing (the destination may have imported and the receipt got lost);
                      `force_void` is the region admin's reasoned override for a destination that
                      never answers, flagged on the event as such.

Transports: the same bytes over HTTP (api/) or as files (CLI `timeledger transfer …`).
"""

from __future__ import annotations

import base64
import hashlib
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
    Unavailable,
    WrongState,
)
from ledger.domain.keys import Key
from ledger.domain.limits import REASON_CHARS_MAX  # a refusal's reason as the destination records and signs it
from ledger.domain.member import Member, ReportSlip
from ledger.domain.orders import Suggestion
from ledger.domain.region import Region
from ledger.domain.service_session import ServiceSession
from ledger.domain.time_account import TimeAccount
from ledger.domain.transfer import Transfer, TransferImport, TransferRejection
from ledger.domain.values import ConsentPurpose, PartyStatus, Role, check_region_code, check_text
from ledger.signing import keys as ed25519
from ledger.signing import sealed
from ledger.signing.canonical import JsonInputError, canonical_bytes, loads_bounded
from ledger.signing.statement import EnvelopeError, parse_signed_bytes, unpack

BUNDLE_FORMAT = "timeledger-transfer/v1"
RECEIPT_FORMAT = "timeledger-receipt/v1"
BUNDLE_BYTES_MAX = 256 * 1024 * 1024  # a lifetime of service is far below this
BUNDLE_EVENTS_MAX = 500_000
EVENT_ENVELOPE_BYTES_MAX = 4096  # one signed event, base64 in the bundle: the largest seen is ~1.6 KB
PRIOR_DEPTH_MAX = 32  # moves in one member's life


class TransferRefused(InvalidInput):
    """A bundle or receipt that does not verify. `code` says which check failed."""

    code = "transfer_refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class BundleWrongDestination(WrongState, TransferRefused):
    """The bundle names another destination region (a conflict, not a malformed bundle)."""

    code = "bundle_wrong_destination"


class TransferAlreadyImported(WrongState, TransferRefused):
    """This region imported the transfer already."""

    code = "transfer_already_imported"


class TransferNotExpired(WrongState, TransferRefused):
    """The destination answers "not imported" only after the transfer's expiry."""

    code = "transfer_not_expired"


class VoidNeedsAnswer(WrongState):
    """A timeout alone voids nothing: the destination may have imported and the receipt got lost."""

    code = "transfer_void_needs_answer"


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
    """A signed answer from the destination: accepted (with the balance), rejected (with why), or
    not imported (its answer to the source's query after the timeout; it then never imports)."""

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
            receipt = cls(document["receipt"], document["key_id"], ed25519.unb64(document["signature"]))
            if not isinstance(receipt.body, dict) or not isinstance(receipt.key_id, str):
                raise TypeError("receipt and key_id must be an object and a string")
            return receipt
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise TransferRefused("receipt_unreadable", f"not a transfer receipt: {error}") from None

    @property
    def accepted(self) -> bool:
        return self.body.get("kind") == "accepted"

    @property
    def rejected(self) -> bool:
        return self.body.get("kind") == "rejected"

    @property
    def not_imported(self) -> bool:
        return self.body.get("kind") == "not_imported"


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
    account.release_expired(CLOCK.get()())  # a 通存通兑 hold past its time (no sweep yet) does not hold up a move
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
    from ledger.application.bundles import inclusion_proofs_for

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
    personal_signature = ledger._signer_for(ledger.region_actor())[2].sign(
        _personal_statement(context, sealed_personal))
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
        "personal_signature": _b64(personal_signature),
        "prior": [_b64(b) for b in ledger.secrets.bundles(member_id=member.id, direction="in")],
        "merkle": inclusion_proofs_for(ledger, heads),
    }
    document["bundle_signature"] = _b64(ledger._signer_for(ledger.region_actor())[2].sign(
        _bundle_statement(document)))
    bundle = canonical_bytes(document)
    digest = _sha256(bundle)
    transfer.record_export(bundle_sha256=digest, log_size=ledger.recorder.max_notification_id() or 0)
    ledger._commit(ledger.region_actor(), None, transfer)
    ledger.secrets.put_bundle(bundle_sha256=digest, direction="out", transfer_id=transfer_id, member_id=member.id,
                              bundle=bundle)
    return bundle


def _seal_context(transfer_id: UUID, destination: str) -> bytes:
    return f"transfer {transfer_id} to {destination}".encode()


def _personal_statement(context: bytes, sealed_personal: bytes) -> bytes:
    """What the source region signs about the sealed personal fields. Anyone can seal to the
    destination's public key; only the source's signature binds this box to this transfer."""
    return b"timeledger-personal/v1\n" + context + b"\n" + hashlib.sha256(sealed_personal).digest()


def _bundle_statement(document: dict[str, Any]) -> bytes:
    """What the source region signs about a bundle: every field but the signature, canonical."""
    return b"timeledger-bundle/v1\n" + canonical_bytes({k: v for k, v in document.items() if k != "bundle_signature"})


def _check_bundle_signature(bundle: bytes, document: dict[str, Any], signature: bytes,
                            region_key: dict[str, Any]) -> None:
    """The source region's signature over the whole bundle, and the bytes exactly the canonical
    JSON of what it signed (the signature's text included): the only encoding of a signed bundle, so
    a bundle that passes was exported by the source byte for byte, and its SHA-256 is one the source
    recorded (Transfer.Exported) — the digest every receipt and refusal must name."""
    try:
        exact = canonical_bytes(document) == bundle and _b64(signature) == document["bundle_signature"]
        statement = _bundle_statement(document)
    except ValueError:  # a value outside canonical JSON (a float, a key outside the BMP)
        exact = False
    if not exact:
        raise TransferRefused("bundle_signature_invalid", "the bundle's bytes are not the encoding the source "
                                                          "signed (re-encoded or altered in transit)")
    if not ed25519.verify(ed25519.load_public(region_key["public_key"]), signature, statement):
        raise TransferRefused("bundle_signature_invalid", "the source region's signature over the bundle does "
                                                          "not verify")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(value, validate=True)


def _safe_text(text: str, chars_max: int = REASON_CHARS_MAX) -> str:
    """Text that may carry bytes from outside, fit to be recorded in an event and signed."""
    cleaned = "".join(c if c.isprintable() else " " for c in text).strip()
    return cleaned[:chars_max] or "-"


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
    personal_signature: bytes | None = None  # absent in bundles exported before it was added
    bundle_signed: bool = False  # the source's signature over these exact bytes (absent in older bundles)


def verify_bundle(bundle: bytes, *, root_public_key: bytes, destination: str, source_key_id: str | None,
                  depth: int = 0) -> VerifiedBundle:
    """Check a bundle offline, trusting only the root key (and, when given, the source's
    registered key id). Raises TransferRefused naming the first failed check."""
    from ledger.verification.store import verify_envelopes

    if len(bundle) > BUNDLE_BYTES_MAX:
        raise TransferRefused("bundle_too_large", "the bundle is larger than any member's history")
    document = _read_document(bundle)
    try:
        transfer_id, source = _head(document)
        member_id = _uuid(document["member_id"])
        events = [_unb64(e) for e in _list(document["events"])]
        transfer_events = [_unb64(e) for e in _list(document["transfer_events"])]
        keys = [_unb64(e) for e in _list(document["keys"])]
        certificate = _unb64(document["region_certificate"])
        personal_sealed = _unb64(document["personal_sealed"])
        personal_signature = _unb64(document["personal_signature"]) if "personal_signature" in document else None
        bundle_signature = _unb64(document["bundle_signature"]) if "bundle_signature" in document else None
        prior = [_unb64(p) for p in _list(document["prior"])]
    except (ValueError, KeyError, TypeError, AttributeError, LedgerError) as error:
        raise TransferRefused("bundle_unreadable", f"转移包无法读取 / the bundle is not readable: {error}") from None
    if not transfer_events:
        raise TransferRefused("bundle_unreadable", "the bundle carries no transfer-out")
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
    if bundle_signature is not None:
        _check_bundle_signature(bundle, document, bundle_signature, region_key)
    return VerifiedBundle(transfer_id, source, member_id, member.name, member.party_status.value,
                          transfer.balance_minutes,
                          transfer.owed_minutes, len(events), summary, personal_sealed, transfer.expires_at,
                          personal_signature, bundle_signature is not None)


def _signer_key(envelope: bytes) -> str:
    return parse_signed_bytes(unpack(envelope)[1], strict=False).key


def _check_merkle(merkle: Any, heads: dict[UUID, bytes], transfer_head: bytes, region_key: dict[str, Any],
                  source: str) -> None:
    """Inclusion of every aggregate head in a checkpoint the source region signed: the source
    cannot show this destination a history other than the one in its log."""
    from ledger.signing import merkle as tree
    from ledger.signing import note
    from ledger.storage.checkpoints import origin_of

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


def _read_document(bundle: bytes) -> dict[str, Any]:
    try:
        document = loads_bounded(bundle)
    except JsonInputError as error:
        raise TransferRefused("bundle_unreadable", f"转移包无法读取 / the bundle is not readable: {error}") from None
    if not isinstance(document, dict):
        raise TransferRefused("bundle_unreadable", "转移包不是 JSON 对象 / the bundle is not a JSON object")
    return document


def _uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise TypeError("expected a UUID as text")
    return UUID(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def _head(document: dict[str, Any]) -> tuple[UUID, str]:
    """The transfer id and the source region the bundle claims (not yet checked)."""
    source = document["source"]
    if not isinstance(source, dict) or not isinstance(source.get("code"), str):
        raise TypeError("source.code must be text")
    return _uuid(document["transfer_id"]), check_region_code(source["code"])


@dataclass(frozen=True)
class IdentifiedTransfer:
    """A transfer-out the destination can tell is real: its Initiated event verifies under the key
    registered for the source peer, names this region, and matches the bundle's head."""

    transfer_id: UUID
    source: str
    member_id: UUID
    expires_at: datetime


def identify_transfer(ledger: Ledger, document: dict[str, Any]) -> IdentifiedTransfer:
    """Who sent which transfer to whom, proven by the source's signature — before anything about the
    transfer is signed or recorded here. Raises TransferRefused (never signed) when it cannot tell."""
    assert ledger.region_code is not None
    try:
        transfer_id, source = _head(document)
        member_id = _uuid(document["member_id"])
        initiated = _unb64(_list(document["transfer_events"])[0])
        certificate = _unb64(document["region_certificate"])
    except (ValueError, KeyError, TypeError, IndexError, LedgerError) as error:
        raise TransferRefused("bundle_unreadable", f"转移包未指明转移 / the bundle names no transfer: {error}") from None
    if document.get("destination") != ledger.region_code:
        raise BundleWrongDestination("bundle_wrong_destination", "the bundle is addressed to another region")
    peer = ledger.get_region().peers.get(source)
    if peer is None:
        raise TransferRefused("source_not_registered", f"region {source} is not in the federation registry")
    region_key = _check_region_certificate(certificate, base64.b64decode(ledger.root_public_key()), source).payload
    if region_key.get("key_id") != peer["key_id"]:
        raise TransferRefused("source_key_mismatch", "the bundle is signed by a region key other than the one "
                                                     "registered for the source region")
    try:
        signature, signed_bytes = unpack(initiated)
        statement = parse_signed_bytes(signed_bytes)
    except EnvelopeError as error:
        raise TransferRefused("bundle_transfer_invalid", f"the transfer-out is unreadable: {error}") from None
    if statement.key != peer["key_id"] or not ed25519.verify(ed25519.load_public(peer["public_key"]), signature,
                                                             signed_bytes):
        raise TransferRefused("bundle_transfer_invalid", "the transfer-out is not signed by the source region key")
    payload = statement.payload
    if (statement.type, statement.region, statement.aggregate, statement.version) != (
            "Transfer.Initiated", source, str(transfer_id), 1):
        raise TransferRefused("bundle_transfer_invalid", "the first transfer event is not this transfer's start")
    if payload.get("destination") != ledger.region_code or payload.get("member_id") != str(member_id):
        raise TransferRefused("bundle_transfer_invalid", "the transfer-out names another member or destination")
    try:
        expires_at = datetime.fromisoformat(payload["expires_at"])
        if expires_at.tzinfo is None:
            raise ValueError("expires_at has no time zone")
    except (KeyError, TypeError, ValueError):
        raise TransferRefused("bundle_transfer_invalid", "the transfer-out names no expiry") from None
    return IdentifiedTransfer(transfer_id, source, member_id, expires_at)


@dataclass(frozen=True)
class CheckedImport:
    """What `check_import` found, without writing anything: the bundle's digest, the transfer it
    proves (None: unidentifiable, never answered with a signature), and either the verified content
    or the refusal."""

    bundle: bytes
    bundle_sha256: str
    identified: IdentifiedTransfer | None
    verified: VerifiedBundle | None
    refusal: TransferRefused | None
    personal: dict[str, Any]


def check_import(ledger: Ledger, bundle: bytes) -> CheckedImport:
    """Parse and verify a bundle for this region. Reads, never writes: an HTTP server runs it in the
    request thread, outside its writer, so an expensive or hostile bundle stalls no other command."""
    assert ledger.region_code is not None
    digest = _sha256(bundle)
    try:
        if len(bundle) > BUNDLE_BYTES_MAX:
            raise TransferRefused("bundle_too_large", "the bundle is larger than any member's history")
        identified = identify_transfer(ledger, _read_document(bundle))
    except TransferRefused as refusal:
        return CheckedImport(bundle, digest, None, None, refusal, {})
    try:
        peer = ledger.get_region().require_peer(identified.source)
        verified = verify_bundle(bundle, root_public_key=base64.b64decode(ledger.root_public_key()),
                                 destination=ledger.region_code, source_key_id=peer["key_id"])
        if not verified.bundle_signed:  # only bytes the source exported import: the receipt names them
            raise TransferRefused("bundle_signature_invalid", "the bundle carries no source signature over its "
                                                              "bytes (exported by an older version: export it "
                                                              "again)")
        personal = _open_personal(ledger, verified)
    except TransferRefused as refusal:
        return CheckedImport(bundle, digest, identified, None, refusal, {})
    return CheckedImport(bundle, digest, identified, verified, None, personal)


def _open_personal(ledger: Ledger, verified: VerifiedBundle) -> dict[str, Any]:
    assert ledger.region_code is not None
    peer = ledger.get_region().require_peer(verified.source)
    context = _seal_context(verified.transfer_id, ledger.region_code)
    if verified.personal_signature is None or not ed25519.verify(
            ed25519.load_public(peer["public_key"]), verified.personal_signature,
            _personal_statement(context, verified.personal_sealed)):
        raise TransferRefused("bundle_personal_invalid", "the sealed personal fields are not signed by the source "
                                                         "region for this transfer")
    try:
        opened = sealed.open_box(X25519PrivateKey.from_private_bytes(ledger.secrets.sealing_key()),
                                 verified.personal_sealed,
                                 context=_seal_context(verified.transfer_id, ledger.region_code))
        personal = loads_bounded(opened)
    except (ValueError, JsonInputError) as error:  # a box sealed to another key, or altered
        raise TransferRefused("bundle_personal_invalid", f"the sealed personal fields do not open: "
                                                         f"{type(error).__name__}") from None
    if not isinstance(personal, dict):
        raise TransferRefused("bundle_personal_invalid", "the sealed personal fields are not an object")
    return personal


def _answer(ledger: Ledger, identified: IdentifiedTransfer) -> TransferImport | TransferRejection | None:
    """This region's answer to the transfer so far: imported, rejected, or none yet."""
    answer_id = TransferImport.create_id(identified.source, identified.transfer_id)
    if not ledger._exists(answer_id):
        return None
    try:
        return ledger._get(answer_id, TransferImport)
    except NotFound:
        return ledger._get(answer_id, TransferRejection)


def _substance_refusal(ledger: Ledger, verified: VerifiedBundle) -> TransferRefused | None:
    """Why this region refuses a bundle that verifies: the only refusals it signs for the source."""
    if verified.expires_at <= CLOCK.get()():
        return TransferRefused("transfer_expired", "转移已在来源地区过期 / the transfer expired at the source before "
                                                   "it was imported")
    if ledger._exists(verified.member_id) and not ledger.get_member(verified.member_id).closed:
        return TransferRefused("member_already_active", "该党员已在本区在册 / the member is already active in this "
                                                        "region")
    return None


def commit_import(ledger: Ledger, checked: CheckedImport) -> Receipt:
    """Phase 2's write: import the checked bundle, credit the balance, sign the receipt. Cheap, so
    it runs in the writer. Raises TransferRefused (with nothing changed) for a bundle that did not
    verify, for a transfer already rejected here, or one that expired."""
    assert ledger.region_code is not None
    identified = checked.identified
    if identified is None:
        assert checked.refusal is not None
        raise checked.refusal
    answer = _answer(ledger, identified)
    if isinstance(answer, TransferRejection):
        raise TransferRefused("transfer_already_rejected",
                              f"this region already rejected transfer {identified.transfer_id}: {answer.reason}")
    if isinstance(answer, TransferImport):
        if checked.verified is None:
            raise TransferAlreadyImported("transfer_already_imported",
                                          f"transfer {identified.transfer_id} is already imported here")
        return accepted_receipt(ledger, answer)  # the same transfer again (perhaps re-exported): a no-op
    if checked.refusal is not None:
        raise checked.refusal
    verified = checked.verified
    assert verified is not None and verified.transfer_id == identified.transfer_id
    refusal = _substance_refusal(ledger, verified)
    if refusal is not None:
        raise refusal
    source = verified.source
    aggregates: list[Any] = []
    if ledger._exists(verified.member_id):
        member = ledger.get_member(verified.member_id)
        member.reopen(transfer_id=verified.transfer_id, source=source)
    else:
        member = Member.enrol(member_id=verified.member_id, name=verified.member_name, unit_id=None,
                              party_status=PartyStatus(verified.party_status), job_title="",
                              region_code=ledger.region_code)
    member.record_history_imported(transfer_id=verified.transfer_id, source=source,
                                   bundle_sha256=checked.bundle_sha256, summary=verified.summary,
                                   personal_sealed=ledger._seal_personal(verified.member_id, checked.personal))
    aggregates.append(member)
    account_id = TimeAccount.create_id(verified.member_id)
    account = ledger.get_account(verified.member_id) if ledger._exists(account_id) else TimeAccount.open(
        member_id=verified.member_id)
    account.transfer_in(transfer_id=verified.transfer_id, minutes=verified.balance_minutes,
                        owed_minutes=verified.owed_minutes)
    aggregates.append(account)
    record = TransferImport.accept(source=source, transfer_id=verified.transfer_id, member_id=verified.member_id,
                                   bundle_sha256=checked.bundle_sha256, balance_minutes=verified.balance_minutes,
                                   owed_minutes=verified.owed_minutes, events_count=verified.events_count,
                                   summary=verified.summary)
    aggregates.append(record)
    ledger.secrets.put_bundle(bundle_sha256=checked.bundle_sha256, direction="in",
                              transfer_id=verified.transfer_id, member_id=verified.member_id, bundle=checked.bundle)
    ledger._commit(ledger.region_actor(), None, *aggregates)
    return accepted_receipt(ledger, record)


def import_bundle(ledger: Ledger, bundle: bytes) -> Receipt:
    """Phase 2: verify, import the history, credit the balance, and sign a receipt. A bundle that
    fails verification raises TransferRefused; `rejection_receipt` signs the refusal for the source."""
    return commit_import(ledger, check_import(ledger, bundle))


def accepted_receipt(ledger: Ledger, record: TransferImport) -> Receipt:
    """The receipt for an import: deterministic, so the same import always answers the same bytes."""
    body = {"format": RECEIPT_FORMAT, "kind": "accepted", "transfer_id": str(record.transfer_id),
            "source": record.source, "destination": ledger.region_code, "member_id": str(record.member_id),
            "bundle_sha256": record.bundle_sha256, "balance_minutes": record.balance_minutes,
            "owed_minutes": record.owed_minutes, "time": record.created_on.isoformat()}
    return _sign_receipt(ledger, body)


def reject(ledger: Ledger, checked: CheckedImport) -> Receipt | None:
    """Phase 2's refusal, signed for the source so it can void the transfer: records the rejection
    (so this region never imports the transfer afterwards), then signs it, naming the SHA-256 of the
    bytes refused. Only for a bundle that fully verifies (authentic, every signature and hash) and
    is refused for substance (`_substance_refusal`), or a transfer already refused here. None —
    nothing signed, nothing recorded — for anything else: a bundle that proves no transfer to this
    region, a damaged or truncated copy (whoever posts it first must not block the real bundle; after
    the expiry `answer_status` settles a transfer whose bundle never verifies here), a transfer
    already imported here, or one that would import (import it instead). Runs in the writer."""
    identified = checked.identified
    if identified is None or checked.verified is None:
        return None
    answer = _answer(ledger, identified)
    if isinstance(answer, TransferImport):
        return None
    if answer is None:
        refusal = _substance_refusal(ledger, checked.verified)
        if refusal is None:
            return None
        answer = _record_refusal(ledger, identified, checked.bundle_sha256, refusal.code, refusal.detail)
    return _signed_refusal(ledger, identified, checked.bundle_sha256, answer)


def _record_refusal(ledger: Ledger, identified: IdentifiedTransfer, bundle_sha256: str, code: str,
                    reason: str) -> TransferRejection:
    answer = TransferRejection.record(source=identified.source, transfer_id=identified.transfer_id,
                                      member_id=identified.member_id, bundle_sha256=bundle_sha256,
                                      code=_safe_text(code, 64), reason=_safe_text(reason))
    ledger._commit(ledger.region_actor(), None, answer)
    return answer


def _signed_refusal(ledger: Ledger, identified: IdentifiedTransfer, bundle_sha256: str,
                    answer: TransferRejection) -> Receipt:
    """The recorded refusal, signed about the bytes presented (a later copy is refused by reference)."""
    kind = "not_imported" if answer.code == TransferRejection.NOT_IMPORTED else "rejected"
    body = {"format": RECEIPT_FORMAT, "kind": kind, "transfer_id": str(identified.transfer_id),
            "source": identified.source, "destination": ledger.region_code, "member_id": str(identified.member_id),
            "bundle_sha256": bundle_sha256, "code": answer.code, "reason": answer.reason,
            "time": answer.created_on.isoformat()}
    return _sign_receipt(ledger, body)


@dataclass(frozen=True)
class StatusQuery:
    """A source's question after the timeout: "did you import this transfer?", asked with the bundle
    it exported (so the answer names that bundle's SHA-256). Parsed outside the writer."""

    bundle_sha256: str
    identified: IdentifiedTransfer


def check_status_query(ledger: Ledger, bundle: bytes) -> StatusQuery:
    """Who asks about which transfer: the source region's signature on the transfer-out, addressed to
    us (`identify_transfer`). Raises TransferRefused — nothing recorded — when it cannot tell."""
    if len(bundle) > BUNDLE_BYTES_MAX:
        raise TransferRefused("bundle_too_large", "the bundle is larger than any member's history")
    return StatusQuery(_sha256(bundle), identify_transfer(ledger, _read_document(bundle)))


def answer_status(ledger: Ledger, query: StatusQuery) -> Receipt:
    """The destination's answer to the timeout query: its receipt if it imported the transfer (the
    source completes), its recorded refusal if it refused it, else — once the transfer has expired —
    "not imported", recorded first as this transfer's one answer, so it can never import it
    afterwards. Before the expiry it answers nothing (TransferNotExpired): the real bundle may still
    be on its way. Runs in the writer."""
    identified = query.identified
    answer = _answer(ledger, identified)
    if isinstance(answer, TransferImport):
        return accepted_receipt(ledger, answer)
    if answer is None:
        if identified.expires_at > CLOCK.get()():
            raise TransferNotExpired("transfer_not_expired", "转移尚未到期，暂不答复未导入 / the transfer has not "
                                                             "expired yet: ask again after "
                                                             f"{identified.expires_at.isoformat()}")
        answer = _record_refusal(ledger, identified, query.bundle_sha256, TransferRejection.NOT_IMPORTED,
                                 "到期前未导入，此后不再导入 / not imported before the expiry; never imported "
                                 "afterwards")
    return _signed_refusal(ledger, identified, query.bundle_sha256, answer)


def status_answer(ledger: Ledger, bundle: bytes) -> Receipt:
    """`answer_status` for bytes (the file transport)."""
    return answer_status(ledger, check_status_query(ledger, bundle))


def rejection_receipt(ledger: Ledger, bundle: bytes, refusal: TransferRefused | None = None) -> Receipt | None:
    """`reject` for bytes: the bundle is checked again here, and the reason recorded is what this
    check finds (`refusal`, the caller's earlier answer, is not trusted and only kept for callers)."""
    del refusal
    return reject(ledger, check_import(ledger, bundle))


def _sign_receipt(ledger: Ledger, body: dict[str, Any]) -> Receipt:
    key_id, _, private_key = ledger._signer_for(ledger.region_actor())
    return Receipt(body, key_id, private_key.sign(canonical_bytes(body)))


# -------------------------------------------------------------------------------------------
# Phase 3 — source


def _check_receipt(ledger: Ledger, receipt: Receipt) -> Transfer:
    """A receipt or rejection signed by the transfer's destination under its registered key, about a
    transfer of this region, naming a bundle this region exported for that very transfer."""
    try:
        transfer = _get_transfer(ledger, _uuid(receipt.body["transfer_id"]))
        peer = ledger.get_region().require_peer(transfer.destination)
    except (KeyError, ValueError, TypeError, NotFound):
        raise TransferRefused("receipt_unreadable", "the receipt names no transfer of this region") from None
    if receipt.body.get("format") != RECEIPT_FORMAT or receipt.body.get("source") != ledger.region_code:
        raise TransferRefused("receipt_invalid", "the receipt is not for this region")
    if receipt.body.get("destination") != transfer.destination or receipt.key_id != peer["key_id"]:
        raise TransferRefused("receipt_invalid", "the receipt is not from the transfer's destination")
    public = ed25519.load_public(peer["public_key"])
    try:
        signed = canonical_bytes(receipt.body)
    except (ValueError, TypeError):
        raise TransferRefused("receipt_unreadable", "the receipt is not canonical JSON") from None
    if not ed25519.verify(public, receipt.signature, signed):
        raise TransferRefused("receipt_signature_invalid", "the receipt's signature does not verify")
    if not (receipt.accepted or receipt.rejected or receipt.not_imported):
        raise TransferRefused("receipt_invalid", "the receipt neither accepts nor rejects")
    if receipt.body.get("member_id") not in (None, str(transfer.member_id)):  # older rejections name no member
        raise TransferRefused("receipt_invalid", "the receipt names another member")
    if not transfer.exported(receipt.body.get("bundle_sha256")):
        raise TransferRefused("receipt_wrong_bundle", "the receipt answers bytes this region never exported for "
                                                      "this transfer")
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
    """Phase 3: the destination refused — its signed rejection, or after the timeout its signed
    "not imported" (`answer_status`), of a bundle this region exported for the transfer. A timeout
    alone is not enough (VoidNeedsAnswer): ask the destination (`settle_after_timeout`), or, for a
    destination that never answers, the region admin's `force_void`. `reason` is unused (the
    destination's answer gives it) and kept for callers."""
    del reason
    transfer = _get_transfer(ledger, transfer_id)
    if rejection is None:
        if transfer.expires_at > CLOCK.get()():
            raise NotPermitted("转移尚未到期，只能凭目的地区签名的拒收回执撤销 / a pending transfer is voided only by the "
                               f"destination's signed rejection or after it expires "
                               f"({transfer.expires_at.isoformat()})")
        if transfer.status == Transfer.VOIDED:
            return transfer
        transfer.require_pending()
        raise VoidNeedsAnswer("超时撤销须凭目的地区签名的“未导入”答复（目的地区可能已导入而回执丢失）；目的地区始终不答复时，"
                              "由地区管理员说明理由强制撤销 / a timeout alone voids nothing — the destination may have "
                              "imported and its receipt got lost: ask it (its signed 'not imported' answer), or, if it "
                              "never answers, force the void as region admin with a reason")
    checked = _check_receipt(ledger, rejection)
    if checked.id != transfer_id or not (rejection.rejected or rejection.not_imported):
        raise TransferRefused("receipt_invalid", "not a rejection of this transfer")
    label = "目的地区答复未导入" if rejection.not_imported else "目的地拒收"
    reason = _safe_text(f"{label}: {rejection.body.get('reason', '')}")
    if transfer.status == Transfer.VOIDED:
        return transfer
    transfer.void(reason=reason, rejection=rejection.body)
    _unfreeze(ledger, transfer, reason)
    return transfer


def force_void(ledger: Ledger, transfer_id: UUID, *, reason: str) -> Transfer:
    """The region admin's override after the timeout, for a destination that never answers the
    query: a reasoned void, signed by the region and recorded as `Transfer.VoidForced` (flag
    `void_forced`). The residual risk: if the destination did import, the member's minutes now
    exist in both regions — the reason and the flag are what an audit follows up."""
    transfer = _get_transfer(ledger, transfer_id)
    reason = check_text(reason, "reason", chars_max=REASON_CHARS_MAX)
    transfer.force_void(reason=f"管理员超时强制撤销: {reason}", now=CLOCK.get()())
    _unfreeze(ledger, transfer, transfer.void_reason or reason)
    return transfer


def _unfreeze(ledger: Ledger, transfer: Transfer, reason: str) -> None:
    member = ledger.get_member(transfer.member_id)
    account = ledger.get_account(transfer.member_id)
    member.unfreeze(transfer_id=transfer.id, reason=reason)
    account.unfreeze(transfer_id=transfer.id)
    ledger._commit(ledger.region_actor(), None, transfer, member, account)


# -------------------------------------------------------------------------------------------
# Federation: the source pushes the bundle to the destination's service and finishes the transfer


class DestinationUnreachable(Unavailable):
    """The destination did not answer; the transfer stays pending and `send` may be retried."""

    code = "destination_unreachable"


Post = Callable[[str, bytes], tuple[int, bytes]]  # (url, body) -> (status, body)
FEDERATION_IMPORT_PATH = "/v1/federation/transfer-imports"
FEDERATION_STATUS_PATH = "/v1/federation/transfer-status"


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
    except JsonInputError:
        refusal = {}
    rejection = refusal.get("rejection") if isinstance(refusal, dict) else None
    if status in (409, 422) and rejection:
        return void(ledger, transfer_id, rejection=Receipt.from_bytes(canonical_bytes(rejection)))
    if status >= 500 or status in (408, 429):
        raise DestinationUnreachable(f"region {transfer.destination} answered {status}; try again later")
    detail = refusal.get("detail", "") if isinstance(refusal, dict) else ""
    raise TransferRefused(refusal.get("code", "transfer_refused") if isinstance(refusal, dict) else "transfer_refused",
                          f"region {transfer.destination} refused the bundle without a signed rejection: {detail}")


def settle_after_timeout(ledger: Ledger, transfer_id: UUID, *, post: Post) -> Transfer:
    """After the expiry, ask the destination whether it imported the transfer (with the bundle, so
    its answer names the bundle's SHA-256), then complete with its receipt or void with its signed
    "not imported" / rejection. Unreachable: stays pending, retry (or, as the last resort, the
    region admin's `force_void`)."""
    transfer = _get_transfer(ledger, transfer_id)
    if transfer.status != Transfer.PENDING:
        return transfer
    if transfer.expires_at > CLOCK.get()():
        raise NotPermitted("转移尚未到期 / the transfer has not expired yet: send it instead "
                           f"(expires {transfer.expires_at.isoformat()})")
    peer = ledger.get_region().require_peer(transfer.destination)
    if not peer.get("address"):
        raise InvalidInput(f"region {transfer.destination} has no service address: ask it by files instead "
                           "(timeledger transfer answer)")
    bundle = export_bundle(ledger, transfer_id)
    try:
        status, body = post(peer["address"].rstrip("/") + FEDERATION_STATUS_PATH, bundle)
    except OSError as error:
        raise DestinationUnreachable(f"region {transfer.destination} did not answer: {error}") from None
    if status == 200:
        answer = Receipt.from_bytes(body)
        return complete(ledger, answer) if answer.accepted else void(ledger, transfer_id, rejection=answer)
    if status >= 500 or status in (408, 429):
        raise DestinationUnreachable(f"region {transfer.destination} answered {status}; try again later")
    try:
        refusal = loads_bounded(body)
    except JsonInputError:
        refusal = {}
    refusal = refusal if isinstance(refusal, dict) else {}
    raise TransferRefused(str(refusal.get("code", "transfer_refused")),
                          f"region {transfer.destination} gave no signed answer: {refusal.get('detail', '')}")


def _digest(receipt: Receipt) -> str:
    return hashlib.sha256(receipt.to_bytes()).hexdigest()


def get_transfer(ledger: Ledger, transfer_id: UUID) -> Transfer:
    return _get_transfer(ledger, transfer_id)


__all__ = ["CheckedImport", "DestinationUnreachable", "Receipt", "StatusQuery", "TransferNotExpired",
           "TransferRefused", "VoidNeedsAnswer", "answer_status", "check_import", "check_status_query",
           "commit_import", "complete", "export_bundle", "force_void", "identify_transfer", "import_bundle",
           "initiate", "region_card", "register_peer", "reject", "rejection_receipt", "send",
           "settle_after_timeout", "status_answer", "verify_bundle", "void"]
