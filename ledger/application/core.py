"""The Ledger: one method per use case. The only writer of events.

Every command: load the aggregates involved → call their commands (which check the rules) →
`_commit(actor, …)`, which tags the new events with their signer; `_record` then signs each event
as a canonical statement chained to its aggregate's previous statement, and eventsourcing saves
them all in one transaction. Inside `ledger.batch()` several commands share one transaction
(group commit) and one identity map, so two commands on one account in a batch see each other.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterator, Sequence, TypeVar
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from ledger.domain.base import CLOCK
from ledger.domain.calendar import WorkCalendar
from ledger.domain.errors import (
    ConcurrentUpdate,
    DeviceKeyUnknown,
    OfflineRecordInvalid,
    KeyRevoked,
    MemberKeyLocked,
    NotFound,
    NotPermitted,
    SignatureInvalid,
)
from ledger.domain.keys import Key
from ledger.domain.member import Member
from ledger.domain.organisations import Community
from ledger.domain.permissions import SIGNER_ROLES
from ledger.domain.region import Region
from ledger.domain.values import (
    CERTIFIERS,
    Role,
    local_date,
)
from ledger.storage.database import Database, parse_database_url
from ledger.storage.mapper import SigningMapper, event_payload, event_type_name, make_transcoder
from ledger.storage.secrets import NewKey, SecretStore, load_master_key
from ledger.signing import keys as ed25519
from ledger.application import ownership
from ledger.signing.statement import GENESIS_HASH, Statement, encode_statement, pack, statement_hash

SIGNER_ATTRIBUTE = "_signer"
CHAIN_HEAD = "_chain_head"  # kept on each aggregate by ledger.domain.base (eventsourcing's protocols do not know it)
CLIENT_SIGNATURE_AGE_MAX = timedelta(minutes=5)  # prepared statements expire: the chain moves on
CLIENT_CLOCK_SKEW_MAX = timedelta(seconds=5)
DEVICE_CLOCK_SKEW_MAX = timedelta(minutes=10)  # a device's clock a little ahead of the ledger's is not a forgery
A = TypeVar("A", bound=Aggregate)

# the refusal for a role acting on a member who is not its own (ownership.owns_member); other roles
# are not limited here (their commands check their own relations)
_NOT_OWN_MEMBER = {
    Role.MEMBER: "a member acts only on their own record",
    Role.COMMUNITY: "a community acts only on its own members",
    Role.UNIT: "a unit acts only on its own members",
}


@dataclass(frozen=True)
class Actor:
    """Who does a command: the id of the person or organisation, and its role."""

    actor_id: UUID
    role: Role


@dataclass
class _Batch:
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    touched: dict[UUID, Aggregate] = field(default_factory=dict)
    new_keys: list[str] = field(default_factory=list)
    private_keys: list[NewKey] = field(default_factory=list)  # made in the batch: stored when it is saved
    new_signers: dict[UUID, tuple[str, Role, Ed25519PrivateKey]] = field(default_factory=dict)


class StatementsPrepared(Exception):
    """Raised instead of saving in `prepare` mode: the statements a client must sign."""

    def __init__(self, statements: list[bytes], signed_at: datetime) -> None:
        super().__init__(f"{len(statements)} statement(s) to sign")
        self.statements = statements
        self.signed_at = signed_at


class _ClientSigner:
    """Signs with signatures a client made over the exact statements, checking each one against
    the client's registered public key before it is stored."""

    def __init__(self, key_id: str, role: Role, public_key: bytes, signatures: list[bytes]) -> None:
        self.key_id = key_id
        self.role = role
        self._public = ed25519.load_public(ed25519.b64(public_key))
        self._signatures = list(signatures)

    def sign(self, message: bytes) -> bytes:
        if not self._signatures:
            raise SignatureInvalid("fewer signatures than statements: prepare the command again")
        signature = self._signatures.pop(0)
        if len(signature) != ed25519.SIGNATURE_BYTES or not ed25519.verify(self._public, signature, message):
            raise SignatureInvalid("a signature does not match its statement (the record changed, or the key is "
                                   "wrong): prepare the command again")
        return signature

    def finish(self) -> None:
        if self._signatures:
            raise SignatureInvalid("more signatures than statements: prepare the command again")


@dataclass(frozen=True)
class RedemptionResult:
    redemption_id: UUID
    minutes: int
    balance_minutes: int
    applied: bool  # False when this was a retry of a redemption already applied
    lines: list[dict[str, Any]]


class LedgerCore(Application[UUID]):
    """Unit of work, loading, committing, signing (server- and client-side), and the look-ups and guards
    every use-case family shares. `Ledger` (ledger/application/__init__.py) adds one mixin per family."""

    name = "Ledger"
    # Reads come from the aggregate cache (fast-forwarded from the store), not snapshots:
    # eventsourcing's JSON transcoder would turn our sets, UUID-keyed maps and enums into other
    # types, and a snapshot that differs from the replay is worse than none. A member's account
    # holds hundreds of events a year; a cold load replays them in milliseconds.
    env = {"AGGREGATE_CACHE_MAXSIZE": "20000"}

    def __init__(self, database_url: str | None = None, *, env: dict[str, str] | None = None,
                 master_key: bytes | None = None) -> None:
        self.database: Database = parse_database_url(database_url)
        self.database.ensure_schema()
        wiring = self.database.eventsourcing_env()
        wiring.update(env or {})
        super().__init__(env=wiring)
        self.secrets = SecretStore(self.database, master_key or load_master_key(self.database))
        self._signers: dict[UUID, tuple[str, Role, Ed25519PrivateKey]] = {}
        self._local = threading.local()
        self.region_code: str | None = self.secrets.get_setting("region_code")

    def construct_mapper(self) -> SigningMapper:
        return SigningMapper(transcoder=make_transcoder())

    def close(self) -> None:
        self.secrets.close()
        super().close()

    # =========================================================================================
    # Unit of work, signing, saving

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: every command inside is saved in one transaction at the end."""
        assert getattr(self._local, "batch", None) is None, "batches do not nest"
        batch = self._local.batch = _Batch()
        try:
            yield
        finally:
            self._local.batch = None
        if batch.touched:
            # The private keys of the registrations in the batch, stored (inactive) before the registrations,
            # in one transaction; a batch thrown away (a refused import, a dry run) stores none.
            registered = set(batch.new_keys)
            keys = [key for key in batch.private_keys if key.key_id in registered]
            self.secrets.put_keys(keys)
            self._local.saving = batch  # keys made in the batch sign while it is saved
            try:
                self._save(list(batch.touched.values()))
            finally:
                # A failed save leaves the keys inactive, never deleted: a commit whose answer was lost may
                # have stored the registrations, and a deleted private key could never sign for its actor.
                self._local.saving = None
        self._activate_keys(batch.new_keys)

    def batch_mark(self) -> tuple[tuple[UUID, int], ...]:
        """What the current batch holds unsaved: each aggregate loaded into it with its count of new
        events. Compare the marks taken before and after a command to learn whether the command changed
        the batch (a refused command that changed nothing leaves the batch fit to save). Outside a
        batch: ()."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is None:
            return ()
        return tuple(sorted((aggregate_id, len(aggregate._pending_events))
                            for aggregate_id, aggregate in batch.aggregates.items()))

    def _get(self, aggregate_id: UUID, cls: type[A], what: str | None = None) -> A:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and aggregate_id in batch.aggregates:
            aggregate = batch.aggregates[aggregate_id]
        else:
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFound(f"{what or cls.__name__} {aggregate_id} not found",
                               params={"kind": cls.__name__}) from None
            if batch is not None:
                batch.aggregates[aggregate_id] = aggregate
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what or cls.__name__} {aggregate_id} not found", params={"kind": cls.__name__})
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and aggregate_id in batch.aggregates:
            return True
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    def _commit(self, actor: Actor, request_id: str | None, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            for pending in aggregate._pending_events:
                pending.__dict__.setdefault(SIGNER_ATTRIBUTE, (actor, request_id))
        new_keys = [a.key_id for a in aggregates if isinstance(a, Key) and a.version == 1]
        batch: _Batch | None = getattr(self._local, "batch", None)
        unlocked = getattr(self._local, "unlocked", None)
        if batch is not None and unlocked and actor.actor_id in unlocked:
            batch.new_signers[actor.actor_id] = unlocked[actor.actor_id]  # signs when the batch is saved
        if batch is None:
            self._save(aggregates)
            self._activate_keys(new_keys)
            return
        for aggregate in aggregates:
            batch.aggregates[aggregate.id] = aggregate
            batch.touched[aggregate.id] = aggregate
        batch.new_keys.extend(new_keys)

    def _activate_keys(self, key_ids: Sequence[str]) -> None:
        """A private key becomes usable only once its registration is stored."""
        self.secrets.activate_keys(key_ids)

    def _save(self, aggregates: Sequence[Aggregate]) -> None:
        try:
            self.save(*aggregates)
        except IntegrityError:
            self.evict(*(aggregate.id for aggregate in aggregates))  # the cached copies are stale now
            raise ConcurrentUpdate("another command changed the same record first; please retry") from None

    def evict(self, *aggregate_ids: UUID) -> None:
        """Drop records from the aggregate cache (the next read loads them from the store)."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            try:
                cache.get(aggregate_id, evict=True)
            except KeyError:
                pass

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        assert self.region_code is not None, "the region is initialised before anything is signed"
        heads: dict[UUID, str] = {}
        prepared: list[bytes] | None = getattr(self._local, "prepare", None)
        events: list[Any] = list(processing_event.events)  # ours carry `timestamp` (eventsourcing's protocol does not say)
        for domain_event in events:
            actor, request_id = domain_event.__dict__[SIGNER_ATTRIBUTE]
            key_id, role, sign = self._signing_function(actor)
            event_type = event_type_name(type(domain_event))
            if role not in SIGNER_ROLES[event_type]:
                raise NotPermitted(f"a {role.value} may not sign {event_type}")
            aggregate_id = domain_event.originator_id
            if domain_event.originator_version == 1:
                prev = GENESIS_HASH
            else:
                prev = heads.get(aggregate_id) or getattr(processing_event.aggregates[aggregate_id], CHAIN_HEAD)
                assert prev is not None, f"no chain head for {aggregate_id}"
            statement = Statement(
                region=self.region_code, aggregate=str(aggregate_id), version=domain_event.originator_version,
                type=event_type, actor=str(actor.actor_id), role=role.value, key=key_id,
                time=domain_event.timestamp.isoformat(), request=request_id, prev=prev,
                payload=event_payload(domain_event))
            signed_bytes = encode_statement(statement)
            heads[aggregate_id] = statement_hash(signed_bytes)
            if prepared is not None:
                prepared.append(signed_bytes)
                continue
            domain_event.__dict__["_envelope"] = pack(sign(signed_bytes), signed_bytes)
        if prepared is not None:
            raise StatementsPrepared(list(prepared), events[0].timestamp)
        if getattr(self._local, "client_signer", None) is not None:
            self._local.client_signer.finish()
        recordings = super()._record(processing_event)
        for aggregate_id, head in heads.items():
            aggregate = processing_event.aggregates.get(aggregate_id)
            if aggregate is not None:
                setattr(aggregate, CHAIN_HEAD, head)
        return recordings

    def _signing_function(self, actor: Actor) -> tuple[str, Role, Any]:
        client: _ClientSigner | None = getattr(self._local, "client_signer", None)
        if client is not None:
            if client.role != actor.role:
                raise NotPermitted(f"the client key signs as {client.role.value}, not {actor.role.value}")
            return client.key_id, client.role, client.sign
        if getattr(self._local, "prepare", None) is not None:
            return self._local.prepare_key_id, actor.role, None
        key_id, role, private_key = self._signer_for(actor)
        return key_id, role, private_key.sign

    # -- client-signed submissions -------------------------------------------------------------
    @contextlib.contextmanager
    def prepare(self, *, key_id: str) -> Iterator[None]:
        """Run a command without saving: it raises StatementsPrepared with the exact bytes the
        client holding `key_id` must sign (and the time they carry)."""
        key = self.get_key(key_id)
        if not key.is_valid_at(CLOCK.get()()):
            raise KeyRevoked(f"key {key_id} is revoked")
        self._local.prepare, self._local.prepare_key_id = [], key_id
        moment = CLOCK.get()()
        token = CLOCK.set(lambda: moment)  # every event of the command carries the one prepared time
        try:
            yield
        finally:
            CLOCK.reset(token)
            self._local.prepare = self._local.prepare_key_id = None

    @contextlib.contextmanager
    def signed_by_client(self, *, key_id: str, signed_at: datetime, signatures: list[bytes]) -> Iterator[None]:
        """Run a command again at the prepared time, storing the client's own signatures (each
        checked against the registered key) instead of signing on the server."""
        key = self.get_key(key_id)
        if not key.is_valid_at(signed_at):
            raise KeyRevoked(f"key {key_id} is revoked")
        now = CLOCK.get()()
        if not (now - CLIENT_SIGNATURE_AGE_MAX <= signed_at <= now + CLIENT_CLOCK_SKEW_MAX):
            raise SignatureInvalid("the prepared statements are too old: prepare the command again")
        signer = _ClientSigner(key_id, Role(key.role), ed25519.unb64(key.public_key), signatures)
        token = CLOCK.set(lambda: signed_at)
        self._local.client_signer = signer
        try:
            yield
        finally:
            self._local.client_signer = None
            CLOCK.reset(token)


    @contextlib.contextmanager
    def signing_as(self, actor: Actor, *, key_id: str, private_key: bytes) -> Iterator[None]:
        """Commands inside sign as `actor` with a key the caller unlocked (a member's key, wrapped
        under the member's password and unwrapped for this request by the API). The key is never
        cached beyond the command: the batch that saves the command holds it until it is signed."""
        unlocked = dict(getattr(self._local, "unlocked", None) or {})
        unlocked[actor.actor_id] = (key_id, actor.role, ed25519.load_private(private_key))
        previous, self._local.unlocked = getattr(self._local, "unlocked", None), unlocked
        try:
            yield
        finally:
            self._local.unlocked = previous

    def _signer_for(self, actor: Actor) -> tuple[str, Role, Ed25519PrivateKey]:
        batch: _Batch | None = getattr(self._local, "batch", None) or getattr(self._local, "saving", None)
        signer = batch.new_signers.get(actor.actor_id) if batch is not None else None
        unlocked: dict[UUID, tuple[str, Role, Ed25519PrivateKey]] | None = getattr(self._local, "unlocked", None)
        if signer is None and unlocked and actor.actor_id in unlocked:
            signer = unlocked[actor.actor_id]
            if signer[1] != actor.role:
                raise NotPermitted(f"actor {actor.actor_id} signs as {signer[1].value}, not {actor.role.value}")
            return signer  # never cached: it lives as long as the request that unlocked it
        signer = signer or self._signers.get(actor.actor_id)
        if signer is None:
            stored = self.secrets.active_key(actor.actor_id)
            if stored is None:
                raise NotPermitted(f"{actor.role.value} {actor.actor_id} has no signing key in this region")
            if not stored.private_key:
                raise MemberKeyLocked("该党员的签名密钥由本人密码保护，须本人登录后才能签名 / the member's key is "
                                      "unlocked only by the member's own sign-in")
            signer = (stored.key_id, Role(stored.role), ed25519.load_private(stored.private_key))
        if signer[1] != actor.role:
            raise NotPermitted(f"actor {actor.actor_id} signs as {signer[1].value}, not {actor.role.value}")
        if batch is None or actor.actor_id not in batch.new_signers:
            self._signers[actor.actor_id] = signer
        return signer

    def signer_of(self, actor: Actor) -> tuple[str, Callable[[bytes], bytes]]:
        """The key id `actor` signs with now, and a function that signs bytes with that key (the private
        key stays inside the ledger): for seals made outside an event, e.g. a certificate's seal."""
        key_id, _, private_key = self._signer_for(actor)
        return key_id, private_key.sign

    def key_id_of(self, actor: Actor) -> str:
        return self._signer_for(actor)[0]

    def public_key_of(self, actor: Actor) -> str:
        return ed25519.b64(ed25519.public_bytes(self._signer_for(actor)[2].public_key()))

    @staticmethod
    def today() -> date:
        return local_date(CLOCK.get()())


    def _certify_new_key(self, *, authority: Actor, owner: Actor, label: str) -> Key:
        """Make a key pair for `owner`, store the private key (wrapped), and register the public key
        with an event signed by `authority`."""
        if authority.role not in CERTIFIERS[owner.role]:
            raise NotPermitted(f"a {authority.role.value} cannot certify a {owner.role.value} key")
        private_key = ed25519.generate()
        public = ed25519.public_bytes(private_key.public_key())
        key_id = ed25519.key_id_of(public)
        certifier_key_id = key_id if owner == authority else self._signer_for(authority)[0]
        key = Key.register(key_id=key_id, public_key=ed25519.b64(public), owner_id=owner.actor_id,
                           role=owner.role.value, certified_by=certifier_key_id, label=label)
        stored = NewKey(key_id, owner.actor_id, owner.role.value, ed25519.private_bytes(private_key))
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is None:
            self.secrets.put_keys([stored])
        else:  # stored when the batch is saved; meanwhile it may sign later commands of the same batch
            batch.private_keys.append(stored)
            batch.new_signers[owner.actor_id] = (key_id, owner.role, private_key)
        return key


    def get_region(self) -> Region:
        if self.region_code is None:
            raise NotFound("the region is not initialised")
        return self._get(Region.create_id(self.region_code), Region)


    def get_key(self, key_id: str) -> Key:
        return self._get(Key.create_id(key_id), Key)

    def device_key(self, *, actor: Actor, key_id: str) -> Key:
        """One of the actor's device keys (DeviceKeyUnknown for anyone else's)."""
        self._require_role(actor, Role.COUNTER, Role.COMMUNITY, Role.MEMBER)
        try:
            key = self.get_key(key_id)
        except NotFound:
            raise DeviceKeyUnknown(f"device key {key_id} is not registered") from None
        if key.owner_id != actor.actor_id or key.role != actor.role.value:
            raise DeviceKeyUnknown(f"device key {key_id} is not a key of this {actor.role.value}")
        return key

    @staticmethod
    def check_device_moment(key: Key, moment: datetime, what: str) -> None:
        """An offline record is dated while its device key existed and not in the future (with skew)."""
        if not key.created_on - DEVICE_CLOCK_SKEW_MAX <= moment <= CLOCK.get()() + DEVICE_CLOCK_SKEW_MAX:
            raise OfflineRecordInvalid(f"the offline {what} is dated before its device key or in the future")


    def work_calendar(self) -> WorkCalendar:
        """The working-day calendar in force: published > shipped > Monday–Friday."""
        return self.get_region().work_calendar()


    @staticmethod
    def _require_role(actor: Actor, *roles: Role) -> None:
        if actor.role not in roles:
            raise NotPermitted(f"a {actor.role.value} may not do this")


    @staticmethod
    def _require_self(actor: Actor, object_id: UUID, role: Role) -> None:
        if actor.role is role and actor.actor_id != object_id:
            raise NotPermitted(f"a {role.value} acts only on itself")

    def _own_community(self, actor: Actor) -> Community:
        self._require_role(actor, Role.COMMUNITY)
        return self._get(actor.actor_id, Community)


    def _member_of(self, actor: Actor, member_id: UUID) -> Member:
        """The member, checking the actor's relation to them (self, own community, own unit)."""
        member = self._get(member_id, Member)
        refusal = _NOT_OWN_MEMBER.get(actor.role)
        if refusal is not None and not ownership.owns_member(actor, member):
            raise NotPermitted(refusal)
        return member


    def actor_for(self, actor_id: UUID) -> Actor:
        """The actor with an active key in this region."""
        role = self.secrets.active_role(actor_id)
        if role is None:
            raise NotFound(f"no actor {actor_id} in this region")
        return Actor(actor_id, Role(role))


__all__ = ["Actor", "LedgerCore", "RedemptionResult", "StatementsPrepared"]
