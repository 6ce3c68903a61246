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
from typing import Any, Iterator, Sequence, TypeVar
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from ledger.domain.base import CLOCK
from ledger.domain.calendar import WorkCalendar
from ledger.domain.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    ConsentMissing,
    InvalidInput,
    KeyRevoked,
    MemberKeyHeldByMember,
    MemberKeyLocked,
    NotFound,
    NotPermitted,
    PersonalDataErased,
    SignatureInvalid,
)
from ledger.domain.keys import Key
from ledger.domain.member import Member, ReportSlip
from ledger.domain.orders import Order, Suggestion
from ledger.domain.organisations import Community, Counter, Unit
from ledger.domain.permissions import SIGNER_ROLES
from ledger.domain.region import Region
from ledger.domain.scoring import POLICY_V1_RULES, ScoringPolicy
from ledger.domain.service_session import ServiceSession
from ledger.domain.time_account import TimeAccount
from ledger.domain.values import (
    CERTIFIERS,
    PERSONAL_FIELDS,
    QUANTITY_MAX,
    REDEMPTION_LINES_MAX,
    STANDARD_POSTS,
    ConsentPurpose,
    PartyStatus,
    Rating,
    Role,
    TeamKind,
    UnitType,
    check_region_code,
    check_text,
    local_date,
    stable_id,
)
from ledger.persistence import (
    Database,
    SecretStore,
    SigningMapper,
    event_payload,
    event_type_name,
    load_master_key,
    make_transcoder,
    parse_database_url,
)
from ledger.signing import keys as ed25519
from ledger.signing import sealed
from ledger.signing.statement import GENESIS_HASH, Statement, encode_statement, pack, statement_hash

SIGNER_ATTRIBUTE = "_signer"
CLIENT_SIGNATURE_AGE_MAX = timedelta(minutes=5)  # prepared statements expire: the chain moves on
CLIENT_CLOCK_SKEW_MAX = timedelta(seconds=5)
A = TypeVar("A", bound=Aggregate)


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


class Ledger(Application[UUID]):
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
            self._local.saving = batch  # keys made in the batch sign while it is saved
            try:
                self._save(list(batch.touched.values()))
            finally:
                self._local.saving = None
        self._activate_keys(batch.new_keys)

    def _get(self, aggregate_id: UUID, cls: type[A], what: str | None = None) -> A:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and aggregate_id in batch.aggregates:
            aggregate = batch.aggregates[aggregate_id]
        else:
            try:
                aggregate = self.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFound(f"{what or cls.__name__} {aggregate_id} not found") from None
            if batch is not None:
                batch.aggregates[aggregate_id] = aggregate
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what or cls.__name__} {aggregate_id} not found")
        return aggregate

    def _exists(self, aggregate_id: UUID) -> bool:
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None and aggregate_id in batch.aggregates:
            return True
        return bool(self.recorder.select_events(aggregate_id, desc=True, limit=1))

    def _commit(self, actor: Actor, request_id: str | None, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            for pending in aggregate._pending_events:  # noqa: SLF001 - tag this command's events
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
        for key_id in key_ids:
            self.secrets.activate_key(key_id)

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
        for domain_event in processing_event.events:
            actor, request_id = domain_event.__dict__[SIGNER_ATTRIBUTE]
            key_id, role, sign = self._signing_function(actor)
            event_type = event_type_name(type(domain_event))
            if role not in SIGNER_ROLES[event_type]:
                raise NotPermitted(f"a {role.value} may not sign {event_type}")
            aggregate_id = domain_event.originator_id
            if domain_event.originator_version == 1:
                prev = GENESIS_HASH
            else:
                prev = heads.get(aggregate_id) or processing_event.aggregates[aggregate_id]._chain_head
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
            raise StatementsPrepared(list(prepared), processing_event.events[0].timestamp)
        if getattr(self._local, "client_signer", None) is not None:
            self._local.client_signer.finish()
        recordings = super()._record(processing_event)
        for aggregate_id, head in heads.items():
            aggregate = processing_event.aggregates.get(aggregate_id)
            if aggregate is not None:
                aggregate._chain_head = head
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

    def register_client_key(self, *, authority: Actor, owner: Actor, public_key: bytes, label: str) -> str:
        """Certify a key whose private half stays with the client (a counter device, an office)."""
        if authority.role not in CERTIFIERS[owner.role]:
            raise NotPermitted(f"a {authority.role.value} cannot certify a {owner.role.value} key")
        if len(public_key) != ed25519.PUBLIC_KEY_BYTES:
            raise InvalidInput("an Ed25519 public key has 32 bytes")
        key_id = ed25519.key_id_of(public_key)
        if self._exists(Key.create_id(key_id)):
            raise AlreadyExists(f"key {key_id} is already registered")
        key = Key.register(key_id=key_id, public_key=ed25519.b64(public_key), owner_id=owner.actor_id,
                           role=owner.role.value, certified_by=self._signer_for(authority)[0],
                           label=check_text(label, "label", chars_max=64))
        self._commit(authority, None, key)
        return key_id

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

    def replace_member_key(self, *, authority: Actor, member_id: UUID, reason: str) -> tuple[str, bytes]:
        """A new key for the member whose private half the ledger does NOT keep: it is returned once
        (raw bytes) for the API to wrap under the member's password. The member's current key is
        revoked from now on with `reason`. Both events are signed by `authority` (the unit, community
        or region that issued the member's activation code, or the region operator)."""
        if authority.role not in CERTIFIERS[Role.MEMBER]:
            raise NotPermitted(f"a {authority.role.value} cannot certify a member key")
        member = self._get(member_id, Member)
        owner = Actor(member.id, Role.MEMBER)
        reason = check_text(reason, "reason", chars_max=200)
        private_key = ed25519.generate()
        public = ed25519.public_bytes(private_key.public_key())
        key_id = ed25519.key_id_of(public)
        new = Key.register(key_id=key_id, public_key=ed25519.b64(public), owner_id=owner.actor_id,
                           role=Role.MEMBER.value, certified_by=self._signer_for(authority)[0],
                           label="member key (held by the member)")
        touched: list[Aggregate] = [new]
        stored = self.secrets.active_key(member_id)
        if stored is not None:
            old = self._get(Key.create_id(stored.key_id), Key)
            if old.revoked_at is None:
                old.revoke(effective_at=CLOCK.get()(), reason=reason, replaced_by=key_id)
                touched.append(old)
        self.secrets.put_held_key(key_id=key_id, actor_id=owner.actor_id, role=Role.MEMBER.value)
        self._commit(authority, None, *touched)
        if stored is not None:
            self.secrets.deactivate_key(stored.key_id)
        self._signers.pop(member_id, None)
        return key_id, ed25519.private_bytes(private_key)

    def revoke_member_key(self, *, authority: Actor, member_id: UUID, reason: str) -> str | None:
        """Revoke the member's current key now (a login reset by the region): the signed revocation
        carries the reason. Returns the revoked key id (None when the member has no active key)."""
        self._get(member_id, Member)
        stored = self.secrets.active_key(member_id)
        if stored is None:
            return None
        self.revoke_key(authority=authority, key_id=stored.key_id, reason=reason)
        return stored.key_id

    def _signer_for(self, actor: Actor) -> tuple[str, Role, Ed25519PrivateKey]:
        batch: _Batch | None = getattr(self._local, "batch", None) or getattr(self._local, "saving", None)
        signer = batch.new_signers.get(actor.actor_id) if batch is not None else None
        unlocked = getattr(self._local, "unlocked", None)
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

    def key_id_of(self, actor: Actor) -> str:
        return self._signer_for(actor)[0]

    def public_key_of(self, actor: Actor) -> str:
        return ed25519.b64(ed25519.public_bytes(self._signer_for(actor)[2].public_key()))

    @staticmethod
    def today() -> date:
        return local_date(CLOCK.get()())

    # =========================================================================================
    # Keys and the trust chain

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
        self.secrets.put_key(key_id=key_id, actor_id=owner.actor_id, role=owner.role.value,
                             private_key=ed25519.private_bytes(private_key))
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:  # the new key may sign later commands of the same batch
            batch.new_signers[owner.actor_id] = (key_id, owner.role, private_key)
        return key

    def init_region(self, *, code: str, name: str, display_name: str | None = None,
                    province_key: Ed25519PrivateKey | None = None) -> Ed25519PrivateKey:
        """Create the region: the province root key (given, or new), the region key certified by
        it, the region's settings and the default scoring policy v1. Returns the root key so the
        caller can keep it offline; the ledger does not store it."""
        if self.region_code is not None:
            raise AlreadyExists(f"this database already holds region {self.region_code}")
        code = check_region_code(code)
        Region.initialise(code=code, name=name, display_name=display_name)  # validates before any key exists
        self.region_code = code
        try:
            with self.batch():  # one transaction: a crash leaves no half-made region
                root = self._init_region_events(code, name, display_name, province_key)
        except BaseException:
            self.region_code = None
            raise
        self.secrets.set_setting("region_code", code)
        self.secrets.set_setting("root_public_key", ed25519.b64(ed25519.public_bytes(root.public_key())))
        return root

    def _init_region_events(self, code: str, name: str, display_name: str | None,
                            province_key: Ed25519PrivateKey | None) -> Ed25519PrivateKey:
        province = self.province_actor()
        root = province_key or ed25519.generate()
        root_public = ed25519.public_bytes(root.public_key())
        root_id = ed25519.key_id_of(root_public)
        self._signers[province.actor_id] = (root_id, Role.PROVINCE, root)
        root_key = Key.register(key_id=root_id, public_key=ed25519.b64(root_public), owner_id=province.actor_id,
                                role=Role.PROVINCE.value, certified_by=root_id, label="省委组织部 trust root")
        self._commit(province, None, root_key)
        region_actor = self.region_actor()
        region_key = self._certify_new_key(authority=province, owner=region_actor, label=f"{name} region key")
        self._commit(province, None, region_key)
        region = Region.initialise(code=code, name=name, display_name=display_name)
        self._commit(region_actor, None, region)
        policy = ScoringPolicy.publish(region_code=code, version=1, rules=POLICY_V1_RULES,
                                       note="省级默认积分和星级评定办法 v1")
        self._commit(province, None, policy)
        region.adopt_policy(from_year=2000, version=1)
        self._commit(region_actor, None, region)
        return root

    def province_actor(self) -> Actor:
        assert self.region_code is not None
        return Actor(stable_id("province", self.region_code[:2]), Role.PROVINCE)

    def region_actor(self) -> Actor:
        assert self.region_code is not None
        return Actor(Region.create_id(self.region_code), Role.REGION)

    def root_public_key(self) -> str:
        value = self.secrets.get_setting("root_public_key")
        if value is None:
            raise NotFound("the region is not initialised")
        return value

    def get_region(self) -> Region:
        if self.region_code is None:
            raise NotFound("the region is not initialised")
        return self._get(Region.create_id(self.region_code), Region)

    def rotate_key(self, *, authority: Actor, owner: Actor, reason: str = "rotation") -> str:
        """Register a new key for `owner` and revoke the old one from now on. Returns the new key id."""
        held = self.secrets.active_key(owner.actor_id)
        if held is not None and not held.private_key:
            raise MemberKeyHeldByMember("该党员的密钥由本人持有，不能由他人轮换；如遗失密码，请地区管理员说明理由重置 / the "
                                        "member holds their own key: nobody else rotates it (a lost password is a "
                                        "region reset, with a reason)")
        old_key_id = self._signer_for(owner)[0]
        old = self._get(Key.create_id(old_key_id), Key)
        new = self._certify_new_key(authority=authority, owner=owner, label=f"{owner.role.value} key (rotated)")
        old.revoke(effective_at=CLOCK.get()(), reason=check_text(reason, "reason", chars_max=200),
                   replaced_by=new.key_id)
        self._commit(authority, None, new, old)
        self.secrets.deactivate_key(old_key_id)
        self._signers.pop(owner.actor_id, None)
        return new.key_id

    def revoke_key(self, *, authority: Actor, key_id: str, effective_at: datetime | None = None,
                   reason: str) -> None:
        """Revoke a key from `effective_at` (default now; earlier for a compromise): events it signed
        at or after that time fail verification."""
        key = self._get(Key.create_id(key_id), Key)
        owner_role = Role(key.role)
        if authority.role not in CERTIFIERS[owner_role] and authority.role is not Role.PROVINCE:
            raise NotPermitted(f"a {authority.role.value} cannot revoke a {owner_role.value} key")
        key.revoke(effective_at=effective_at or CLOCK.get()(), reason=check_text(reason, "reason", chars_max=200),
                   replaced_by=None)
        self._commit(authority, None, key)
        self.secrets.deactivate_key(key_id)
        self._signers.pop(key.owner_id, None)

    def get_key(self, key_id: str) -> Key:
        return self._get(Key.create_id(key_id), Key)

    # =========================================================================================
    # Region settings and scoring policy

    def change_region_settings(self, *, actor: Actor, display_name: str | None = None,
                               storage_cap_minutes: int | None = None, clear_storage_cap: bool = False) -> None:
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.change_settings(display_name=display_name, storage_cap_minutes=storage_cap_minutes,
                               clear_storage_cap=clear_storage_cap)
        self._commit(actor, None, region)

    def set_report_deadline(self, *, actor: Actor, year: int, deadline: date) -> None:
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.set_report_deadline(year=year, deadline=deadline)
        self._commit(actor, None, region)

    def publish_scoring_policy(self, *, actor: Actor, version: int, rules: dict[str, Any], note: str,
                               from_year: int) -> UUID:
        self._require_role(actor, Role.REGION)
        assert self.region_code is not None
        policy_id = ScoringPolicy.create_id(self.region_code, version)
        if self._exists(policy_id):
            raise AlreadyExists(f"scoring policy version {version} already exists")
        policy = ScoringPolicy.publish(region_code=self.region_code, version=version, rules=rules,
                                       note=check_text(note, "note", chars_max=500, required=False))
        region = self.get_region()
        region.adopt_policy(from_year=from_year, version=version)
        self._commit(actor, None, policy, region)
        return policy.id

    def rescore_year(self, *, actor: Actor, year: int, version: int) -> None:
        self._require_role(actor, Role.REGION)
        self.get_scoring_policy(version)
        region = self.get_region()
        region.rescore_year(year=year, version=version)
        self._commit(actor, None, region)

    def publish_calendar(self, *, actor: Actor, year: int, holidays: Sequence[Any], workdays: Sequence[Any],
                         source: str, published_on: Any) -> int:
        """Publish (or correct) a year's State Council calendar (法定节假日, 调休上班日) as a signed,
        versioned region event; it takes precedence over the shipped calendars from then on (late
        flags already recorded keep the calendar they were computed with). Returns the version."""
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        version = region.publish_calendar(year=year, holidays=list(holidays), workdays=list(workdays),
                                          source=source, published_on=published_on)
        self._commit(actor, None, region)
        return version

    def work_calendar(self) -> WorkCalendar:
        """The working-day calendar in force: published > shipped > Monday–Friday."""
        return self.get_region().work_calendar()

    def get_scoring_policy(self, version: int) -> ScoringPolicy:
        assert self.region_code is not None
        return self._get(ScoringPolicy.create_id(self.region_code, version), ScoringPolicy, "scoring policy")

    # =========================================================================================
    # Organisations and actors

    @staticmethod
    def _require_role(actor: Actor, *roles: Role) -> None:
        if actor.role not in roles:
            raise NotPermitted(f"a {actor.role.value} may not do this")

    def register_unit(self, *, actor: Actor, name: str, unit_type: UnitType | str, declared_members: int,
                      request_id: str | None = None) -> UUID:
        self._require_role(actor, Role.REGION)
        assert self.region_code is not None
        try:
            kind = UnitType(unit_type)
        except ValueError:
            raise InvalidInput(f"unit type must be one of {[t.value for t in UnitType]}") from None
        unit = Unit.register(name=name, unit_type=kind, region_code=self.region_code,
                             declared_members=declared_members)
        key = self._certify_new_key(authority=actor, owner=Actor(unit.id, Role.UNIT), label=unit.name)
        self._commit(actor, request_id, unit, key)
        return unit.id

    def register_community(self, *, actor: Actor, name: str, county: str, street: str,
                           request_id: str | None = None) -> UUID:
        self._require_role(actor, Role.REGION)
        assert self.region_code is not None
        community = Community.register(name=name, region_code=self.region_code, county=county, street=street)
        key = self._certify_new_key(authority=actor, owner=Actor(community.id, Role.COMMUNITY), label=community.name)
        self._commit(actor, request_id, community, key)
        owner = Actor(community.id, Role.COMMUNITY)
        for post in STANDARD_POSTS:
            community.define_post(name=post, standard=True)
        self._commit(owner, request_id, community)
        return community.id

    def register_auditor(self, *, actor: Actor, label: str) -> UUID:
        self._require_role(actor, Role.REGION)
        auditor_id = uuid4()
        key = self._certify_new_key(authority=actor, owner=Actor(auditor_id, Role.AUDITOR),
                                    label=check_text(label, "label", chars_max=64))
        self._commit(actor, None, key)
        return auditor_id

    def register_resident(self, *, actor: Actor, label: str) -> UUID:
        """A resident (service recipient) who places orders and rates sessions. `label` is not a
        name: residents' personal data stays outside the ledger."""
        self._require_role(actor, Role.COMMUNITY)
        resident_id = uuid4()
        key = self._certify_new_key(authority=actor, owner=Actor(resident_id, Role.RESIDENT),
                                    label=check_text(label, "label", chars_max=64))
        self._commit(actor, None, key)
        return resident_id

    def pair_unit(self, *, actor: Actor, unit_id: UUID, community_id: UUID) -> None:
        self._require_role(actor, Role.UNIT, Role.REGION)
        self._require_self(actor, unit_id, Role.UNIT)
        self._get(community_id, Community)
        unit = self._get(unit_id, Unit)
        unit.pair_with(community_id=community_id)
        self._commit(actor, None, unit)

    def declare_unit_members(self, *, actor: Actor, unit_id: UUID, count: int) -> None:
        self._require_role(actor, Role.UNIT)
        self._require_self(actor, unit_id, Role.UNIT)
        unit = self._get(unit_id, Unit)
        unit.declare_members(count=count)
        self._commit(actor, None, unit)

    def open_counter(self, *, actor: Actor, name: str) -> UUID:
        self._require_role(actor, Role.COMMUNITY)
        counter = Counter.open(counter_id=uuid4(), community_id=actor.actor_id, name=name)
        key = self._certify_new_key(authority=actor, owner=Actor(counter.id, Role.COUNTER), label=counter.name)
        self._commit(actor, None, counter, key)
        return counter.id

    @staticmethod
    def _require_self(actor: Actor, object_id: UUID, role: Role) -> None:
        if actor.role is role and actor.actor_id != object_id:
            raise NotPermitted(f"a {role.value} acts only on itself")

    def _own_community(self, actor: Actor) -> Community:
        self._require_role(actor, Role.COMMUNITY)
        return self._get(actor.actor_id, Community)

    # -- posts, teams, menu, catalogue ----------------------------------------------------------
    def define_post(self, *, actor: Actor, name: str) -> UUID:
        community = self._own_community(actor)
        post_id = community.define_post(name=name)
        self._commit(actor, None, community)
        return post_id

    def retire_post(self, *, actor: Actor, post_id: UUID) -> None:
        community = self._own_community(actor)
        community.retire_post(post_id=post_id)
        self._commit(actor, None, community)

    def form_team(self, *, actor: Actor, name: str, kind: TeamKind | str) -> UUID:
        community = self._own_community(actor)
        try:
            team_kind = TeamKind(kind)
        except ValueError:
            raise InvalidInput(f"team kind must be one of {[k.value for k in TeamKind]}") from None
        team_id = community.form_team(name=name, kind=team_kind)
        self._commit(actor, None, community)
        return team_id

    def join_team(self, *, actor: Actor, member_id: UUID, team_id: UUID) -> None:
        community = self._own_community(actor)
        community.require_team(team_id)
        member = self._member_of(actor, member_id)
        member.join_team(team_id=team_id)
        self._commit(actor, None, member)

    def leave_team(self, *, actor: Actor, member_id: UUID, team_id: UUID) -> None:
        self._own_community(actor)
        member = self._member_of(actor, member_id)
        member.leave_team(team_id=team_id)
        self._commit(actor, None, member)

    def publish_menu_item(self, *, actor: Actor, title: str, post_id: UUID | None = None) -> UUID:
        community = self._own_community(actor)
        item_id = community.publish_menu_item(title=title, post_id=post_id)
        self._commit(actor, None, community)
        return item_id

    def withdraw_menu_item(self, *, actor: Actor, item_id: UUID) -> None:
        community = self._own_community(actor)
        community.withdraw_menu_item(item_id=item_id)
        self._commit(actor, None, community)

    def list_catalogue_item(self, *, actor: Actor, name: str, price_minutes: int) -> UUID:
        community = self._own_community(actor)
        item_id = community.list_item(name=name, price_minutes=price_minutes)
        self._commit(actor, None, community)
        return item_id

    def reprice_catalogue_item(self, *, actor: Actor, item_id: UUID, price_minutes: int) -> None:
        community = self._own_community(actor)
        community.reprice_item(item_id=item_id, price_minutes=price_minutes)
        self._commit(actor, None, community)

    def delist_catalogue_item(self, *, actor: Actor, item_id: UUID) -> None:
        community = self._own_community(actor)
        community.delist_item(item_id=item_id)
        self._commit(actor, None, community)

    # =========================================================================================
    # Members: enrolment, 报到, posts, exemptions, consents, personal data

    def enrol_member(self, *, actor: Actor, name: str, party_status: PartyStatus | str, job_title: str = "",
                     member_id: UUID | None = None, request_id: str | None = None) -> UUID:
        """The unit puts a member on its roster and certifies the member's signing key."""
        self._require_role(actor, Role.UNIT)
        assert self.region_code is not None
        unit = self._get(actor.actor_id, Unit)
        member_id = member_id or uuid4()
        if self._exists(member_id):
            raise AlreadyExists(f"member {member_id} already exists")
        try:
            status = PartyStatus(party_status)
        except ValueError:
            raise InvalidInput("party status is 正式 or 预备") from None
        member = Member.enrol(member_id=member_id, name=name, unit_id=unit.id, party_status=status,
                              job_title=job_title, region_code=self.region_code)
        key = self._certify_new_key(authority=actor, owner=Actor(member_id, Role.MEMBER), label="member key")
        self._commit(actor, request_id, member, key)
        return member_id

    def issue_member_key(self, *, actor: Actor, member_id: UUID) -> str:
        """A signing key for a member who has none here (one who arrived by transfer)."""
        self._require_role(actor, Role.UNIT, Role.COMMUNITY, Role.REGION)
        member = self._get(member_id, Member)
        member.require_active()
        owner = Actor(member_id, Role.MEMBER)
        if self.secrets.active_key(member_id) is not None:
            raise AlreadyExists(f"member {member_id} already has a signing key here")
        key = self._certify_new_key(authority=actor, owner=owner, label="member key")
        self._commit(actor, None, key)
        return key.key_id

    def adopt_member(self, *, actor: Actor, member_id: UUID) -> None:
        """A unit of this region takes on a member who arrived by transfer."""
        self._require_role(actor, Role.UNIT)
        member = self._get(member_id, Member)
        member.join_unit(unit_id=actor.actor_id)
        self._commit(actor, None, member)

    def issue_report_slip(self, *, actor: Actor, member_id: UUID, community_id: UUID,
                          request_id: str | None = None) -> UUID:
        """报到单: the unit sends its member to a named community."""
        self._require_role(actor, Role.UNIT)
        member = self._get(member_id, Member)
        if member.unit_id != actor.actor_id:
            raise NotPermitted("a unit issues report slips only for its own members")
        member.require_active()
        self._get(community_id, Community)
        today = self.today()
        deadline = self.get_region().report_deadline(today.year)
        slip = ReportSlip.issue(member_id=member_id, unit_id=actor.actor_id, community_id=community_id,
                                issued_on=today, deadline=deadline)
        member.note_report_slip(slip_id=slip.id, community_id=community_id)  # registration follows the slip
        self._commit(actor, request_id, slip, member)
        return slip.id

    def register_member(self, *, actor: Actor, member_id: UUID, post_ids: Sequence[UUID],
                        profile: dict[str, str] | None = None, personal: dict[str, str] | None = None,
                        willing_other_service: bool = False, slip_id: UUID | None = None,
                        request_id: str | None = None) -> None:
        """报到登记: the community registers the member with the 登记表 fields, at least one claimed
        post, opens the time account and (with a slip) sends the 回执单 back to the unit."""
        community = self._own_community(actor)
        member = self._get(member_id, Member)
        if not post_ids:
            raise InvalidInput("请至少认领一个岗位: at least one post must be claimed")
        posts = [(post_id, community.require_post(post_id)) for post_id in dict.fromkeys(post_ids)]
        slip = None
        if slip_id is not None:
            slip = self._get(slip_id, ReportSlip, "report slip")
            if slip.member_id != member_id or slip.community_id != community.id:
                raise InvalidInput("报到单指定的是另一名党员或另一个社区 / the report slip names another member or community")
        profile = dict(profile or {})
        personal = {k: v for k, v in (personal or {}).items() if v}
        unknown = set(personal) - set(PERSONAL_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown personal fields: {sorted(unknown)}")
        for field_name, value in personal.items():
            check_text(value, field_name, chars_max=200)
        today = self.today()
        deadline = slip.deadline if slip else self.get_region().report_deadline(today.year)
        member_sealed = self._seal_personal(member_id, personal)
        member.register(community_id=community.id, slip_id=slip_id, reported_on=today, late=today > deadline,
                        profile=profile, personal_sealed=member_sealed, willing_other_service=willing_other_service)
        for post_id, post_name in posts:
            member.claim_post(post_id=post_id, post_name=post_name)
        account_id = TimeAccount.create_id(member_id)
        aggregates: list[Aggregate] = [member]
        if not self._exists(account_id):
            aggregates.append(TimeAccount.open(member_id=member_id))
        if slip is not None:
            slip.send_receipt(reported_on=today, post_names=[name for _, name in posts], sent_on=today)
            aggregates.append(slip)
        self._commit(actor, request_id, *aggregates)

    def send_receipt(self, *, actor: Actor, slip_id: UUID) -> None:
        """回执单 for a member registered without the slip at hand."""
        community = self._own_community(actor)
        slip = self._get(slip_id, ReportSlip, "report slip")
        member = self._get(slip.member_id, Member)
        if slip.community_id != community.id or member.community_id != community.id:
            raise NotPermitted("the receipt is sent by the community the member reported to")
        assert member.reported_on is not None
        slip.send_receipt(reported_on=member.reported_on, post_names=list(member.posts.values()),
                          sent_on=self.today())
        self._commit(actor, None, slip)

    def _seal_personal(self, member_id: UUID, personal: dict[str, str]) -> dict[str, str]:
        if not personal:
            return {}
        data_key = self.secrets.data_key(member_id, create=True)
        if data_key is None:
            raise PersonalDataErased(f"personal data of member {member_id} was erased")
        return {name: sealed.seal(data_key, subject=str(member_id), field=name, plaintext=value)
                for name, value in personal.items()}

    def member_personal_data(self, member_id: UUID) -> dict[str, str]:
        """Decrypted personal fields (for the member's own community and unit only: the API checks)."""
        member = self._get(member_id, Member)
        if not member.personal:
            return {}
        data_key = self.secrets.data_key(member_id, create=False)
        if data_key is None:
            raise PersonalDataErased(f"personal data of member {member_id} was erased")
        return {name: sealed.open_sealed(data_key, subject=str(member_id), field=name, sealed=value)
                for name, value in member.personal.items()}

    def erase_personal_data(self, *, actor: Actor, member_id: UUID, reason: str = "member request") -> None:
        """Crypto-shredding: destroy the member's data key; signed hour records stay verifiable."""
        self._require_role(actor, Role.COMMUNITY, Role.REGION)
        member = self._get(member_id, Member)
        if actor.role is Role.COMMUNITY and member.community_id != actor.actor_id:
            raise NotPermitted("only the member's own community erases the member's personal data")
        member.record_personal_data_erased(reason=reason)
        self._commit(actor, None, member)
        self.secrets.destroy_data_key(member_id)

    def _member_of(self, actor: Actor, member_id: UUID) -> Member:
        """The member, checking the actor's relation to them (self, own community, own unit)."""
        member = self._get(member_id, Member)
        if actor.role is Role.MEMBER and actor.actor_id != member_id:
            raise NotPermitted("a member acts only on their own record")
        if actor.role is Role.COMMUNITY and member.community_id != actor.actor_id:
            raise NotPermitted("a community acts only on its own members")
        if actor.role is Role.UNIT and member.unit_id != actor.actor_id:
            raise NotPermitted("a unit acts only on its own members")
        return member

    def claim_post(self, *, actor: Actor, member_id: UUID, post_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER, Role.COMMUNITY)
        member = self._member_of(actor, member_id)
        community = self._get(member.require_registered(), Community)
        member.claim_post(post_id=post_id, post_name=community.require_post(post_id))
        self._commit(actor, None, member)

    def release_post(self, *, actor: Actor, member_id: UUID, post_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER, Role.COMMUNITY)
        member = self._member_of(actor, member_id)
        member.release_post(post_id=post_id)
        self._commit(actor, None, member)

    def grant_exemption(self, *, actor: Actor, member_id: UUID, year: int, reason: str) -> None:
        """有故: the unit excuses a member for a year, with a reason."""
        self._require_role(actor, Role.UNIT)
        member = self._member_of(actor, member_id)
        member.grant_exemption(year=year, reason=reason)
        self._commit(actor, None, member)

    def withdraw_exemption(self, *, actor: Actor, member_id: UUID, year: int) -> None:
        self._require_role(actor, Role.UNIT)
        member = self._member_of(actor, member_id)
        member.withdraw_exemption(year=year)
        self._commit(actor, None, member)

    def give_consent(self, *, actor: Actor, member_id: UUID, purpose: ConsentPurpose | str, recipient: str,
                     consent_id: UUID | None = None) -> UUID:
        self._require_role(actor, Role.MEMBER)
        member = self._member_of(actor, member_id)
        try:
            consent_purpose = ConsentPurpose(purpose)
        except ValueError:
            raise InvalidInput(f"purpose is one of {[p.value for p in ConsentPurpose]}") from None
        if consent_purpose is ConsentPurpose.TRANSFER:
            check_region_code(recipient)
        consent_id = consent_id or stable_id("consent", member_id, consent_purpose.value, recipient)
        member.give_consent(consent_id=consent_id, purpose=consent_purpose, recipient=recipient)
        self._commit(actor, None, member)
        return consent_id

    def withdraw_consent(self, *, actor: Actor, member_id: UUID, consent_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER)
        member = self._member_of(actor, member_id)
        member.withdraw_consent(consent_id=consent_id)
        self._commit(actor, None, member)

    def require_consent(self, member_id: UUID, purpose: ConsentPurpose, recipient: str) -> None:
        if not self._get(member_id, Member).has_consent(purpose, recipient):
            raise ConsentMissing(f"member {member_id} has not consented to {purpose.value} for {recipient}")

    def get_member(self, member_id: UUID) -> Member:
        return self._get(member_id, Member)

    def get_unit(self, unit_id: UUID) -> Unit:
        return self._get(unit_id, Unit)

    def get_community(self, community_id: UUID) -> Community:
        return self._get(community_id, Community)

    def get_counter(self, counter_id: UUID) -> Counter:
        return self._get(counter_id, Counter)

    def get_report_slip(self, slip_id: UUID) -> ReportSlip:
        return self._get(slip_id, ReportSlip, "report slip")

    # =========================================================================================
    # Service: 三单制 orders, sessions, rating, certification, corrections, complaints

    def place_order(self, *, actor: Actor, community_id: UUID, menu_item_id: UUID, note: str = "",
                    order_id: UUID | None = None, request_id: str | None = None) -> UUID:
        """居民点单."""
        self._require_role(actor, Role.RESIDENT)
        community = self._get(community_id, Community)
        title = community.require_menu_item(menu_item_id)
        order_id = order_id or uuid4()
        if self._exists(order_id):
            raise AlreadyExists(f"order {order_id} already exists")
        order = Order.place(order_id=order_id, community_id=community_id, menu_item_id=menu_item_id,
                            menu_title=title, resident_id=actor.actor_id, note=note, placed_on=self.today())
        self._commit(actor, request_id, order)
        return order.id

    def _order_of(self, actor: Actor, order_id: UUID) -> Order:
        order = self._get(order_id, Order)
        if actor.role is Role.COMMUNITY and order.community_id != actor.actor_id:
            raise NotPermitted("a community acts only on its own orders")
        if actor.role is Role.RESIDENT and order.resident_id != actor.actor_id:
            raise NotPermitted("a resident acts only on their own orders")
        return order

    def dispatch_order(self, *, actor: Actor, order_id: UUID, member_id: UUID) -> None:
        """支部下单."""
        self._own_community(actor)
        order = self._order_of(actor, order_id)
        member = self._member_of(actor, member_id)
        member.require_registered()
        order.dispatch(member_id=member_id)
        self._commit(actor, None, order)

    def accept_order(self, *, actor: Actor, order_id: UUID) -> None:
        """党员接单."""
        self._require_role(actor, Role.MEMBER)
        order = self._get(order_id, Order)
        order.accept(member_id=actor.actor_id)
        self._commit(actor, None, order)

    def cancel_order(self, *, actor: Actor, order_id: UUID, reason: str) -> None:
        self._require_role(actor, Role.RESIDENT, Role.COMMUNITY)
        order = self._order_of(actor, order_id)
        order.cancel(reason=reason)
        self._commit(actor, None, order)

    def record_session(self, *, actor: Actor, member_id: UUID, activity: str, content: str, place: str,
                       service_date: date, start_time: str, end_time: str, minutes: int,
                       post_id: UUID | None = None, order_id: UUID | None = None, organiser: str = "",
                       recipient: str = "", session_id: UUID | None = None,
                       request_id: str | None = None) -> UUID:
        """服务记录: the member or the community records a session; it is flagged late when entered
        more than 10 working days after the service date."""
        self._require_role(actor, Role.MEMBER, Role.COMMUNITY)
        member = self._member_of(actor, member_id)
        community_id = member.require_registered()
        community = self._get(community_id, Community)
        if post_id is not None:
            community.require_post(post_id)
        if order_id is not None:
            order = self._get(order_id, Order)
            if order.member_id != member_id or order.status != Order.ACCEPTED:
                raise InvalidInput("the order was not accepted by this member")
        session_id = session_id or uuid4()
        if self._exists(session_id):
            raise AlreadyExists(f"session {session_id} already exists")
        session = ServiceSession.record(
            session_id=session_id, member_id=member_id, community_id=community_id, activity=activity,
            content=content, place=place, service_date=service_date, start_time=start_time, end_time=end_time,
            minutes=minutes, post_id=post_id, order_id=order_id, organiser=organiser, recipient=recipient,
            recorded_on=self.today(), calendar=self.work_calendar())
        self._commit(actor, request_id, session)
        return session.id

    def rate_session(self, *, actor: Actor, session_id: UUID, rating: Rating | str) -> None:
        """评价 优/良/一般 by the recipient (resident) or the organiser (community or unit)."""
        self._require_role(actor, Role.RESIDENT, Role.COMMUNITY, Role.UNIT)
        session = self._get(session_id, ServiceSession, "session")
        if actor.role is Role.COMMUNITY and session.community_id != actor.actor_id:
            raise NotPermitted("a community rates only its own sessions")
        if actor.role is Role.UNIT and self._get(session.member_id, Member).unit_id != actor.actor_id:
            raise NotPermitted("a unit rates only its own members' sessions")
        if actor.role is Role.RESIDENT and session.order_id is not None:
            if self._get(session.order_id, Order).resident_id != actor.actor_id:
                raise NotPermitted("only the resident who ordered the service rates it")
        try:
            value = Rating(rating)
        except ValueError:
            raise InvalidInput("rating is 优, 良 or 一般") from None
        session.rate(rating=value, rater_role=actor.role)
        self._commit(actor, None, session)

    def _community_session(self, actor: Actor, session_id: UUID) -> ServiceSession:
        self._require_role(actor, Role.COMMUNITY)
        session = self._get(session_id, ServiceSession, "session")
        if session.community_id != actor.actor_id:
            raise NotPermitted("a community decides only on its own sessions")
        return session

    def _storage_cap(self) -> int | None:
        return self.get_region().storage_cap_minutes

    def certify_session(self, *, actor: Actor, session_id: UUID, request_id: str | None = None) -> int:
        """认证签字: certify and deposit the minutes to the member's account in one transaction;
        a linked resident order becomes fulfilled. Returns the minutes deposited."""
        session = self._community_session(actor, session_id)
        member = self._get(session.member_id, Member)
        member.require_active()
        account = self._get(TimeAccount.create_id(session.member_id), TimeAccount, "time account")
        minutes = session.certify(certified_by=actor.actor_id, certified_on=self.today())
        aggregates: list[Aggregate] = [session, account]
        if minutes > 0:
            account.credit(source_id=session.id, kind="session", minutes=minutes,
                           storage_cap_minutes=self._storage_cap())
        if session.order_id is not None:
            order = self._get(session.order_id, Order)
            if order.status == Order.ACCEPTED:
                order.fulfil(session_id=session.id)
                aggregates.append(order)
        self._commit(actor, request_id, *aggregates)
        return minutes

    def reject_session(self, *, actor: Actor, session_id: UUID, reason: str) -> None:
        session = self._community_session(actor, session_id)
        session.reject(reason=reason)
        self._commit(actor, None, session)

    def correct_session(self, *, actor: Actor, session_id: UUID, changes: dict[str, Any], reason: str) -> int:
        """A correction is a new event referencing the original; a certified session's minutes
        change moves the difference in or out of the account. Returns the change in minutes."""
        session = self._community_session(actor, session_id)
        delta = session.correct(changes=changes, reason=reason, calendar=self.work_calendar())
        aggregates: list[Aggregate] = [session]
        if delta:
            account = self._get(TimeAccount.create_id(session.member_id), TimeAccount, "time account")
            source_id = stable_id("correction", session.id, session.version)
            if delta > 0:
                account.credit(source_id=source_id, kind="correction", minutes=delta,
                               storage_cap_minutes=self._storage_cap())
            else:
                account.claw_back(source_id=source_id, kind="correction", minutes=-delta)
            aggregates.append(account)
        self._commit(actor, None, *aggregates)
        return delta

    def uphold_complaint(self, *, actor: Actor, session_id: UUID, reason: str) -> int:
        """投诉属实: zero the session's minutes and take back what was credited."""
        session = self._community_session(actor, session_id)
        taken_back = session.uphold_complaint(reason=reason)
        aggregates: list[Aggregate] = [session]
        if taken_back:
            account = self._get(TimeAccount.create_id(session.member_id), TimeAccount, "time account")
            account.claw_back(source_id=stable_id("complaint", session.id), kind="complaint", minutes=taken_back)
            aggregates.append(account)
        self._commit(actor, None, *aggregates)
        return taken_back

    def get_session(self, session_id: UUID) -> ServiceSession:
        return self._get(session_id, ServiceSession, "session")

    def get_order(self, order_id: UUID) -> Order:
        return self._get(order_id, Order, "order")

    def get_suggestion(self, suggestion_id: UUID) -> Suggestion:
        return self._get(suggestion_id, Suggestion, "suggestion")

    # -- suggestions --------------------------------------------------------------------------
    def submit_suggestion(self, *, actor: Actor, content: str, suggestion_id: UUID | None = None) -> UUID:
        self._require_role(actor, Role.MEMBER)
        member = self._get(actor.actor_id, Member)
        community_id = member.require_registered()
        suggestion_id = suggestion_id or uuid4()
        if self._exists(suggestion_id):
            raise AlreadyExists(f"suggestion {suggestion_id} already exists")
        suggestion = Suggestion.submit(suggestion_id=suggestion_id, member_id=member.id, community_id=community_id,
                                       content=content, submitted_on=self.today())
        self._commit(actor, None, suggestion)
        return suggestion.id

    def _community_suggestion(self, actor: Actor, suggestion_id: UUID) -> Suggestion:
        self._require_role(actor, Role.COMMUNITY)
        suggestion = self._get(suggestion_id, Suggestion)
        if suggestion.community_id != actor.actor_id:
            raise NotPermitted("a community handles only its own members' suggestions")
        return suggestion

    def adopt_suggestion(self, *, actor: Actor, suggestion_id: UUID, note: str = "") -> None:
        suggestion = self._community_suggestion(actor, suggestion_id)
        suggestion.adopt(note=note)
        self._commit(actor, None, suggestion)

    def forward_suggestion(self, *, actor: Actor, suggestion_id: UUID, agency: str) -> None:
        """交转有关机构办理."""
        suggestion = self._community_suggestion(actor, suggestion_id)
        suggestion.forward(agency=agency)
        self._commit(actor, None, suggestion)

    # =========================================================================================
    # 爱心超市: balances and redemptions

    def get_account(self, member_id: UUID) -> TimeAccount:
        return self._get(TimeAccount.create_id(member_id), TimeAccount, "time account")

    def get_balance_minutes(self, member_id: UUID) -> int:
        return self.get_account(member_id).balance_minutes

    def redeem(self, *, actor: Actor, member_id: UUID, redemption_id: UUID,
               items: Sequence[tuple[UUID, int]], request_id: str | None = None) -> RedemptionResult:
        """Redeem certified minutes against the counter's community catalogue. Exactly once per
        `redemption_id`: a retry with the same terms returns the original result."""
        self._require_role(actor, Role.COUNTER)
        if not items or len(items) > REDEMPTION_LINES_MAX:
            raise InvalidInput(f"a redemption has 1 to {REDEMPTION_LINES_MAX} lines")
        counter = self._get(actor.actor_id, Counter)
        community = self._get(counter.community_id, Community)
        lines: list[dict[str, Any]] = []
        for item_id, quantity in items:
            if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= QUANTITY_MAX:
                raise InvalidInput(f"quantity must be 1 to {QUANTITY_MAX}")
            name, price = community.require_item(item_id)
            lines.append({"item_id": str(item_id), "name": name, "quantity": quantity, "price_minutes": price})
        total = sum(line["quantity"] * line["price_minutes"] for line in lines)
        account = self.get_account(member_id)
        previous = account.redemptions.get(redemption_id)
        if previous is not None and previous[0] == str(counter.id) and _items_of(previous[2]) == _items_of(lines):
            lines, total = previous[2], previous[1]  # a retry after a price change keeps the original terms
        applied = account.redeem(redemption_id=redemption_id, counter_id=counter.id, lines=lines, minutes=total)
        if applied:
            self._commit(actor, request_id, account)
        return RedemptionResult(redemption_id=redemption_id, minutes=total, balance_minutes=account.balance_minutes,
                                applied=applied, lines=lines)

    # =========================================================================================
    # Actors

    def actor_for(self, actor_id: UUID) -> Actor:
        """The actor with an active key in this region."""
        role = self.secrets.active_role(actor_id)
        if role is None:
            raise NotFound(f"no actor {actor_id} in this region")
        return Actor(actor_id, Role(role))


def _items_of(lines: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(line["item_id"], line["quantity"]) for line in lines]


__all__ = ["Actor", "Ledger", "RedemptionResult", "StatementsPrepared"]
