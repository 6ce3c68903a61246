"""A small region with two of everything ("A" and "B" sides) and a signed-in token per actor.

Built through the Ledger directly (fast), then logins are made through the service's auth store.
Side A: unit A, community A, counter A, resident A, member A (unit A → community A, named organiser of
community A's activities), and member A's session (ordered by resident A, rated, certified), order, suggestion and report slip. Side B mirrors it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

from fastapi import FastAPI

from api.services import services_of
from ledger.application import Actor, Ledger, setup
from ledger.domain.values import ConsentPurpose, Role
from ledger.signing import keys as ed25519

PASSWORD = "correct horse battery"


@dataclass
class Side:
    unit: Actor
    community: Actor
    counter: Actor
    resident: Actor
    member: Actor
    session_id: UUID
    open_session_id: UUID  # recorded, not yet rated or certified
    order_id: UUID
    suggestion_id: UUID
    slip_id: UUID
    item_id: UUID
    menu_item_id: UUID
    post_id: UUID
    team_id: UUID
    counter_key_id: str
    member_key_id: str
    activity_id: UUID  # an open activity (签到签退) of the whole of today
    phone: Any = None  # the member's phone key (服务记录 offline): its private key, registered
    phone_key_id: str = ""


@dataclass
class World:
    ledger: Ledger
    region: Actor
    auditor: Actor
    a: Side
    b: Side
    root_key: object = None  # the province root private key, when this world made the region
    tokens: dict[UUID, str] = field(default_factory=dict)
    usernames: dict[UUID, str] = field(default_factory=dict)

    def actor(self, role: Role, side: str = "a") -> Actor:
        if role is Role.REGION:
            return self.region
        if role is Role.AUDITOR:
            return self.auditor
        s = self.a if side == "a" else self.b
        return {Role.UNIT: s.unit, Role.COMMUNITY: s.community, Role.COUNTER: s.counter, Role.RESIDENT: s.resident,
                Role.MEMBER: s.member}[role]

    def headers(self, actor: Actor, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[actor.actor_id]}", **extra}

    def side(self, name: str) -> Side:
        return self.a if name == "a" else self.b


def _side(ledger: Ledger, region: Actor, suffix: str, balance_sessions: int = 1) -> Side:
    unit, community = setup.paired_unit_and_community(ledger, region, unit_name=f"单位{suffix}",
                                                      community_name=f"社区{suffix}", street=f"街道{suffix}")
    counter = Actor(ledger.open_counter(actor=community, name=f"柜台{suffix}"), Role.COUNTER)
    resident = Actor(ledger.register_resident(actor=community, label=f"居民{suffix}"), Role.RESIDENT)
    item_id = ledger.list_catalogue_item(actor=community, name="大米", price_minutes=30)
    post_id = setup.first_post(ledger, community)
    team_id = ledger.form_team(actor=community, name="第一网格服务队", kind="地缘")
    menu_item_id = ledger.publish_menu_item(actor=community, title="陪同就医", post_id=None)
    member_id, slip_id = setup.enrol_with_slip(ledger, unit=unit, community=community, name=f"党员{suffix}")
    ledger.register_member(actor=community, member_id=member_id, post_ids=[post_id], slip_id=slip_id,
                           personal={"mobile": "13800000000"}, profile={"sex": "男"})
    member = Actor(member_id, Role.MEMBER)
    ledger.name_organiser(actor=community, member_id=member_id)  # 活动组织者: runs the community's activities
    ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.UNIT_FEEDBACK,
                        recipient=str(unit.actor_id))
    ledger.join_team(actor=community, member_id=member.actor_id, team_id=team_id)
    ledger.grant_exemption(actor=unit, member_id=member.actor_id, year=2025, reason="援疆挂职一年")
    order_id = ledger.place_order(actor=resident, community_id=community.actor_id, menu_item_id=menu_item_id)
    ledger.dispatch_order(actor=community, order_id=order_id, member_id=member.actor_id)
    ledger.accept_order(actor=member, order_id=order_id)
    today = ledger.today()
    session_id = setup.serve_session(ledger, community=community, recorded_by=member, rated_by=resident,
                                     member_id=member.actor_id, activity="敬老助残", content="打扫卫生", place="社区",
                                     service_date=today - timedelta(days=1), start_time="09:00", end_time="12:00",
                                     minutes=180, order_id=order_id, rating="优")
    for _ in range(balance_sessions - 1):
        setup.serve_session(ledger, community=community, member_id=member.actor_id, activity="环境整治",
                            content="清扫", place="小区", service_date=today, start_time="08:00", end_time="20:00",
                            minutes=600, rating="良")
    open_session_id = ledger.record_session(actor=member, member_id=member.actor_id, activity="政策宣讲",
                                            content="宣讲", place="活动室", service_date=today,
                                            start_time="14:00", end_time="16:00", minutes=120)
    suggestion_id = ledger.submit_suggestion(actor=member, content="建议加装电梯")
    activity_id = ledger.open_activity(actor=community, title="周末志愿活动", place="活动室", service_date=today,
                                       start_time="00:00", end_time="23:59", expected_members=5, post_id=post_id)
    phone = ed25519.generate()
    phone_key_id = ledger.register_device(actor=member, public_key=ed25519.public_bytes(phone.public_key()),
                                          label="党员手机")
    return Side(phone=phone, phone_key_id=phone_key_id, unit=unit, community=community, counter=counter, resident=resident, member=member,
                session_id=session_id, open_session_id=open_session_id, order_id=order_id,
                suggestion_id=suggestion_id, slip_id=slip_id, item_id=item_id, menu_item_id=menu_item_id,
                post_id=post_id, team_id=team_id, counter_key_id=ledger.key_id_of(counter),
                member_key_id=ledger.key_id_of(member), activity_id=activity_id)


def build_world(app: FastAPI, *, balance_sessions: int = 1) -> World:
    services = services_of(app)
    ledger = services.ledger
    root_key = setup.ensure_region(ledger)
    region = ledger.region_actor()
    auditor = Actor(ledger.register_auditor(actor=region, label="审计组"), Role.AUDITOR)
    world = World(ledger=ledger, region=region, auditor=auditor, root_key=root_key,
                  a=_side(ledger, region, "甲", balance_sessions), b=_side(ledger, region, "乙", balance_sessions))
    actors = [region, auditor] + [getattr(s, f) for s in (world.a, world.b)
                                  for f in ("unit", "community", "counter", "resident", "member")]
    for actor in actors:
        username = f"{actor.role.value}-{actor.actor_id.hex[:12]}"
        if actor.role is Role.MEMBER:  # a member's login holds a key only the member's password unlocks
            services.member_access.provision(member_id=actor.actor_id, username=username, password=PASSWORD,
                                             reason="test world")
            world.tokens[actor.actor_id], _, _ = services.auth.login(username, PASSWORD)
        else:
            login = services.auth.create_login(username=username, password=PASSWORD, actor=actor)
            world.tokens[actor.actor_id], _ = services.auth.issue_token(login)
        world.usernames[actor.actor_id] = username
    for side in (world.a, world.b):  # the member's key changed when their login was set up
        side.member_key_id = services.auth.member_key(world.tokens[side.member.actor_id])[0]  # type: ignore[index]  # the test knows it is there
    return world


def new_id() -> str:
    return str(uuid4())


def today_iso(ledger: Ledger, days_ago: int = 0) -> str:
    return (ledger.today() - timedelta(days=days_ago)).isoformat()


__all__ = ["PASSWORD", "Side", "World", "build_world", "date", "new_id", "today_iso"]
