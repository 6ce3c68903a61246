"""Service: 三单制 orders, sessions, rating, certification, corrections, complaints; suggestions."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from ledger.domain.errors import (
    AlreadyExists,
    DeviceKeyRevoked,
    DeviceSignatureInvalid,
    InvalidInput,
    OfflineRecordInvalid,
    NotPermitted,
)
from ledger.domain.member import Member
from ledger.domain.orders import Order, Suggestion
from ledger.domain.organisations import Community
from ledger.domain.service_session import OFFLINE_DEVICE, ServiceSession
from ledger.domain.time_account import TimeAccount
from ledger.domain.limits import ACTIVITY_CHARS_MAX, NAME_CHARS_MAX
from ledger.domain.values import (
    Assurance,
    Rating,
    Role,
    check_text,
    local_date,
    stable_id,
)
from ledger.signing import keys as ed25519
from ledger.signing.offline import SESSION_FIELDS, UUID_TEXT, check_shape, offline_session_bytes
from ledger.application import ownership
from ledger.application.core import Actor, LedgerCore


# the refusal for a role acting on an order that is not its own (ownership.owns_order); a member's
# commands on an order check the member's own relation
_NOT_OWN_ORDER = {
    Role.COMMUNITY: "a community acts only on its own orders",
    Role.RESIDENT: "a resident acts only on their own orders",
}

_NOT_OWN_SESSION_RATING = {
    Role.COMMUNITY: "a community rates only its own sessions",
    Role.UNIT: "a unit rates only its own members' sessions",
    Role.RESIDENT: "only the resident who ordered the service rates it",
}


@dataclass(frozen=True)
class PaperSession:
    """One line of a member's paper record card (附件5 记录卡) that an office enters from its backlog
    (补录): the card's date, content, place, time and rating, and who signed it (认证签字)."""

    member_id: UUID
    service_date: date
    start_time: str
    end_time: str
    content: str
    place: str
    minutes: int
    rating: Rating
    signed_by: str
    row: int  # the line of the import file (1 = the header), kept in the event's source

    def session_id(self, community_id: UUID) -> UUID:
        """The same card line imported again is the same session: its id comes from its content (never
        from the row number or the file, so re-importing a corrected or re-ordered file changes nothing)."""
        return stable_id("paper-session", community_id, self.member_id, self.service_date.isoformat(),
                         self.start_time, self.end_time, self.content, self.place, self.minutes)


class ServiceUseCases(LedgerCore):
    """Service: 三单制 orders, sessions, rating, certification, corrections, complaints; suggestions."""

    def import_paper_session(self, *, actor: Actor, card: PaperSession, file_sha256: str) -> bool:
        """补录: a community enters a line of a member's paper record card as its own act — recorded,
        rated and certified by the office (its key signs every event), marked `Assurance.IMPORTED` with
        the import file's SHA-256 and row, and credited to the member's account. The same rules as a
        typed record apply. Returns False when the same line was imported before (nothing changes)."""
        self._require_role(actor, Role.COMMUNITY)
        member = self._member_of(actor, card.member_id)
        if member.require_registered() != actor.actor_id:
            raise NotPermitted("a community imports records only for members registered with it")
        member.require_active()
        session_id = card.session_id(actor.actor_id)
        if self._exists(session_id):
            return False
        source = {"file_sha256": check_text(file_sha256, "file_sha256", chars_max=64), "row": card.row,
                  "signed_by": check_text(card.signed_by, "signed_by", chars_max=NAME_CHARS_MAX, required=False)}
        session = ServiceSession.record(
            session_id=session_id, member_id=card.member_id, community_id=actor.actor_id,
            activity=card.content[:ACTIVITY_CHARS_MAX], content=card.content, place=card.place,
            service_date=card.service_date, start_time=card.start_time, end_time=card.end_time,
            minutes=card.minutes, post_id=None, order_id=None, organiser="", recipient="",
            recorded_on=self.today(), calendar=self.work_calendar(), assurance=Assurance.IMPORTED, source=source)
        session.rate(rating=Rating(card.rating), rater_role=Role.COMMUNITY)
        minutes = session.certify(certified_by=actor.actor_id, certified_on=self.today())
        account = self._get(TimeAccount.create_id(card.member_id), TimeAccount, "time account")
        if minutes > 0:
            account.credit(source_id=session.id, kind="session", minutes=minutes,
                           storage_cap_minutes=self._storage_cap())
        self._commit(actor, None, session, account)
        return True

    def place_order(self, *, actor: Actor, community_id: UUID, menu_item_id: UUID, note: str = "",
                    order_id: UUID | None = None, request_id: str | None = None,
                    resident_id: UUID | None = None) -> UUID:
        """居民点单: by the resident, or by the resident's community on their behalf (a resident who
        telephones or calls at the office); the community names the resident it registered."""
        self._require_role(actor, Role.RESIDENT, Role.COMMUNITY)
        if actor.role is Role.RESIDENT:
            if resident_id not in (None, actor.actor_id):
                raise NotPermitted("a resident orders only for themself")
            resident_id = actor.actor_id
        else:
            if community_id != actor.actor_id:
                raise NotPermitted("a community orders only from its own menu")
            if resident_id is None:
                raise InvalidInput("resident_id: the resident the order is for")
            if ownership.certifier_of(self, resident_id) != actor.actor_id or \
                    self.secrets.active_role(resident_id) != Role.RESIDENT.value:
                raise NotPermitted("a community orders only for residents it registered")
        community = self._get(community_id, Community)
        title = community.require_menu_item(menu_item_id)
        order_id = order_id or uuid4()
        if self._exists(order_id):
            raise AlreadyExists(f"order {order_id} already exists")
        order = Order.place(order_id=order_id, community_id=community_id, menu_item_id=menu_item_id,
                            menu_title=title, resident_id=resident_id, note=note, placed_on=self.today())
        self._commit(actor, request_id, order)
        return order.id

    def _order_of(self, actor: Actor, order_id: UUID) -> Order:
        order = self._get(order_id, Order)
        refusal = _NOT_OWN_ORDER.get(actor.role)
        if refusal is not None and not ownership.owns_order(actor, order):
            raise NotPermitted(refusal)
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

    def decline_order(self, *, actor: Actor, order_id: UUID, reason: str) -> None:
        """党员婉拒: the member declines an order dispatched to them, with a reason."""
        self._require_role(actor, Role.MEMBER)
        order = self._get(order_id, Order)
        order.decline(member_id=actor.actor_id, reason=reason)
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
                       request_id: str | None = None, recorded_on: date | None = None,
                       source: dict[str, Any] | None = None) -> UUID:
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
            recorded_on=recorded_on or self.today(), calendar=self.work_calendar(), source=source)
        self._commit(actor, request_id, session)
        return session.id

    def sync_offline_session(self, *, actor: Actor, record: Mapping[str, Any], signature: bytes) -> tuple[UUID, bool]:
        """A service record the member typed on their phone while offline, signed by the phone's own key:
        the record's shape, the key (the member's, unrevoked) and its signature over
        `offline_session_bytes(record)`, then every rule of `record_session`, as recorded on the day it
        was typed (lateness counts to then). The device's signature is kept in the member-signed event.
        Exactly once per session id: a retry gets (id, False)."""
        self._require_role(actor, Role.MEMBER)
        parsed = read_offline_session(record, self.region_code)
        if parsed["member"] != actor.actor_id:
            raise OfflineRecordInvalid("the offline record was made for another member")
        key = self.device_key(actor=actor, key_id=parsed["device_key_id"])
        if len(signature) != ed25519.SIGNATURE_BYTES or not ed25519.verify(
                ed25519.load_public(key.public_key), signature, offline_session_bytes(dict(record))):
            raise DeviceSignatureInvalid("the device's signature does not match the record")
        signature_text = ed25519.b64(signature)
        session_id = parsed["session_id"]
        if self._exists(session_id):  # a retry after a lost answer; anything else under this id is refused
            existing = self._get(session_id, ServiceSession, "session")
            kept = existing.source or {}
            if existing.member_id != actor.actor_id or kept.get("device_signature") != signature_text:
                raise OfflineRecordInvalid("another record was saved under this session id")
            return session_id, False
        if key.revoked_at is not None:
            raise DeviceKeyRevoked(f"device key {key.key_id} is revoked")
        self.check_device_moment(key, parsed["created_at"], "record")
        self.record_session(
            actor=actor, member_id=actor.actor_id, activity=parsed["activity"], content=parsed["content"],
            place=parsed["place"], service_date=parsed["service_date"], start_time=parsed["start_time"],
            end_time=parsed["end_time"], minutes=parsed["minutes"], post_id=parsed["post_id"],
            order_id=parsed["order_id"], organiser=parsed["organiser"], recipient=parsed["recipient"],
            session_id=session_id, recorded_on=local_date(parsed["created_at"]),
            source={"kind": OFFLINE_DEVICE, "device_key_id": key.key_id, "device_signature": signature_text,
                    "created_at": record["created_at"]})
        return session_id, True

    def rate_session(self, *, actor: Actor, session_id: UUID, rating: Rating | str) -> None:
        """评价 优/良/一般 by the recipient (resident) or the organiser (community or unit)."""
        self._require_role(actor, Role.RESIDENT, Role.COMMUNITY, Role.UNIT)
        session = self._get(session_id, ServiceSession, "session")
        unordered = actor.role is Role.RESIDENT and session.order_id is None  # any resident rates an unordered one
        if not unordered and not self._owns_session(actor, session):
            raise NotPermitted(_NOT_OWN_SESSION_RATING[actor.role])
        try:
            value = Rating(rating)
        except ValueError:
            raise InvalidInput("rating is 优, 良 or 一般") from None
        session.rate(rating=value, rater_role=actor.role)
        self._commit(actor, None, session)

    def _owns_session(self, actor: Actor, session: ServiceSession) -> bool:
        return ownership.owns_session(actor, session, member_of=lambda i: self._get(i, Member),
                                      order_of=lambda i: self._get(i, Order))

    def _community_session(self, actor: Actor, session_id: UUID) -> ServiceSession:
        self._require_role(actor, Role.COMMUNITY)
        session = self._get(session_id, ServiceSession, "session")
        if not self._owns_session(actor, session):
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
        if not ownership.owns_suggestion(actor, suggestion):
            raise NotPermitted("a community handles only its own members' suggestions")
        return suggestion

    def adopt_suggestion(self, *, actor: Actor, suggestion_id: UUID, note: str = "") -> None:
        suggestion = self._community_suggestion(actor, suggestion_id)
        suggestion.adopt(note=note)
        self._commit(actor, None, suggestion)

    def forward_suggestion(self, *, actor: Actor, suggestion_id: UUID, agency: str, reference: str = "") -> None:
        """交转有关机构办理 (`reference`: the agency's case number, when it gave one)."""
        suggestion = self._community_suggestion(actor, suggestion_id)
        suggestion.forward(agency=agency, reference=reference)
        self._commit(actor, None, suggestion)


def read_offline_session(record: Mapping[str, Any], region_code: str | None) -> dict[str, Any]:
    """An offline record's shape, checked before anything else reads it (ledger/signing/offline.py); the
    fields' content is the session's own rules' (`check_session_fields`), checked when it is recorded."""
    texts = ("activity", "content", "place", "organiser", "recipient", "start_time", "end_time", "service_date")
    try:
        created_at = check_shape(dict(record) if isinstance(record, Mapping) else record, SESSION_FIELDS,
                                 ("session_id", "member"), region_code, "created_at")
        for name in ("post_id", "order_id"):
            if not isinstance(record[name], str) or (record[name] and not UUID_TEXT.fullmatch(record[name])):
                raise ValueError(f"has a malformed {name}")
        if any(not isinstance(record[name], str) for name in texts) or type(record["minutes"]) is not int:
            raise ValueError("has a field of the wrong kind")
        service_date = date.fromisoformat(record["service_date"])
    except ValueError as error:
        raise OfflineRecordInvalid(f"the offline record {error}") from None
    return {**{name: record[name] for name in texts}, "service_date": service_date, "created_at": created_at,
            "session_id": UUID(record["session_id"]), "member": UUID(record["member"]),
            "minutes": record["minutes"], "device_key_id": record["device_key_id"],
            "post_id": UUID(record["post_id"]) if record["post_id"] else None,
            "order_id": UUID(record["order_id"]) if record["order_id"] else None}
