"""Who owns what: the one place that says which objects are an actor's own.

A member is their own, their community's (where they registered) and their unit's (which enrolled
them); an order is its resident's, its community's and its dispatched member's; a session is its
member's, its community's, the member's unit's and (through its order) the resident's; a community
manages its counters, residents and registered members, a unit its enrolled members, the region
everyone. The Ledger's commands refuse with these relations (`_member_of`, `_order_of`,
`_community_session` …) and the API's authorisation table (api/policy.py) asks `Ledger.owns` —
so the two cannot drift apart.

The predicates on aggregates are pure; `owns` and `has_authority` load what they need through the
Ledger's public reads (and raise NotFound for an object that does not exist).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from ledger.domain.errors import LedgerError, NotFound
from ledger.domain.member import Member, ReportSlip
from ledger.domain.orders import Order, Suggestion
from ledger.domain.organisations import Counter
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Role

if TYPE_CHECKING:
    from ledger.application import Actor, Ledger
    from ledger.application.core import LedgerCore

R, U, C, K, M, S = Role.REGION, Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT


class Kind(str, enum.Enum):
    """The kind of object an ownership question is about."""

    NONE = "none"  # no object: the action is on the actor itself or creates something new
    UNIT = "unit"
    COMMUNITY = "community"
    COUNTER = "counter"
    MEMBER = "member"
    SLIP = "report_slip"
    SESSION = "session"
    ORDER = "order"
    SUGGESTION = "suggestion"
    ACTIVITY = "activity"  # an activity at the venue: its community's; a member's of that community (签到)
    KEY = "key"
    ACTOR = "actor"  # an actor the caller has authority over (certifies its keys, manages its logins)
    LOGIN = "login"  # a login: its own actor's, or one of an actor the caller has authority over


# -------------------------------------------------------------------------------------------
# Pure relations on aggregates


def owns_member(actor: Actor, member: Member) -> bool:
    """The member themself, the community they registered with, the unit that enrolled them."""
    me = actor.actor_id
    return ((actor.role is M and member.id == me) or (actor.role is C and member.community_id == me)
            or (actor.role is U and member.unit_id == me))


def owns_order(actor: Actor, order: Order) -> bool:
    """The resident who placed it, its community, the member it was dispatched to."""
    me = actor.actor_id
    return ((actor.role is S and order.resident_id == me) or (actor.role is C and order.community_id == me)
            or (actor.role is M and order.member_id == me))


def owns_suggestion(actor: Actor, suggestion: Suggestion) -> bool:
    """The member who made it and their community."""
    me = actor.actor_id
    return (actor.role is M and suggestion.member_id == me) or (actor.role is C and suggestion.community_id == me)


def owns_slip(actor: Actor, slip: ReportSlip) -> bool:
    """The unit that issued it, the community it names, the member it is for."""
    me = actor.actor_id
    return ((actor.role is U and slip.unit_id == me) or (actor.role is C and slip.community_id == me)
            or (actor.role is M and slip.member_id == me))


def owns_counter(actor: Actor, counter: Counter) -> bool:
    """The counter itself and the community that opened it."""
    return ((actor.role is K and counter.id == actor.actor_id)
            or (actor.role is C and counter.community_id == actor.actor_id))


# -------------------------------------------------------------------------------------------
def owns_session(actor: Actor, session: ServiceSession, *, member_of: Callable[[UUID], Member],
                 order_of: Callable[[UUID], Order]) -> bool:
    """Its member, its community, the member's unit, and the resident whose order it served
    (`member_of` and `order_of` load the member and the order, only when the question needs them)."""
    me = actor.actor_id
    if actor.role is M:
        return session.member_id == me
    if actor.role is C:
        return session.community_id == me
    if actor.role is U:
        return member_of(session.member_id).unit_id == me
    if actor.role is S:
        return session.order_id is not None and order_of(session.order_id).resident_id == me
    return False


# -------------------------------------------------------------------------------------------
# Questions that load what they need


def owns(ledger: Ledger, actor: Actor, kind: Kind, object_id: UUID | str) -> bool:
    """Whether the object is the actor's own. Raises NotFound when the object does not exist."""
    role, me = actor.role, actor.actor_id
    if kind is Kind.KEY:  # the object is a key id (hex), not a UUID
        key = ledger.get_key(str(object_id))
        return has_authority(ledger, actor, key.owner_id, Role(key.role), key.certified_by)
    object_uuid = UUID(str(object_id))
    if kind is Kind.LOGIN:  # the object is the actor the login acts for (the router looks it up)
        return object_uuid == me or has_authority(ledger, actor, object_uuid)
    if kind is Kind.UNIT:
        ledger.get_unit(object_uuid)
        return role is U and object_uuid == me
    if kind is Kind.COMMUNITY:
        ledger.get_community(object_uuid)
        if role is C:
            return object_uuid == me
        if role is K:
            return ledger.get_counter(me).community_id == object_uuid
        return False
    if kind is Kind.COUNTER:
        return owns_counter(actor, ledger.get_counter(object_uuid))
    if kind is Kind.MEMBER:
        return owns_member(actor, ledger.get_member(object_uuid))
    if kind is Kind.SLIP:
        return owns_slip(actor, ledger.get_report_slip(object_uuid))
    if kind is Kind.SESSION:
        return owns_session(actor, ledger.get_session(object_uuid), member_of=ledger.get_member,
                            order_of=ledger.get_order)
    if kind is Kind.ORDER:
        return owns_order(actor, ledger.get_order(object_uuid))
    if kind is Kind.SUGGESTION:
        return owns_suggestion(actor, ledger.get_suggestion(object_uuid))
    if kind is Kind.ACTOR:
        return has_authority(ledger, actor, object_uuid)
    if kind is Kind.ACTIVITY:
        activity = ledger.get_activity(object_uuid)
        if role is C:
            return activity.community_id == me
        if role is M:
            return ledger.get_member(me).community_id == activity.community_id
        return False
    raise AssertionError(f"unknown kind {kind}")


def has_authority(ledger: Ledger, actor: Actor, target_id: UUID, target_role: Role | None = None,
                  certified_by: str | None = None) -> bool:
    """Whether `actor` certifies (and so manages) the target actor: the region every actor in it; a
    community its counters, its residents and its registered members; a unit its enrolled members.
    The target's role comes from its records (a member, a counter) or its key, so a target whose key
    was revoked is still recognised."""
    if actor.role is R:
        return True
    if actor.role not in (C, U) or target_id == actor.actor_id:
        return False
    role = target_role or _role_of(ledger, target_id)
    if role is M:
        return owns_member(actor, ledger.get_member(target_id))
    if actor.role is not C:
        return False
    if role is K:
        return owns_counter(actor, ledger.get_counter(target_id))
    if role is S:
        if certified_by is not None:
            return ledger.get_key(certified_by).owner_id == actor.actor_id
        return certifier_of(ledger, target_id) == actor.actor_id
    return False


def _role_of(ledger: Ledger, actor_id: UUID) -> Role:
    aggregate: object | None
    try:
        aggregate = ledger.repository.get(actor_id)
    except AggregateNotFoundError:
        aggregate = None
    if isinstance(aggregate, Member):
        return M
    if isinstance(aggregate, Counter):
        return K
    return ledger.actor_for(actor_id).role


def certifier_of(ledger: LedgerCore, actor_id: UUID) -> UUID | None:
    """The actor whose key certified this actor's current key (a resident's community)."""
    stored = ledger.secrets.active_key(actor_id)
    if stored is None:
        raise NotFound(f"no actor {actor_id} in this region")
    try:
        key = ledger.get_key(stored.key_id)
        return ledger.get_key(key.certified_by).owner_id
    except LedgerError:
        return None


__all__ = ["Kind", "certifier_of", "has_authority", "owns", "owns_counter", "owns_member", "owns_order",
           "owns_session", "owns_slip", "owns_suggestion"]
