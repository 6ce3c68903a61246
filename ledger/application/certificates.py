"""Issuing hour certificates (志愿服务证明): the certified sessions of a member, their log proofs and
keys, a checkpoint (signed now or reused) and the region's seal, as one bundle; `issue_certificate`
checks the bundle with `ledger.verification.certificates.verify_certificate` before it is handed out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Sequence
from uuid import UUID

import sqlalchemy as sa

from ledger.domain.base import CLOCK
from ledger.domain.keys import Key
from ledger.domain.region import Region
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import CHINA_TIME
from ledger.signing import keys as ed25519
from ledger.signing import merkle
from ledger.signing.canonical import canonical_bytes
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.storage import log_tables as t
from ledger.application.checkpoints import (
    sign_checkpoint,
)
from ledger.storage.merkle_log import Leaf, MerkleLog
from ledger.verification.certificates import CertificateError, FORMAT, VerifiedCertificate, _b64, _in_period, _replay, _seal_message, verify_certificate


@dataclass(frozen=True)
class IssuedCertificate:
    number: str
    bundle: bytes
    sha256: str
    verified: VerifiedCertificate
    checkpoint_id: int = 0


@dataclass
class LeafSelection:
    """Leaves of a region's log, with their stored envelopes, to prove to someone offline."""

    leaves: dict[int, Leaf] = field(default_factory=dict)
    envelopes: dict[int, bytes] = field(default_factory=dict)

    def add(self, log: MerkleLog, leaves: Sequence[Leaf]) -> list[bytes]:
        missing = [leaf for leaf in leaves if leaf.index not in self.envelopes]
        if missing:
            self.envelopes.update(log.envelopes_of(missing))
        for leaf in leaves:
            self.leaves[leaf.index] = leaf
        return [self.envelopes[leaf.index] for leaf in leaves]

    def add_key_chain(self, log: MerkleLog, key_ids: set[str], size: int) -> None:
        """The key events of every signer of the selected events and of `key_ids`, and of their
        certifiers up to the root (which certifies itself), below leaf `size`."""
        wanted = set(key_ids) | {parse_signed_bytes(unpack(envelope)[1], strict=False).key
                                 for envelope in self.envelopes.values()}
        done: set[str] = set()
        while wanted - done:
            key_id = sorted(wanted - done)[0]
            done.add(key_id)
            leaves = log.leaves_of_aggregates([str(Key.create_id(key_id))], below=size)
            if not leaves:
                raise CertificateError(f"key {key_id} is not registered in the region's log below size {size}")
            for envelope in self.add(log, leaves):
                wanted.add(parse_signed_bytes(unpack(envelope)[1], strict=False).key)


def _genesis_leaf(log: MerkleLog, aggregate_id: str, below: int, what: str) -> Leaf:
    leaf = log.leaf_of_event(aggregate_id, 1)
    if leaf is None or leaf.index >= below:
        raise CertificateError(f"{what} {aggregate_id} is not in the region's log")
    return leaf


def _next_number(connection: sa.Connection, region_code: str, year: int) -> str:
    prefix = f"{region_code}-{year:04d}-"
    last = connection.execute(sa.select(sa.func.max(t.certificates.c.number))
                              .where(t.certificates.c.number.like(prefix + "%"))).scalar()
    sequence = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{sequence:06d}"


def issue_certificate(ledger: Any, member_id: UUID | str, *, year: int | None = None,
                      period_from: date | None = None, period_to: date | None = None,
                      log: MerkleLog | None = None) -> IssuedCertificate:
    """Issue a certificate of the member's certified sessions with service dates in the period
    (`year`, or `period_from`..`period_to`; all of them if neither), against a fresh checkpoint."""
    if ledger.region_code is None:
        raise CertificateError("the database holds no region")
    if year is not None:
        if period_from is not None or period_to is not None:
            raise CertificateError("give a year or a period, not both")
        period_from, period_to = date(year, 1, 1), date(year, 12, 31)
    if period_from and period_to and period_from > period_to:
        raise CertificateError("the period ends before it starts")
    member_key = str(UUID(str(member_id)))
    log = log or MerkleLog.for_ledger(ledger)
    checkpoint = sign_checkpoint(ledger, log, reuse_latest=True)
    size = checkpoint.size
    selection = LeafSelection()

    member_leaf = _genesis_leaf(log, member_key, size, "member")
    if member_leaf.event_type != "Member.Enrolled":
        raise CertificateError(f"{member_key} is not a member (its first event is {member_leaf.event_type})")
    selection.add(log, [member_leaf])
    region_leaf = _genesis_leaf(log, str(Region.create_id(ledger.region_code)), size, "region")
    selection.add(log, [region_leaf])

    session_ids = log.sessions_of_member(member_key, below=size)
    by_session: dict[str, list[Leaf]] = {}
    for leaf in log.leaves_of_aggregates(session_ids, below=size):
        by_session.setdefault(leaf.aggregate_id, []).append(leaf)
    communities: set[str] = set()
    certified: list[ServiceSession] = []
    for session_id in session_ids:
        leaves = by_session.get(session_id, [])
        if [leaf.version for leaf in leaves] != list(range(1, len(leaves) + 1)):
            raise CertificateError(f"session {session_id}'s events in the log are not versions 1..{len(leaves)}")
        envelopes = log.envelopes_of(leaves)
        session = _replay([envelopes[leaf.index] for leaf in leaves])
        if (session.status != ServiceSession.CERTIFIED or session.certified_minutes <= 0
                or not _in_period(session.service_date, period_from, period_to)):
            continue
        selection.add(log, leaves)
        certified.append(session)
        communities.add(str(session.community_id))
    for community_id in sorted(communities):
        selection.add(log, [_genesis_leaf(log, community_id, size, "community")])

    # the keys: every signer, the checkpoint's and the seal's region key, and their certifiers to the root
    seal_key_id, seal_sign = ledger.signer_of(ledger.region_actor())
    selection.add_key_chain(log, {checkpoint.key_id, seal_key_id}, size)

    ordered = sorted(selection.leaves)
    paths = merkle.inclusion_proofs(log, ordered, size)  # the nodes of every path, fetched together
    entries = [{"index": index, "event": _b64(selection.envelopes[index]), "proof": [_b64(h) for h in paths[index]]}
               for index in ordered]
    now = CLOCK.get()()
    issued_at = now.astimezone(CHINA_TIME).isoformat(timespec="microseconds")
    parsed_checkpoint = checkpoint.checkpoint
    member_name = _replay([selection.envelopes[member_leaf.index]]).name
    engine = log.engine
    root = ed25519.unb64(ledger.root_public_key())
    leaves_list = [(index, selection.leaves[index].leaf_hash) for index in ordered]
    for _attempt in range(5):
        try:
            with engine.begin() as connection:
                number = _next_number(connection, ledger.region_code, now.astimezone(CHINA_TIME).year)
                document: dict[str, Any] = {
                    "format": FORMAT,
                    "number": number,
                    "region": ledger.region_code,
                    "member": {"id": member_key, "name": member_name},
                    "period": {"from": period_from.isoformat() if period_from else None,
                               "to": period_to.isoformat() if period_to else None},
                    "issued_at": issued_at,
                    "total": {"sessions": len(certified), "minutes": sum(s.certified_minutes for s in certified)},
                    "checkpoint": checkpoint.note,
                    "events": entries,
                    "seal": {"key": seal_key_id, "signature": ""},
                }
                document["seal"]["signature"] = _b64(seal_sign(_seal_message(document, parsed_checkpoint,
                                                                                      leaves_list)))
                bundle = canonical_bytes(document)
                digest = hashlib.sha256(bundle).hexdigest()
                # the issuer checks what it signed exactly as a verifier will; a failure registers nothing
                verified = verify_certificate(bundle, root)
                connection.execute(t.certificates.insert().values(
                    number=number, member_id=member_key, period_from=document["period"]["from"],
                    period_to=document["period"]["to"], sessions=document["total"]["sessions"],
                    minutes=document["total"]["minutes"], checkpoint_id=checkpoint.checkpoint_id,
                    bundle_sha256=digest, issued_at=issued_at))
        except sa.exc.IntegrityError:
            continue  # another issuer took this number: take the next one
        break
    else:  # pragma: no cover - five collisions in a row
        raise CertificateError("could not allocate a certificate number; try again")
    return IssuedCertificate(number, bundle, digest, verified, checkpoint.checkpoint_id)


def issued_certificates(log: MerkleLog, member_id: str | None = None) -> list[dict[str, Any]]:
    """The register of issued certificates (newest first)."""
    query = sa.select(t.certificates).order_by(t.certificates.c.issued_at.desc())
    if member_id is not None:
        query = query.where(t.certificates.c.member_id == str(member_id))
    with log.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
