"""Units (单位党组织) and communities (社区党组织): posts, teams, menu, catalogue, counters."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import (
    AlreadyExists,
    InvalidInput,
    ItemNotAvailable,
    NotAnOrganiser,
    NotFound,
    OrganiserWithdrawn,
)
from ledger.domain.limits import NAME_CHARS_MAX, PRICE_MINUTES_MAX, SETTING_REASON_CHARS_MAX
from ledger.domain.values import STANDARD_POSTS, TeamKind, UnitType, check_minutes, check_text, stable_id

DECLARED_MEMBERS_MAX = 1_000_000


class Unit(LedgerAggregate):
    @classmethod
    def register(cls, *, name: str, unit_type: UnitType, region_code: str, declared_members: int) -> "Unit":
        if not isinstance(declared_members, int) or not 0 <= declared_members <= DECLARED_MEMBERS_MAX:
            raise InvalidInput("declared members in service must be a whole number ≥ 0")
        return cls(name=check_text(name, "name", chars_max=NAME_CHARS_MAX), unit_type=UnitType(unit_type),
                   region_code=region_code, declared_members=declared_members)

    @event("Registered")
    def __init__(self, *, name: str, unit_type: UnitType, region_code: str, declared_members: int) -> None:
        self.name = name
        self.unit_type = unit_type
        self.region_code = region_code
        self.declared_members = declared_members
        self.community_id: UUID | None = None

    def declare_members(self, *, count: int) -> None:
        if not isinstance(count, int) or not 0 <= count <= DECLARED_MEMBERS_MAX:
            raise InvalidInput("declared members in service must be a whole number ≥ 0")
        self._members_declared(count=count)

    @event("MembersDeclared")
    def _members_declared(self, count: int) -> None:
        self.declared_members = count

    def pair_with(self, *, community_id: UUID, reason: str = "") -> None:
        """结对共建: a unit pairs with exactly one community; pairing again replaces the pair (and
        says why: the reason is signed into the event)."""
        if self.community_id == community_id:
            return
        self._paired(community_id=community_id,
                     reason=check_text(reason, "reason", chars_max=SETTING_REASON_CHARS_MAX, required=False))

    class Paired(LedgerAggregate.Event):
        """Version 2 (issue #12) adds the `reason` of a (re-)pairing; earlier pairings had none."""

        class_version = 2
        community_id: UUID
        reason: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = ""

    @event(Paired)
    def _paired(self, community_id: UUID, reason: str) -> None:
        self.community_id = community_id


class Community(LedgerAggregate):
    @classmethod
    def register(cls, *, name: str, region_code: str, county: str, street: str) -> "Community":
        return cls(name=check_text(name, "name", chars_max=NAME_CHARS_MAX), region_code=region_code,
                   county=check_text(county, "county", chars_max=NAME_CHARS_MAX),
                   street=check_text(street, "street", chars_max=NAME_CHARS_MAX))

    @event("Registered")
    def __init__(self, *, name: str, region_code: str, county: str, street: str) -> None:
        self.name = name
        self.region_code = region_code
        self.county = county
        self.street = street
        self.posts: dict[UUID, str] = {}
        self.retired_posts: set[UUID] = set()
        self.teams: dict[UUID, tuple[str, TeamKind]] = {}
        self.menu: dict[UUID, tuple[str, UUID | None]] = {}
        self.withdrawn_menu: set[UUID] = set()
        self.catalogue: dict[UUID, tuple[str, int]] = {}
        self.delisted: set[UUID] = set()
        # 活动组织者 (issue #15): member id -> {"named_on", "withdrawn", "reason"}; appliers replace an entry
        self.organisers: dict[UUID, dict[str, Any]] = {}

    # -- posts -------------------------------------------------------------------------------
    def post_id(self, name: str) -> UUID:
        return stable_id("post", self.id, name)

    def define_post(self, *, name: str, standard: bool = False) -> UUID:
        name = check_text(name, "post name", chars_max=NAME_CHARS_MAX)
        post_id = self.post_id(name)
        if post_id in self.posts and post_id not in self.retired_posts:
            raise AlreadyExists(f"post {name} already exists")
        self._post_defined(post_id=post_id, name=name, standard=standard or name in STANDARD_POSTS)
        return post_id

    @event("PostDefined")
    def _post_defined(self, post_id: UUID, name: str, standard: bool) -> None:
        self.posts[post_id] = name
        self.retired_posts.discard(post_id)

    def retire_post(self, *, post_id: UUID) -> None:
        self.require_post(post_id)
        self._post_retired(post_id=post_id)

    @event("PostRetired")
    def _post_retired(self, post_id: UUID) -> None:
        self.retired_posts.add(post_id)

    def require_post(self, post_id: UUID) -> str:
        if post_id not in self.posts or post_id in self.retired_posts:
            raise NotFound(f"post {post_id} is not open in community {self.name}", params={"kind": "Post"})
        return self.posts[post_id]

    # -- teams -------------------------------------------------------------------------------
    def form_team(self, *, name: str, kind: TeamKind) -> UUID:
        name = check_text(name, "team name", chars_max=NAME_CHARS_MAX)
        team_id = stable_id("team", self.id, name)
        if team_id in self.teams:
            raise AlreadyExists(f"team {name} already exists")
        self._team_formed(team_id=team_id, name=name, kind=TeamKind(kind))
        return team_id

    @event("TeamFormed")
    def _team_formed(self, team_id: UUID, name: str, kind: TeamKind) -> None:
        self.teams[team_id] = (name, kind)

    def require_team(self, team_id: UUID) -> str:
        if team_id not in self.teams:
            raise NotFound(f"team {team_id} is not in community {self.name}", params={"kind": "Team"})
        return self.teams[team_id][0]

    # -- service menu (服务菜单) ----------------------------------------------------------------
    def publish_menu_item(self, *, title: str, post_id: UUID | None) -> UUID:
        title = check_text(title, "menu item", chars_max=NAME_CHARS_MAX)
        if post_id is not None:
            self.require_post(post_id)
        item_id = stable_id("menu", self.id, title)
        if item_id in self.menu and item_id not in self.withdrawn_menu:
            raise AlreadyExists(f"menu item {title} is already published")
        self._menu_item_published(item_id=item_id, title=title, post_id=post_id)
        return item_id

    @event("MenuItemPublished")
    def _menu_item_published(self, item_id: UUID, title: str, post_id: UUID | None) -> None:
        self.menu[item_id] = (title, post_id)
        self.withdrawn_menu.discard(item_id)

    def withdraw_menu_item(self, *, item_id: UUID) -> None:
        self.require_menu_item(item_id)
        self._menu_item_withdrawn(item_id=item_id)

    @event("MenuItemWithdrawn")
    def _menu_item_withdrawn(self, item_id: UUID) -> None:
        self.withdrawn_menu.add(item_id)

    def require_menu_item(self, item_id: UUID) -> str:
        if item_id not in self.menu or item_id in self.withdrawn_menu:
            raise NotFound(f"menu item {item_id} is not on the menu of {self.name}", params={"kind": "MenuItem"})
        return self.menu[item_id][0]

    # -- 活动组织者: members the community names to run its activities (issue #15) --------------
    def name_organiser(self, *, member_id: UUID, named_on: date) -> None:
        """Name a registered member organiser (the use case checks the member is this community's, active)."""
        entry = self.organisers.get(member_id)
        if entry is not None and not entry["withdrawn"]:
            raise AlreadyExists("该党员已是本社区活动组织者 / the member is already an organiser here")
        self._organiser_named(member_id=member_id, named_on=named_on)

    @event("OrganiserNamed")
    def _organiser_named(self, member_id: UUID, named_on: date) -> None:
        self.organisers[member_id] = {"named_on": named_on, "withdrawn": False, "reason": ""}

    def withdraw_organiser(self, *, member_id: UUID, reason: str) -> None:
        entry = self.organisers.get(member_id)
        if entry is None or entry["withdrawn"]:
            raise NotFound("该党员不是本社区的活动组织者 / the member is not an organiser here",
                           params={"kind": "Organiser"})
        self._organiser_withdrawn(member_id=member_id,
                                  reason=check_text(reason, "reason", chars_max=SETTING_REASON_CHARS_MAX,
                                                    required=False))

    @event("OrganiserWithdrawn")
    def _organiser_withdrawn(self, member_id: UUID, reason: str) -> None:
        self.organisers[member_id] = {**self.organisers[member_id], "withdrawn": True, "reason": reason}

    def require_organiser(self, member_id: UUID) -> None:
        """Refuse a member the community has not named (or has withdrawn) as organiser."""
        entry = self.organisers.get(member_id)
        if entry is None:
            raise NotAnOrganiser("本社区未指定该党员为活动组织者 / the community has not named this member "
                                 "an organiser")
        if entry["withdrawn"]:
            raise OrganiserWithdrawn("社区已撤销该党员的活动组织者身份 / the community withdrew this member as "
                                     "organiser")

    def is_organiser(self, member_id: UUID) -> bool:
        entry = self.organisers.get(member_id)
        return entry is not None and not entry["withdrawn"]

    # -- 爱心超市 catalogue -------------------------------------------------------------------
    def list_item(self, *, name: str, price_minutes: int) -> UUID:
        name = check_text(name, "item name", chars_max=NAME_CHARS_MAX)
        check_minutes(price_minutes, "price_minutes", low=1, high=PRICE_MINUTES_MAX)
        item_id = stable_id("catalogue", self.id, name)
        if item_id in self.catalogue and item_id not in self.delisted:
            raise AlreadyExists(f"catalogue item {name} is already listed")
        self._item_listed(item_id=item_id, name=name, price_minutes=price_minutes)
        return item_id

    @event("ItemListed")
    def _item_listed(self, item_id: UUID, name: str, price_minutes: int) -> None:
        self.catalogue[item_id] = (name, price_minutes)
        self.delisted.discard(item_id)

    def reprice_item(self, *, item_id: UUID, price_minutes: int) -> None:
        name, _ = self.require_item(item_id)
        check_minutes(price_minutes, "price_minutes", low=1, high=PRICE_MINUTES_MAX)
        self._item_repriced(item_id=item_id, price_minutes=price_minutes)

    @event("ItemRepriced")
    def _item_repriced(self, item_id: UUID, price_minutes: int) -> None:
        self.catalogue[item_id] = (self.catalogue[item_id][0], price_minutes)

    def delist_item(self, *, item_id: UUID) -> None:
        self.require_item(item_id)
        self._item_delisted(item_id=item_id)

    @event("ItemDelisted")
    def _item_delisted(self, item_id: UUID) -> None:
        self.delisted.add(item_id)

    def require_item(self, item_id: UUID) -> tuple[str, int]:
        if item_id not in self.catalogue or item_id in self.delisted:
            raise ItemNotAvailable(f"item {item_id} is not in the catalogue of {self.name}")
        return self.catalogue[item_id]


class Counter(LedgerAggregate):
    """An 爱心超市 counter of one community: it redeems members' minutes against the catalogue."""

    @classmethod
    def open(cls, *, counter_id: UUID, community_id: UUID, name: str) -> "Counter":
        return cls(id=counter_id, community_id=community_id,
                   name=check_text(name, "counter name", chars_max=NAME_CHARS_MAX))

    @event("Opened")
    def __init__(self, *, id: UUID, community_id: UUID, name: str) -> None:
        self.community_id = community_id
        self.name = name
