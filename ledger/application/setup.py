"""The region builder: the set-up steps every region starts with, written once.

The demo year (ledger/demo.py), the benchmark and load regions (scripts/, api/loadgen.py) and the
test worlds (tests/scenario.py, tests/api/world.py) all build a region the same way: initialise it,
register units and communities and pair them, enrol members with a report slip and register them,
and give them certified service. They call these functions, each a short run of Ledger commands in
a fixed order (so the ids and event order of a seeded world do not depend on who builds it), and
keep only what is theirs: names, clocks, batches and the rest of their story.

Pure Ledger calls: nothing here knows of projections/ or api/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application import Actor, Ledger
from ledger.domain.values import Role

REGION_CODE = "320102"
REGION_NAME = "南京市玄武区"
COUNTY = "玄武区"


def init_region(ledger: Ledger, *, code: str = REGION_CODE, name: str = REGION_NAME) -> Ed25519PrivateKey:
    """Initialise the (empty) ledger's region; the province root's private key is returned, never stored."""
    return ledger.init_region(code=code, name=name)


def ensure_region(ledger: Ledger, *, code: str = REGION_CODE, name: str = REGION_NAME) -> Ed25519PrivateKey | None:
    """Initialise the region unless the ledger already holds one: the root key when made here, else None."""
    if ledger.region_code is not None:
        return None
    return init_region(ledger, code=code, name=name)


def register_unit(ledger: Ledger, region: Actor, *, name: str, unit_type: str = "机关",
                  declared_members: int = 10) -> Actor:
    """The organisation department registers a unit (单位党组织)."""
    return Actor(ledger.register_unit(actor=region, name=name, unit_type=unit_type,
                                      declared_members=declared_members), Role.UNIT)


def register_community(ledger: Ledger, region: Actor, *, name: str, street: str, county: str = COUNTY) -> Actor:
    """The organisation department registers a community (社区党组织)."""
    return Actor(ledger.register_community(actor=region, name=name, county=county, street=street), Role.COMMUNITY)


def pair(ledger: Ledger, unit: Actor, community: Actor) -> None:
    """The unit pairs with the community (结对共建)."""
    ledger.pair_unit(actor=unit, unit_id=unit.actor_id, community_id=community.actor_id)


def paired_unit_and_community(ledger: Ledger, region: Actor, *, unit_name: str, community_name: str, street: str,
                              unit_type: str = "机关", declared_members: int = 10, county: str = COUNTY,
                              paired: bool = True) -> tuple[Actor, Actor]:
    """A unit and a community, registered in that order and (by default) paired."""
    unit = register_unit(ledger, region, name=unit_name, unit_type=unit_type, declared_members=declared_members)
    community = register_community(ledger, region, name=community_name, street=street, county=county)
    if paired:
        pair(ledger, unit, community)
    return unit, community


def first_post(ledger: Ledger, community: Actor) -> UUID:
    """The community's first post (every community starts with the standard posts)."""
    return next(iter(ledger.get_community(community.actor_id).posts))


def enrol_with_slip(ledger: Ledger, *, unit: Actor, community: Actor, name: str, party_status: str = "正式",
                    job_title: str = "", member_id: UUID | None = None) -> tuple[UUID, UUID]:
    """The unit enrols a member and issues the report slip (报到单) for the community: (member, slip)."""
    member_id = ledger.enrol_member(actor=unit, name=name, party_status=party_status, job_title=job_title,
                                    member_id=member_id)
    slip_id = ledger.issue_report_slip(actor=unit, member_id=member_id, community_id=community.actor_id)
    return member_id, slip_id


def add_member(ledger: Ledger, *, unit: Actor, community: Actor, name: str, post_ids: Sequence[UUID],
               party_status: str = "正式", job_title: str = "", profile: dict[str, str] | None = None,
               personal: dict[str, str] | None = None) -> Actor:
    """A member enrolled by the unit, with a slip, and registered (报到) at the community on `post_ids`."""
    member_id, slip_id = enrol_with_slip(ledger, unit=unit, community=community, name=name,
                                         party_status=party_status, job_title=job_title)
    ledger.register_member(actor=community, member_id=member_id, post_ids=post_ids, slip_id=slip_id,
                           profile=profile, personal=personal)
    return Actor(member_id, Role.MEMBER)


def serve_session(ledger: Ledger, *, community: Actor, member_id: UUID, minutes: int, service_date: date,
                  start_time: str, end_time: str, activity: str, content: str, place: str, rating: str,
                  recorded_by: Actor | None = None, rated_by: Actor | None = None,
                  post_id: UUID | None = None, order_id: UUID | None = None, organiser: str = "",
                  certify: bool = True) -> UUID:
    """A session recorded (by `recorded_by`, else the community), rated (by `rated_by`, else the
    community) and, unless `certify` is false, certified by the community."""
    session_id = ledger.record_session(actor=recorded_by or community, member_id=member_id, activity=activity,
                                       content=content, place=place, service_date=service_date,
                                       start_time=start_time, end_time=end_time, minutes=minutes,
                                       post_id=post_id, order_id=order_id, organiser=organiser)
    ledger.rate_session(actor=rated_by or community, session_id=session_id, rating=rating)
    if certify:
        ledger.certify_session(actor=community, session_id=session_id)
    return session_id


__all__ = ["COUNTY", "REGION_CODE", "REGION_NAME", "add_member", "enrol_with_slip",
           "ensure_region", "first_post", "init_region", "pair", "paired_unit_and_community", "register_community",
           "register_unit", "serve_session"]
