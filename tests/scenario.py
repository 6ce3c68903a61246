"""A small hand-built region for tests: one unit, one community, registered members, a counter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application import Actor, Ledger, setup
from ledger.demo import simulated
from ledger.domain.values import Role


@dataclass
class Region:
    ledger: Ledger
    root_public_key: bytes
    region: Actor
    unit: Actor
    community: Actor
    counter: Actor
    resident: Actor
    post_id: UUID
    item_id: UUID  # price 30 minutes
    members: list[Actor] = field(default_factory=list)
    root_key: Ed25519PrivateKey | None = None  # the province root's private key (kept offline in a real region)


def build_region(ledger: Ledger, *, members: int = 2) -> Region:
    from ledger.signing.keys import public_bytes

    root = setup.init_region(ledger)
    region = ledger.region_actor()
    unit, community = setup.paired_unit_and_community(ledger, region, unit_name="省财政厅机关党委",
                                                      community_name="紫鑫城社区", street="锁金村街道")
    post_id = setup.first_post(ledger, community)
    item_id = ledger.list_catalogue_item(actor=community, name="毛巾", price_minutes=30)
    counter = Actor(ledger.open_counter(actor=community, name="爱心超市"), Role.COUNTER)
    resident = Actor(ledger.register_resident(actor=community, label="居民甲"), Role.RESIDENT)
    built = Region(ledger, public_bytes(root.public_key()), region, unit, community, counter, resident, post_id,
                   item_id, root_key=root)
    for index in range(members):
        built.members.append(add_member(built, name=f"党员{index + 1}"))
    return built


def organise_region(ledger: Ledger) -> Region:
    """A second region (already initialised under the same province root): a unit, a community, a counter."""
    import base64

    region = ledger.region_actor()
    unit = Actor(ledger.register_unit(actor=region, name="单位", unit_type="企业", declared_members=5), Role.UNIT)
    community = Actor(ledger.register_community(actor=region, name="社区", county="区", street="街道"), Role.COMMUNITY)
    post_id = next(iter(ledger.get_community(community.actor_id).posts))
    item_id = ledger.list_catalogue_item(actor=community, name="毛巾", price_minutes=30)
    counter = Actor(ledger.open_counter(actor=community, name="柜台"), Role.COUNTER)
    resident = Actor(ledger.register_resident(actor=community, label="居民"), Role.RESIDENT)
    root = base64.b64decode(ledger.root_public_key())
    return Region(ledger, root, region, unit, community, counter, resident, post_id, item_id)


def add_member(region: Region, *, name: str = "曹顺仙", personal: dict[str, str] | None = None) -> Actor:
    return setup.add_member(region.ledger, unit=region.unit, community=region.community, name=name,
                            post_ids=[region.post_id], job_title="科员", profile={"sex": "女", "education": "本科"},
                            personal=personal if personal is not None else {"mobile": "15195888588"})


def serve(region: Region, member: Actor, minutes: int, *, rating: str = "优", certify: bool = True,
          service_date: date | None = None) -> UUID:
    """Record, rate and (by default) certify one session of `minutes`."""
    ledger = region.ledger
    day = service_date or ledger.today()
    end = (datetime(2000, 1, 1, 8) + timedelta(minutes=minutes)).strftime("%H:%M")
    return setup.serve_session(ledger, community=region.community, recorded_by=member, member_id=member.actor_id,
                               activity="敬老助残", content="陪老人聊天", place="社区活动室", service_date=day,
                               start_time="08:00", end_time=end, minutes=minutes, post_id=region.post_id,
                               rating=rating, certify=certify)


def redeem(region: Region, member: Actor, quantity: int = 1, redemption_id: UUID | None = None):
    return region.ledger.redeem(actor=region.counter, member_id=member.actor_id,
                                redemption_id=redemption_id or uuid4(), items=[(region.item_id, quantity)])


def at_day(day: date, hour: int = 12):
    return simulated(datetime(day.year, day.month, day.day, hour, tzinfo=timezone(timedelta(hours=8))))
