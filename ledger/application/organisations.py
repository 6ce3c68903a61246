"""Organisations and actors: units, communities, auditors, residents, counters; posts, teams, menu, catalogue."""


from __future__ import annotations

from uuid import UUID, uuid4


from ledger.domain.errors import (
    InvalidInput,
)
from ledger.domain.organisations import Community, Counter, Unit
from ledger.domain.values import (
    STANDARD_POSTS,
    Role,
    TeamKind,
    UnitType,
    check_text,
)
from ledger.domain.limits import LABEL_CHARS_MAX
from ledger.application import ownership
from ledger.application.core import Actor, LedgerCore

RESIDENTS_LIST_MAX = 500  # residents offered on one office page (the ledger keeps no resident personal data)


class OrganisationUseCases(LedgerCore):
    """Organisations and actors: units, communities, auditors, residents, counters; posts, teams, menu, catalogue."""

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
                                    label=check_text(label, "label", chars_max=LABEL_CHARS_MAX))
        self._commit(actor, None, key)
        return auditor_id

    def register_resident(self, *, actor: Actor, label: str) -> UUID:
        """A resident (service recipient) who places orders and rates sessions. `label` is not a
        name: residents' personal data stays outside the ledger."""
        self._require_role(actor, Role.COMMUNITY)
        resident_id = uuid4()
        key = self._certify_new_key(authority=actor, owner=Actor(resident_id, Role.RESIDENT),
                                    label=check_text(label, "label", chars_max=LABEL_CHARS_MAX))
        self._commit(actor, None, key)
        return resident_id

    def residents_of(self, community_id: UUID) -> list[tuple[UUID, str]]:
        """The residents a community registered (id, label), by label; at most RESIDENTS_LIST_MAX."""
        found: list[tuple[UUID, str]] = []
        for actor_id, role, key_id in self.secrets.actors():
            if role != Role.RESIDENT.value or ownership.certifier_of(self, actor_id) != community_id:
                continue
            found.append((actor_id, self.get_key(key_id).label))
            if len(found) >= RESIDENTS_LIST_MAX:
                break
        return sorted(found, key=lambda resident: (resident[1], str(resident[0])))

    def pair_unit(self, *, actor: Actor, unit_id: UUID, community_id: UUID, reason: str = "") -> None:
        self._require_role(actor, Role.UNIT, Role.REGION)
        self._require_self(actor, unit_id, Role.UNIT)
        self._get(community_id, Community)
        unit = self._get(unit_id, Unit)
        unit.pair_with(community_id=community_id, reason=reason)
        self._commit(actor, None, unit)

    def declare_unit_members(self, *, actor: Actor, unit_id: UUID, count: int) -> None:
        self._require_role(actor, Role.UNIT)
        self._require_self(actor, unit_id, Role.UNIT)
        unit = self._get(unit_id, Unit)
        unit.declare_members(count=count)
        self._commit(actor, None, unit)

    def open_counter(self, *, actor: Actor, name: str, community_id: UUID | None = None) -> UUID:
        """A counter of a community: the community opens its own; the region administrator opens one
        for any community (DOMAIN.md: the region certifies its counters' keys too)."""
        self._require_role(actor, Role.COMMUNITY, Role.REGION)
        if actor.role is Role.COMMUNITY:
            self._require_self(actor, community_id or actor.actor_id, Role.COMMUNITY)
            community_id = actor.actor_id
        elif community_id is None:
            raise InvalidInput("community_id: required when the region opens a counter")
        self._get(community_id, Community)
        counter = Counter.open(counter_id=uuid4(), community_id=community_id, name=name)
        key = self._certify_new_key(authority=actor, owner=Actor(counter.id, Role.COUNTER), label=counter.name)
        self._commit(actor, None, counter, key)
        return counter.id

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
