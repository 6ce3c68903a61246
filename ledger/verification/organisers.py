"""Which member may sign which activity event (活动组织者, issue #15): a check across records.

`SIGNER_ROLES` lets a member sign an activity's events, because a community may name members
organisers (`Community.OrganiserNamed`) who run its activities with their own keys. The role alone
does not say *which* member: this check follows the store in log order and names every
member-signed event that the member had no business signing —

* `Activity.Opened`, `Activity.CheckOutMissed`, `Activity.Closed`: only an organiser the activity's
  community had named (and not withdrawn) at that point of the log;
* `Activity.CheckedIn` / `Activity.CheckedOut`: the member's own scan of the code (method `code`,
  the member checking themself in or out), or else an organiser of the activity's community;
* `ServiceSession.Recorded`: the member's own session, or else (a session drafted when an organiser
  checks a member out) an organiser of the session's community.

It reads statements only; their signatures, keys and chains are `verify_store`'s other checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.domain.values import Role
from ledger.signing.statement import EnvelopeError, parse_signed_bytes, unpack
from ledger.storage.raw_events import RawEvent

_ORGANISER_TOPICS = {
    "ledger.domain.organisations:Community.OrganiserNamed": True,
    "ledger.domain.organisations:Community.OrganiserWithdrawn": False,
}
_ACTIVITY_PREFIX = "ledger.domain.activities:Activity."
_SESSION_RECORDED = "ledger.domain.service_session:ServiceSession.Recorded"
_OWN_SCAN = "code"  # ledger.domain.activities.BY_CODE: the member's own scan of the shown code


@dataclass
class OrganiserCheck:
    """Fed every stored row in log order (`watch`); `problems` are (row, event type, reason)."""

    organisers: dict[str, set[str]] = field(default_factory=dict)  # community id -> member ids named now
    community_of: dict[str, str] = field(default_factory=dict)  # activity id -> its community id
    problems: list[tuple[RawEvent, str, str]] = field(default_factory=list)

    def watch(self, rows: Iterable[RawEvent]) -> Iterator[RawEvent]:
        for raw in rows:
            topic = raw.topic
            if topic in _ORGANISER_TOPICS or topic.startswith(_ACTIVITY_PREFIX) or topic == _SESSION_RECORDED:
                self._see(raw)
            yield raw

    def _see(self, raw: RawEvent) -> None:
        try:
            statement = parse_signed_bytes(unpack(raw.state)[1], strict=False)
            payload: dict[str, Any] = statement.payload
            if raw.topic in _ORGANISER_TOPICS:
                named = self.organisers.setdefault(statement.aggregate, set())
                (named.add if _ORGANISER_TOPICS[raw.topic] else named.discard)(str(payload["member_id"]))
                return
            if statement.type == "Activity.Opened":
                self.community_of[statement.aggregate] = str(payload["community_id"])
            if statement.role != Role.MEMBER.value:
                return
            reason = self._refusal(statement.type, statement.aggregate, statement.actor, payload)
        except (EnvelopeError, KeyError, TypeError, ValueError, AttributeError):
            return  # a malformed row is named by verify_store's own checks
        if reason:
            self.problems.append((raw, statement.type, reason))

    def _organises(self, member_id: str, community_id: str | None) -> bool:
        return community_id is not None and member_id in self.organisers.get(community_id, set())

    def _refusal(self, event_type: str, aggregate: str, actor: str, payload: dict[str, Any]) -> str | None:
        if event_type == "ServiceSession.Recorded":
            if str(payload["member_id"]) == actor or self._organises(actor, str(payload["community_id"])):
                return None
            return "a member signed another member's session without being an organiser of its community"
        community_id = self.community_of.get(aggregate)
        if event_type in ("Activity.CheckedIn", "Activity.CheckedOut") and str(payload["member_id"]) == actor \
                and payload.get("method") == _OWN_SCAN:
            return None
        if self._organises(actor, community_id):
            return None
        return (f"member {actor} signed {event_type} but was not an organiser named by the activity's community "
                "at that point of the log")
