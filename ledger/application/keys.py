"""Keys and the trust chain; region settings, scoring policy and calendars."""


from __future__ import annotations

from datetime import date, datetime
from typing import Any, Sequence
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import Aggregate

from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    AlreadyExists,
    DeviceKeyUnknown,
    InvalidInput,
    MemberKeyHeldByMember,
    NotFound,
    NotPermitted,
)
from ledger.domain.keys import Key
from ledger.domain.member import Member
from ledger.domain.organisations import Community, Counter
from ledger.domain.region import Region
from ledger.domain.scoring import POLICY_V1_RULES, ScoringPolicy
from ledger.domain.values import (
    CERTIFIERS,
    Role,
    check_region_code,
    check_text,
    stable_id,
)
from ledger.domain.limits import KEY_REASON_CHARS_MAX, LABEL_CHARS_MAX, NOTE_CHARS_MAX
from ledger.signing import keys as ed25519
from ledger.application.core import Actor, LedgerCore


class KeyUseCases(LedgerCore):
    """Keys and the trust chain; region settings, scoring policy and calendars."""

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
                           label=check_text(label, "label", chars_max=LABEL_CHARS_MAX))
        self._commit(authority, None, key)
        return key_id

    def register_device(self, *, actor: Actor, public_key: bytes, label: str) -> str:
        """A device's own key (its private half never leaves the device's browser): a counter's device,
        certified by the counter's community; a community's venue device (签到 offline), certified by the
        region; a member's phone (服务记录 offline), certified by the member's community (CERTIFIERS), when
        the login asks from that device. Registering the same public key
        again returns its id."""
        self._require_role(actor, Role.COUNTER, Role.COMMUNITY, Role.MEMBER)
        if actor.role is Role.COUNTER:
            authority = Actor(self._get(actor.actor_id, Counter).community_id, Role.COMMUNITY)
        elif actor.role is Role.MEMBER:  # the member's phone: certified by the community (else unit, region)
            member = self._get(actor.actor_id, Member)
            member.require_active()
            community_id, unit_id = member.community_id, member.unit_id
            authority = (Actor(community_id, Role.COMMUNITY) if community_id is not None
                         else Actor(unit_id, Role.UNIT) if unit_id is not None else self.region_actor())
        else:
            self._get(actor.actor_id, Community)
            authority = self.region_actor()
        if len(public_key) != ed25519.PUBLIC_KEY_BYTES:
            raise InvalidInput("an Ed25519 public key has 32 bytes")
        key_id = ed25519.key_id_of(public_key)
        if self._exists(Key.create_id(key_id)):
            key = self._get(Key.create_id(key_id), Key)
            if key.owner_id != actor.actor_id:
                raise DeviceKeyUnknown("that public key belongs to another actor")
            return key_id
        label = check_text(label, "label", chars_max=LABEL_CHARS_MAX)
        return self.register_client_key(authority=authority, owner=actor, public_key=public_key, label=label)

    def replace_member_key(self, *, authority: Actor, member_id: UUID, reason: str) -> tuple[str, bytes]:
        """A new key for the member whose private half the ledger does NOT keep: it is returned once
        (raw bytes) for the API to wrap under the member's password. The member's current key is
        revoked from now on with `reason`. Both events are signed by `authority` (the unit, community
        or region that issued the member's activation code, or the region operator)."""
        if authority.role not in CERTIFIERS[Role.MEMBER]:
            raise NotPermitted(f"a {authority.role.value} cannot certify a member key")
        member = self._get(member_id, Member)
        owner = Actor(member.id, Role.MEMBER)
        reason = check_text(reason, "reason", chars_max=KEY_REASON_CHARS_MAX)
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
        old.revoke(effective_at=CLOCK.get()(), reason=check_text(reason, "reason", chars_max=KEY_REASON_CHARS_MAX),
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
        key.revoke(effective_at=effective_at or CLOCK.get()(),
                   reason=check_text(reason, "reason", chars_max=KEY_REASON_CHARS_MAX),
                   replaced_by=None)
        self._commit(authority, None, key)
        self.secrets.deactivate_key(key_id)
        self._signers.pop(key.owner_id, None)

    def change_region_settings(self, *, actor: Actor, display_name: str | None = None,
                               storage_cap_minutes: int | None = None, clear_storage_cap: bool = False,
                               reason: str = "") -> None:
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.change_settings(display_name=display_name, storage_cap_minutes=storage_cap_minutes,
                               clear_storage_cap=clear_storage_cap, reason=reason)
        self._commit(actor, None, region)

    def set_report_deadline(self, *, actor: Actor, year: int, deadline: date, reason: str = "") -> None:
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.set_report_deadline(year=year, deadline=deadline, reason=reason)
        self._commit(actor, None, region)

    def set_transfer_timeout(self, *, actor: Actor, days: int, reason: str) -> None:
        """How many days a pending transfer-out waits for the destination's receipt (issue #12)."""
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.set_transfer_timeout(days=days, reason=reason)
        self._commit(actor, None, region)

    def publish_scoring_policy(self, *, actor: Actor, version: int, rules: dict[str, Any], note: str,
                               from_year: int) -> UUID:
        self._require_role(actor, Role.REGION)
        assert self.region_code is not None
        policy_id = ScoringPolicy.create_id(self.region_code, version)
        if self._exists(policy_id):
            raise AlreadyExists(f"scoring policy version {version} already exists")
        policy = ScoringPolicy.publish(region_code=self.region_code, version=version, rules=rules,
                                       note=check_text(note, "note", chars_max=NOTE_CHARS_MAX, required=False))
        region = self.get_region()
        region.adopt_policy(from_year=from_year, version=version)
        self._commit(actor, None, policy, region)
        return policy.id

    def rescore_year(self, *, actor: Actor, year: int, version: int, reason: str = "") -> None:
        self._require_role(actor, Role.REGION)
        self.get_scoring_policy(version)
        region = self.get_region()
        region.rescore_year(year=year, version=version, reason=reason)
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

    def get_scoring_policy(self, version: int) -> ScoringPolicy:
        assert self.region_code is not None
        return self._get(ScoringPolicy.create_id(self.region_code, version), ScoringPolicy, "scoring policy")

    def set_counter_confirmation(self, *, actor: Actor, required: bool, reason: str) -> None:
        """A region setting (issue #12): counters confirm the member in person before redeeming."""
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.set_counter_confirmation(required=required, reason=reason)
        self._commit(actor, None, region)

    def set_offline_bound(self, *, actor: Actor, minutes_per_member_day: int, reason: str,
                          minutes_per_device_day: int | None = None) -> int:
        """A region setting (issue #15): minutes a counter may accept offline per member per day (0: none)
        and, in all, per device per day (0: no total; None: unchanged). Returns the setting's version,
        which counter devices are told."""
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        version = region.set_offline_bound(minutes_per_member_day=minutes_per_member_day, reason=reason,
                                           minutes_per_device_day=minutes_per_device_day)
        self._commit(actor, None, region)  # an unchanged bound (a retry) has nothing to save
        return version
