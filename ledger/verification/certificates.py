"""Hour certificates (志愿服务证明, 附件5 in verifiable form): issue, verify offline, render as PDF.

A certificate is one canonical JSON document (RFC 8785; its SHA-256 is the certificate's digest):

    {
      "format":    "timeledger/hour-certificate@v1",
      "number":    "320102-2026-000001",             ← region, year of issue, sequence
      "region":    "320102",
      "member":    {"id": "<member uuid>", "name": "曹顺仙"},
      "period":    {"from": "2026-01-01", "to": "2026-12-31"},   ← service dates, inclusive; null = open
      "issued_at": "2026-12-28T10:00:00.000000+08:00",
      "total":     {"sessions": 5, "minutes": 600},             ← the claim the verifier re-derives
      "checkpoint": "<the region's signed checkpoint note (C2SP), witness cosignatures included>",
      "events": [ {"index": <leaf index>, "event": "<base64 stored envelope>",
                   "proof": ["<base64 hash>", …]}, … ],        ← sorted by leaf index
      "seal":      {"key": "<region key id>", "signature": "<base64 Ed25519>"}
    }

`events` holds, each with its RFC 9162 inclusion proof against the checkpoint:
* every event of each certified session in the period (complete chains from version 1),
* the member's `Member.Enrolled` (the name), the `Community.Registered` of every certifying
  community and the region's `Region.Initialised` (the issuer's name),
* the `Key.Registered` / `Key.Revoked` events of every key that signed any of them, the checkpoint
  or the seal, and of their certifiers, up to the province root.

Nothing else: no personal fields beyond what those signed events hold (no phone, address, health).

`verify_certificate` trusts only the root public key: it checks the document's form, every event
(envelope, canonical statement, signer key certified through the chain and not revoked at the
event's time, Ed25519 signature, hash chain, replay with the domain classes — the same checks as
`timeledger verify`, via `ledger.verification.store.verify_envelopes`), the checkpoint's signature by a region
key of that chain, every inclusion proof, that every session is the member's, certified by its own
community and inside the period, re-derives the total and compares it with the claim, and checks the
region's seal over the header and the leaves. The first failure raises `CertificateError` naming it.

Limit (inherent in an RFC 9162 log): a proof of inclusion is not a proof of absence, so an offline
verifier cannot know that no later event (a correction, a complaint) exists for a session below the
checkpoint's size; `timeledger audit` on the region's log can.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence
from uuid import UUID


from ledger.domain.keys import Key
from ledger.domain.member import Member
from ledger.domain.organisations import Community
from ledger.domain.region import Region
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Role
from ledger.verification.store import key_valid_at
from ledger.storage.mapper import decode_event
from ledger.signing import keys as ed25519
from ledger.signing import merkle
from ledger.signing.canonical import JsonInputError, canonical_bytes, loads_bounded
from ledger.signing.note import Checkpoint, Ed25519Verifier, NoteError, open_checkpoint, parse_note
from ledger.signing.statement import EnvelopeError, Statement, parse_signed_bytes, statement_hash, unpack
from ledger.storage.checkpoints import CheckpointError, checkpoint_time, origin_of
from ledger.verification.checkpoints import verify_witnesses
from ledger.signing.statement import event_type_of

FORMAT = "timeledger/hour-certificate@v1"
SEAL_PREFIX = b"timeledger/v1 hour-certificate seal\n"
REFERENCE_SCHEME = "timeledger-cert"
FIELDS = frozenset({"format", "number", "region", "member", "period", "issued_at", "total", "checkpoint", "events",
                    "seal"})
NUMBER_RE = re.compile(r"^[0-9]{6}-[0-9]{4}-[0-9]{6}$")
EVENTS_MAX = 100_000  # a sanity bound for hostile input
KEY_TYPES = frozenset({"Key.Registered", "Key.Revoked"})
ALLOWED_AGGREGATES = (Key, Member, Community, Region, ServiceSession)


class CertificateError(ValueError):
    """A certificate that cannot be issued, or that does not verify (the message says what failed)."""


@dataclass(frozen=True)
class SessionLine:
    session_id: str
    service_date: date
    activity: str
    content: str
    place: str
    minutes: int
    rating: str
    community_id: str
    community_name: str
    certified_on: date | None
    assurance: str = "self_reported"  # values.Assurance, from the signed Recorded event


@dataclass(frozen=True)
class VerifiedCertificate:
    number: str
    region_code: str
    region_name: str
    member_id: str
    member_name: str
    period_from: date | None
    period_to: date | None
    issued_at: datetime
    sessions: list[SessionLine]
    total_minutes: int
    checkpoint: Checkpoint
    checkpoint_time: datetime
    events: int
    witnesses: list[str]
    bundle_sha256: str

    @property
    def reference(self) -> str:
        return certificate_reference(self.number, self.bundle_sha256, self.total_minutes)


def certificate_reference(number: str, sha256_hex: str, minutes: int) -> str:
    """The compact reference a QR code carries: number, SHA-256 of the bundle file, certified minutes."""
    return f"{REFERENCE_SCHEME}:{number}?sha256={sha256_hex}&minutes={minutes}"


def parse_reference(text: str) -> tuple[str, str, int]:
    match = re.fullmatch(rf"{REFERENCE_SCHEME}:([0-9-]+)\?sha256=([0-9a-f]{{64}})&minutes=([0-9]+)", text.strip())
    if match is None:
        raise CertificateError(f"not a certificate reference: {text!r}")
    return match.group(1), match.group(2), int(match.group(3))


# ------------------------------------------------------------------------------------------------------ helpers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    """Strict, canonical standard base64 (padded, no other characters, zero unused bits)."""
    if not isinstance(text, str):
        raise CertificateError(f"{what} is not a base64 string")
    try:
        encoded = text.encode("ascii")
        raw = binascii.a2b_base64(encoded, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise CertificateError(f"{what} is not valid base64") from None
    if binascii.b2a_base64(raw, newline=False) != encoded:
        raise CertificateError(f"{what} is not canonical base64")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CertificateError(f"field {key!r} appears twice")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise CertificateError(f"{name} is not allowed in a certificate")


def _reject_float(text: str) -> Any:
    raise CertificateError(f"number {text} is not an integer")


def _object(value: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise CertificateError(f"{what} must be an object with exactly the fields {sorted(keys)}")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CertificateError(f"{what} must be a non-negative integer")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise CertificateError(f"{what} must be a non-empty string")
    return value


def _day(value: Any, what: str) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(_str(value, what))
    except ValueError:
        raise CertificateError(f"{what} {value!r} is not a date YYYY-MM-DD") from None
    if day.isoformat() != value:
        raise CertificateError(f"{what} {value!r} is not a date YYYY-MM-DD")
    return day


def _leaves_digest(entries: Sequence[tuple[int, bytes]]) -> str:
    """SHA-256 over (index as 8 bytes big-endian ‖ leaf hash) of every event, in index order."""
    digest = hashlib.sha256()
    for index, leaf in entries:
        digest.update(index.to_bytes(8, "big"))
        digest.update(leaf)
    return digest.hexdigest()


def _seal_message(document: dict[str, Any], checkpoint: Checkpoint, leaves: Sequence[tuple[int, bytes]]) -> bytes:
    header = {name: document[name] for name in ("format", "number", "region", "member", "period", "issued_at",
                                                 "total")}
    header["checkpoint"] = {"size": checkpoint.size, "root": _b64(checkpoint.root_hash)}
    header["leaves"] = _leaves_digest(leaves)
    return SEAL_PREFIX + canonical_bytes(header)


def _statement(envelope: bytes) -> Statement | None:
    try:
        return parse_signed_bytes(unpack(envelope)[1], strict=False)
    except EnvelopeError:
        return None


def _describe(statement: Statement | None, index: int) -> str:
    if statement is None:
        return f"event at leaf {index}"
    return f"event {statement.type} {statement.aggregate} v{statement.version} (leaf {index})"


def _in_period(day: date, period_from: date | None, period_to: date | None) -> bool:
    return (period_from is None or day >= period_from) and (period_to is None or day <= period_to)


def period_text(period_from: date | None, period_to: date | None) -> str:
    if period_from is None and period_to is None:
        return "全部记录"
    return f"{period_from.isoformat() if period_from else '最早'} 至 {period_to.isoformat() if period_to else '今'}"


# -------------------------------------------------------------------------------------------------------- verify


def verify_certificate(data: bytes, root_public_key: bytes, *, witness_keys: Sequence[str] = (),
                       witness_quorum: int = 0) -> VerifiedCertificate:
    """Verify a certificate bundle offline, trusting only `root_public_key` (32 raw bytes).

    Returns the verified content (with the re-derived total); raises `CertificateError` naming the
    first thing that failed. `witness_keys` (C2SP verifier keys) and `witness_quorum` optionally
    require witness cosignatures on the checkpoint.
    """
    from ledger.verification.store import verify_envelopes

    # -- 1. the document's form ------------------------------------------------------------------------
    if not isinstance(data, bytes):
        raise CertificateError("a certificate is bytes (the JSON file as written)")
    try:
        document = loads_bounded(data, object_pairs_hook=_no_duplicates, parse_float=_reject_float,
                                 parse_constant=_reject_constant)
    except JsonInputError as error:  # depth-bounded: a file nested 990 deep is refused, not a RecursionError
        raise CertificateError(str(error)) from None
    if not isinstance(document, dict) or set(document) != FIELDS:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise CertificateError(f"certificate fields are {found}, want {sorted(FIELDS)}")
    if document["format"] != FORMAT:
        raise CertificateError(f"unknown certificate format {document['format']!r}")
    # Floats and NaN were refused while parsing; what is left re-encodes to the same bytes only if the
    # file is in canonical form (sorted keys, no white space, minimal escapes).
    try:
        canonical = canonical_bytes(document, checked=False) == data
    except ValueError:  # e.g. a lone surrogate escape, which has no UTF-8 form
        canonical = False
    if not canonical:
        raise CertificateError("the file is not in canonical JSON form (it was edited or re-encoded)")
    number = _str(document["number"], "number")
    if NUMBER_RE.fullmatch(number) is None:
        raise CertificateError(f"certificate number {number!r} is not REGION-YEAR-SEQUENCE")
    region_code = _str(document["region"], "region")
    if not re.fullmatch(r"[0-9]{6}", region_code) or not number.startswith(region_code + "-"):
        raise CertificateError(f"region {region_code!r} does not match the certificate number {number}")
    member = _object(document["member"], {"id", "name"}, "member")
    member_id, member_name = _str(member["id"], "member id"), _str(member["name"], "member name")
    period = _object(document["period"], {"from", "to"}, "period")
    period_from, period_to = _day(period["from"], "period start"), _day(period["to"], "period end")
    if period_from and period_to and period_from > period_to:
        raise CertificateError("the period ends before it starts")
    try:
        issued_at = datetime.fromisoformat(_str(document["issued_at"], "issued_at"))
    except ValueError:
        raise CertificateError("issued_at is not an ISO 8601 time") from None
    if issued_at.tzinfo is None:
        raise CertificateError("issued_at has no time zone")
    total = _object(document["total"], {"sessions", "minutes"}, "total")
    claimed_sessions, claimed_minutes = _int(total["sessions"], "total sessions"), _int(total["minutes"], "total minutes")
    seal = _object(document["seal"], {"key", "signature"}, "seal")
    seal_key_id, seal_signature = _str(seal["key"], "seal key"), _unb64(seal["signature"], "seal signature")
    note = document["checkpoint"]
    try:
        checkpoint = Checkpoint.parse(parse_note(_str(note, "checkpoint")).text)
        signed_at = checkpoint_time(checkpoint)
    except (NoteError, CheckpointError) as error:
        raise CertificateError(f"checkpoint: {error}") from None
    origin = origin_of(region_code)
    if checkpoint.origin != origin:
        raise CertificateError(f"checkpoint origin {checkpoint.origin!r} is not this region's log {origin!r}")

    raw_events = document["events"]
    if not isinstance(raw_events, list) or not raw_events or len(raw_events) > EVENTS_MAX:
        raise CertificateError("events must be a non-empty list")
    indexes: list[int] = []
    envelopes: list[bytes] = []
    paths: list[list[bytes]] = []
    for number_in_list, entry in enumerate(raw_events):
        what = f"events[{number_in_list}]"
        entry = _object(entry, {"index", "event", "proof"}, what)
        index = _int(entry["index"], f"{what} index")
        if indexes and index <= indexes[-1]:
            raise CertificateError(f"{what}: leaf index {index} is not after {indexes[-1]} (repeated or unsorted)")
        proof = entry["proof"]
        if not isinstance(proof, list) or len(proof) > 64:
            raise CertificateError(f"{what} proof must be a list of at most 64 hashes")
        indexes.append(index)
        envelopes.append(_unb64(entry["event"], f"{what} event"))
        paths.append([_unb64(value, f"{what} proof hash {i}") for i, value in enumerate(proof)])
    types = [event_type_of(envelope) for envelope in envelopes]
    parsed: dict[int, Statement | None] = {}

    def statement_at(position: int) -> Statement | None:  # parsed on demand: most never need it here
        if position not in parsed:
            parsed[position] = _statement(envelopes[position])
        return parsed[position]

    # -- 2. every event, with the keys that signed it, trusting only the root ----------------------------
    key_envelopes = [envelope for envelope, kind in zip(envelopes, types) if kind in KEY_TYPES]
    try:
        checked = verify_envelopes(envelopes, key_envelopes=key_envelopes, root_public_key=root_public_key,
                                   region_code=region_code)
    except Exception as error:  # noqa: BLE001 - a malformed envelope the shared verifier did not expect
        for index, envelope in zip(indexes, envelopes):
            try:
                parse_signed_bytes(unpack(envelope)[1], strict=True)
            except (EnvelopeError, ValueError) as bad:
                raise CertificateError(f"event at leaf {index}: not a valid signed statement: {bad}") from None
        raise CertificateError(f"the events could not be checked: {type(error).__name__}: {error}") from None
    if checked.report.problems:
        problem = checked.report.problems[0]
        position = problem.position
        where = (_describe(statement_at(position), indexes[position]) if 0 <= position < len(indexes)
                 else f"event {problem.aggregate_id} v{problem.version}")
        more = len(checked.report.problems) - 1
        raise CertificateError(f"{where}: {problem.reason}" + (f" (and {more} more problem(s))" if more else ""))
    trusted = checked.trusted
    region_actor = str(Region.create_id(region_code))

    def region_key(key_id: str, moment: datetime, what: str) -> Any:
        key = trusted.get(key_id)
        if key is None:
            raise CertificateError(f"{what} is signed by key {key_id}, which is not certified by the trust root")
        if key.role is not Role.REGION or key.owner_id != region_actor:
            raise CertificateError(f"{what} is signed by key {key_id}, which is not region {region_code}'s key")
        if not key_valid_at(key, moment):
            state = (f"revoked from {key.revoked_at.isoformat()}" if key.revoked_at and moment >= key.revoked_at
                     else f"registered only at {key.registered_at.isoformat()}")
            raise CertificateError(f"{what} was signed at {moment.isoformat()} by key {key_id}, {state}")
        return key

    # -- 3. the checkpoint: signed by a region key of the chain, valid when it signed -------------------
    region_keys = [key for key in trusted.values() if key.role is Role.REGION and key.owner_id == region_actor]
    verifiers = {key.key_id: Ed25519Verifier(origin, key.public_key) for key in region_keys}
    signer_id = None
    for key_id, verifier in verifiers.items():
        try:
            open_checkpoint(note, verifier)
        except NoteError:
            continue
        signer_id = key_id
        break
    if signer_id is None:
        signatures = parse_note(note).signatures
        known = {(verifier.name, verifier.key_id) for verifier in verifiers.values()}
        if any((signature.name, signature.key_id) in known for signature in signatures):
            raise CertificateError("the checkpoint's signature by the region key does not verify: its size, root "
                                   "or time was changed")
        raise CertificateError(f"the checkpoint is not signed by a key of region {region_code} certified by the trust "
                               f"root (its signatures are by {sorted({s.name + '+' + s.key_id.hex() for s in signatures})})")
    region_key(signer_id, signed_at, "the checkpoint")
    witnesses: list[str] = []
    if witness_keys or witness_quorum:
        try:
            witnesses = verify_witnesses(note, list(witness_keys), witness_quorum)
        except CheckpointError as error:
            raise CertificateError(f"checkpoint witnesses: {error}") from None

    # -- 4. inclusion of every event in the checkpoint's tree --------------------------------------------
    leaves: list[tuple[int, bytes]] = []
    for position, (index, envelope, path) in enumerate(zip(indexes, envelopes, paths)):
        leaf = merkle.leaf_hash(envelope)
        try:
            merkle.verify_inclusion(leaf, index, checkpoint.size, path, checkpoint.root_hash)
        except merkle.ProofError as error:
            raise CertificateError(f"{_describe(statement_at(position), index)}: not proven to be in the region's log "
                                   f"(checkpoint size {checkpoint.size}): {error}") from None
        leaves.append((index, leaf))

    # -- 5. what the events say: the member, the sessions, the total -------------------------------------
    aggregates = checked.aggregates
    for aggregate in aggregates.values():
        if not isinstance(aggregate, ALLOWED_AGGREGATES):
            raise CertificateError(f"{type(aggregate).__name__} {aggregate.id}: a {type(aggregate).__name__} has no "
                                   "place in an hour certificate")
    certifiers: dict[str, str] = {}  # session id -> the actor who signed its certification
    for position, kind in enumerate(types):
        if kind == "ServiceSession.Certified":
            statement = statement_at(position)
            assert statement is not None  # every envelope verified above
            certifiers.setdefault(statement.aggregate, statement.actor)
    region = aggregates.get(UUID(region_actor))
    if not isinstance(region, Region):
        raise CertificateError(f"the certificate lacks region {region_code}'s Region.Initialised event (the issuer)")
    try:
        holder = aggregates.get(UUID(member_id))
    except ValueError:
        raise CertificateError(f"member id {member_id!r} is not a UUID") from None
    if not isinstance(holder, Member):
        raise CertificateError(f"the certificate lacks the Member.Enrolled event of member {member_id}")
    if holder.name != member_name:
        raise CertificateError(f"the certificate names {member_name!r} but member {member_id} enrolled as "
                               f"{holder.name!r}")
    sessions: list[SessionLine] = []
    for aggregate in aggregates.values():
        if not isinstance(aggregate, ServiceSession):
            continue
        session_id = str(aggregate.id)
        if str(aggregate.member_id) != member_id:
            raise CertificateError(f"session {session_id} belongs to member {aggregate.member_id}, not to the "
                                   f"certificate's member {member_id}")
        if aggregate.status != ServiceSession.CERTIFIED or aggregate.certified_minutes <= 0:
            raise CertificateError(f"session {session_id} is not certified (status {aggregate.status}, "
                                   f"{aggregate.certified_minutes} certified minutes)")
        if not _in_period(aggregate.service_date, period_from, period_to):
            raise CertificateError(f"session {session_id} on {aggregate.service_date} is outside the period "
                                   f"{period_text(period_from, period_to)}")
        if certifiers.get(session_id) != str(aggregate.community_id):
            raise CertificateError(f"session {session_id} was not certified by its own community "
                                   f"{aggregate.community_id}")
        community = aggregates.get(aggregate.community_id)
        if not isinstance(community, Community):
            raise CertificateError(f"the certificate lacks the Community.Registered event of community "
                                   f"{aggregate.community_id}, which certified session {session_id}")
        rating = aggregate.rating.value if aggregate.rating is not None else ""
        sessions.append(SessionLine(session_id, aggregate.service_date, aggregate.activity, aggregate.content,
                                    aggregate.place, aggregate.certified_minutes, rating, str(community.id),
                                    community.name, aggregate.certified_on, aggregate.assurance.value))
    sessions.sort(key=lambda line: (line.service_date, line.session_id))
    minutes = sum(line.minutes for line in sessions)
    if (len(sessions), minutes) != (claimed_sessions, claimed_minutes):
        raise CertificateError(f"the certificate claims {claimed_sessions} session(s) and {claimed_minutes} minutes, "
                               f"but its signed events certify {len(sessions)} session(s) and {minutes} minutes")

    # -- 6. the region's seal over the header and the leaves ---------------------------------------------
    key = region_key(seal_key_id, issued_at, "the certificate seal")
    if not ed25519.verify(ed25519.load_public(_b64(key.public_key)), seal_signature,
                          _seal_message(document, checkpoint, leaves)):
        raise CertificateError("the region's seal does not verify: the number, member, period, issue time, total, "
                               "checkpoint or set of events was changed after issue")
    return VerifiedCertificate(
        number=number, region_code=region_code, region_name=region.name, member_id=member_id,
        member_name=member_name, period_from=period_from, period_to=period_to, issued_at=issued_at,
        sessions=sessions, total_minutes=minutes, checkpoint=checkpoint, checkpoint_time=signed_at,
        events=len(envelopes), witnesses=witnesses, bundle_sha256=hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------------------------------------- issue


def _replay(envelopes: Sequence[bytes]) -> Any:
    """The aggregate one aggregate's envelopes (versions 1..n) replay to."""
    from ledger.verification.store import event_class

    aggregate: Any = None
    for envelope in envelopes:
        _, signed_bytes = unpack(envelope)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        domain_event = decode_event(event_class(statement.type), UUID(statement.aggregate), statement.version,
                                    statement.time, statement.payload, statement_hash(signed_bytes))
        aggregate = domain_event.mutate(aggregate)
    return aggregate


