"""Check-in at the venue (签到码/时长码, issue #15 part 1): activities, rotating check-in codes, member
check-in and check-out by scan, the organiser's scan of a member's code, group entry (团体录入), and
sessions drafted from presence with `Assurance.CHECKED_IN`. Certification works as for any session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from ledger.application.core import Actor, LedgerCore
from ledger.application.ownership import Kind
from ledger.domain import activities as rules
from ledger.domain.activities import Activity
from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    AlreadyExists,
    CheckinCodeWrongActivity,
    DeviceKeyRevoked,
    DeviceSignatureInvalid,
    OfflineRecordInvalid,
    InvalidInput,
    MemberNotRegisteredHere,
    NotAnOrganiser,
    NotFound,
    NotPermitted,
)
from ledger.domain.member import Member
from ledger.domain.organisations import Community
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Assurance, Role, stable_id
from ledger.signing import keys as ed25519
from ledger.signing.offline import SCAN_FIELDS, check_shape, offline_scan_bytes
from ledger.verification import checkin_code


@dataclass(frozen=True)
class ScanResult:
    """What a scan did: checked in, or checked out with its outcome (`drafted` with the session, or
    `below_minimum_share` with the presence and the share it missed)."""

    activity_id: UUID
    member_id: UUID
    action: str  # "checked_in" | "checked_out"
    presence_minutes: int = 0
    outcome: str | None = None
    session_id: UUID | None = None
    share_min_percent: int = 0


@dataclass(frozen=True)
class OfflineScanResult:
    """What the ledger answers a venue device syncing one offline scan (the same for a retry, `applied`
    False then): the scan's effect, as the activity now records it for the member."""

    scan_id: UUID
    result: ScanResult
    applied: bool


ACTIVITIES_LISTED_MAX = 50  # a community's page lists its latest activities
_PAGE = 1000
_OPENED_TOPIC = "ledger.domain.activities:Activity.Opened"


def session_id_for(activity_id: UUID, member_id: UUID) -> UUID:
    """One drafted session per member and activity."""
    return stable_id("checkin-session", activity_id, member_id)


class ActivityUseCases(LedgerCore):
    """Activities and check-in/check-out."""

    # -- 活动组织者: the community names members to run its activities -------------------------------
    def name_organiser(self, *, actor: Actor, member_id: UUID) -> None:
        """The community names one of its registered, active members organiser (活动组织者)."""
        community = self._own_community(actor)
        member = self._get(member_id, Member)
        if member.community_id != community.id:
            raise MemberNotRegisteredHere("该党员未在本社区报到 / this member is not registered with this community")
        member.require_active()
        community.name_organiser(member_id=member_id, named_on=self.today())
        self._commit(actor, None, community)

    def withdraw_organiser(self, *, actor: Actor, member_id: UUID, reason: str = "") -> None:
        community = self._own_community(actor)
        community.withdraw_organiser(member_id=member_id, reason=reason)
        self._commit(actor, None, community)

    def organisers_of(self, community_id: UUID) -> list[tuple[UUID, str]]:
        """The community's current organisers (member id, display name), in the order named."""
        community = self._get(community_id, Community)
        return [(member_id, self._get(member_id, Member).name) for member_id in community.organisers
                if community.is_organiser(member_id)]

    def organised_by(self, member_id: UUID) -> UUID | None:
        """The community whose activities the member runs (named and not withdrawn), if any."""
        try:
            member = self._get(member_id, Member)
        except NotFound:
            return None
        if member.community_id is None:
            return None
        community = self._get(member.community_id, Community)
        return community.id if community.is_organiser(member_id) else None

    def _running(self, actor: Actor, community_id: UUID) -> Community:
        """The community whose activity `actor` runs: the office itself, or a member it named organiser
        (registered with it, active, not withdrawn). Anyone else is refused."""
        self._require_role(actor, Role.COMMUNITY, Role.MEMBER)
        if actor.role is Role.COMMUNITY:
            if actor.actor_id != community_id:
                raise NotPermitted("a community runs only its own activities")
            return self._get(community_id, Community)
        community = self._get(community_id, Community)
        member = self._get(actor.actor_id, Member)
        if member.community_id != community_id:
            raise NotAnOrganiser("本社区未指定该党员为活动组织者 / the community has not named this member an "
                                 "organiser")
        community.require_organiser(member.id)
        member.require_active()
        return community

    def require_runs(self, actor: Actor, community_id: UUID) -> None:
        """Refuse unless `actor` runs the community's activities (its office, or an organiser it named)."""
        self._running(actor, community_id)

    def community_of(self, kind: Kind, object_id: UUID | str) -> UUID:
        """The community a community or an activity belongs to (NotFound when it does not exist)."""
        if kind is Kind.ACTIVITY:
            return self.get_activity(UUID(str(object_id))).community_id
        assert kind is Kind.COMMUNITY, kind
        return self._get(UUID(str(object_id)), Community).id

    # -- the activity --------------------------------------------------------------------------------
    def open_activity(self, *, actor: Actor, title: str, place: str, service_date: date, start_time: str,
                      end_time: str, expected_members: int, menu_item_id: UUID | None = None,
                      post_id: UUID | None = None, activity_id: UUID | None = None,
                      community_id: UUID | None = None) -> UUID:
        """Open an activity: by the community office, or by an organiser it named (`community_id`: the
        community the activity is for; the office's own when omitted)."""
        community = self._running(actor, community_id or actor.actor_id)
        if post_id is not None:
            community.require_post(post_id)
        if menu_item_id is not None:
            community.require_menu_item(menu_item_id)
        activity_id = activity_id or uuid4()
        if self._exists(activity_id):
            raise AlreadyExists(f"activity {activity_id} already exists")
        activity = Activity.open(activity_id=activity_id, community_id=community.id, title=title, place=place,
                                 service_date=service_date, start_time=start_time, end_time=end_time,
                                 expected_members=expected_members, menu_item_id=menu_item_id, post_id=post_id,
                                 opened_on=self.today())
        self._commit(actor, None, activity)
        return activity.id

    def get_activity(self, activity_id: UUID) -> Activity:
        return self._get(activity_id, Activity, "activity")

    def _own_activity(self, actor: Actor, activity_id: UUID) -> Activity:
        """The activity, if `actor` runs it (its community's office or an organiser it named)."""
        self._require_role(actor, Role.COMMUNITY, Role.MEMBER)
        activity = self.get_activity(activity_id)
        self._running(actor, activity.community_id)
        return activity

    def close_activity(self, *, actor: Actor, activity_id: UUID) -> list[ScanResult]:
        """Close the activity: each member still checked in is closed at the activity's end (or now, if
        that is earlier), flagged as a forgotten check-out, and their session drafted if the presence
        reaches the region's share. Returns what happened to each of them."""
        activity = self._own_activity(actor, activity_id)
        activity.require_open()
        now = CLOCK.get()()
        share = self.get_region().presence_share_min_percent
        results: list[ScanResult] = []
        aggregates: list[Aggregate] = [activity]
        for member_id in activity.checked_in_now():
            at = activity.close_at(now)
            result, session = self._check_out(activity, member_id, at, rules.AT_CLOSE, share)
            results.append(result)
            if session is not None:
                aggregates.append(session)
        activity.close(at=now)
        self._commit(actor, None, *aggregates)
        return results

    # -- the rotating code ---------------------------------------------------------------------------
    def checkin_code(self, *, actor: Actor, activity_id: UUID, moment: datetime | None = None) -> str:
        """The code to show now (signed with the community's key, also when an organiser shows it: the
        community delegated the activity, and the server holds its key; valid for this window and the next)."""
        activity = self._own_activity(actor, activity_id)
        activity.require_open()
        assert self.region_code is not None
        key_id, sign = self.signer_of(Actor(activity.community_id, Role.COMMUNITY))
        return checkin_code.issue(region=self.region_code, activity_id=activity.id,
                                  moment=moment or CLOCK.get()(), key_id=key_id, sign=sign)

    def _community_key(self, key_id: str) -> tuple[bytes, UUID] | None:
        try:
            key = self.get_key(key_id)
        except NotFound:
            return None
        if key.role != Role.COMMUNITY.value or not key.is_valid_at(CLOCK.get()()):
            return None
        return ed25519.unb64(key.public_key), key.owner_id

    def verify_checkin_code(self, *, activity_id: UUID | None, code: str) -> Activity:
        """The activity a scanned code is for, if the code is genuine and current; else the named refusal
        (checkin_code.verify). With `activity_id` None the code names the activity."""
        assert self.region_code is not None
        parsed = checkin_code.parse(code)
        try:
            activity = self.get_activity(activity_id or parsed.activity_id)
        except NotFound:
            raise CheckinCodeWrongActivity("签到码对应的活动不存在 / the code's activity does not "
                                                        "exist here") from None
        checkin_code.verify(code, region=self.region_code, activity_id=activity.id,
                            community_id=activity.community_id, now=CLOCK.get()(), key_of=self._community_key)
        return activity

    # -- scans -------------------------------------------------------------------------------------
    def _attendee(self, activity: Activity, member_id: UUID) -> Member:
        try:
            member = self._get(member_id, Member)
        except NotFound:
            raise MemberNotRegisteredHere("该党员未在举办活动的社区报到 / this member is not registered with the "
                                          "activity's community") from None
        if member.community_id != activity.community_id:
            raise MemberNotRegisteredHere("该党员未在举办活动的社区报到 / this member is not registered with the "
                                          "activity's community")
        member.require_active()
        return member

    def scan_checkin_code(self, *, actor: Actor, code: str, activity_id: UUID | None = None,
                          action: str = "auto") -> ScanResult:
        """A member scans the code at the venue: the first scan checks in, the next checks out (`action`
        "in" or "out" insists on one). Each scan is an event signed with the member's key."""
        self._require_role(actor, Role.MEMBER)
        if action not in ("auto", "in", "out"):
            raise InvalidInput("action is in, out or auto")
        activity = self.verify_checkin_code(activity_id=activity_id, code=code)
        self._attendee(activity, actor.actor_id)
        activity.require_open()
        entry = activity.attendance.get(actor.actor_id)
        checking_out = action == "out" or (action == "auto" and entry is not None and entry["checked_out_at"] is None)
        return self._scan(actor, activity, actor.actor_id, rules.BY_CODE, checking_out)

    def scan_member_code(self, *, actor: Actor, activity_id: UUID, member_id: UUID, action: str = "in") -> ScanResult:
        """The organiser scans the member's own code (the member's id, as at the counter) to check them
        in or out: for members without a phone at hand. Signed by whoever scans (the office or its organiser)."""
        activity = self._own_activity(actor, activity_id)
        if action not in ("in", "out"):
            raise InvalidInput("action is in or out")
        self._attendee(activity, member_id)
        return self._scan(actor, activity, member_id, rules.BY_MEMBER_CODE, action == "out")

    def record_group(self, *, actor: Actor, activity_id: UUID, member_ids: Sequence[UUID],
                     action: str = "in") -> list[ScanResult]:
        """团体录入: check several members in (or out) in one step; each member's record is its own event,
        all saved in one transaction (one refusal refuses the group, nothing is written)."""
        activity = self._own_activity(actor, activity_id)
        if action not in ("in", "out"):
            raise InvalidInput("action is in or out")
        unique = list(dict.fromkeys(member_ids))
        if not 1 <= len(unique) <= rules.GROUP_ENTRY_MEMBERS_MAX:
            raise InvalidInput(f"团体录入一次 1–{rules.GROUP_ENTRY_MEMBERS_MAX} 人 / a group entry names 1 to "
                               f"{rules.GROUP_ENTRY_MEMBERS_MAX} members")
        for member_id in unique:
            self._attendee(activity, member_id)
        now = CLOCK.get()()
        share = self.get_region().presence_share_min_percent
        results: list[ScanResult] = []
        aggregates: list[Aggregate] = [activity]
        for member_id in unique:
            if action == "in":
                activity.check_in(member_id=member_id, at=now, method=rules.BY_GROUP)
                results.append(ScanResult(activity.id, member_id, "checked_in"))
            else:
                result, session = self._check_out(activity, member_id, now, rules.BY_GROUP, share)
                results.append(result)
                if session is not None:
                    aggregates.append(session)
        self._commit(actor, None, *aggregates)
        return results

    def _scan(self, actor: Actor, activity: Activity, member_id: UUID, method: str, checking_out: bool) -> ScanResult:
        now = CLOCK.get()()
        if not checking_out:
            activity.check_in(member_id=member_id, at=now, method=method)
            self._commit(actor, None, activity)
            return ScanResult(activity.id, member_id, "checked_in")
        result, session = self._check_out(activity, member_id, now, method,
                                          self.get_region().presence_share_min_percent)
        self._commit(actor, None, activity, *([session] if session is not None else []))
        return result

    def _check_out(self, activity: Activity, member_id: UUID, at: datetime, method: str,
                   share: int) -> tuple[ScanResult, ServiceSession | None]:
        """Check out (or close a forgotten check-out at `at`) and draft the session if the presence reaches
        the share. The session is recorded, unrated: the organiser rates it and the office certifies it."""
        span, outcome = activity.assess(member_id=member_id, out_at=at, share_min_percent=share)
        session: ServiceSession | None = None
        if outcome == rules.DRAFTED:
            assert span is not None
            entry = activity.attendance[member_id]
            new_id = session_id_for(activity.id, member_id)
            if self._exists(new_id):
                raise AlreadyExists(f"session {new_id} already exists")
            source = {"activity_id": str(activity.id), "checked_in_at": entry["checked_in_at"],
                      "checked_out_at": at.isoformat(), "in_by": entry["in_by"], "out_by": method,
                      "check_out_missed": method == rules.AT_CLOSE, "presence_share_min_percent": share}
            community = self._get(activity.community_id, Community)
            session = ServiceSession.record(
                session_id=new_id, member_id=member_id, community_id=activity.community_id,
                activity=activity.title, content=activity.title, place=activity.place,
                service_date=activity.service_date, start_time=span[0], end_time=span[1], minutes=span[2],
                post_id=activity.post_id, order_id=None, organiser=community.name, recipient="",
                recorded_on=self.today(), calendar=self.work_calendar(), assurance=Assurance.CHECKED_IN,
                source=source)
        session_id = session.id if session is not None else None
        if method == rules.AT_CLOSE:
            activity.miss_check_out(member_id=member_id, at=at, share_min_percent=share, session_id=session_id)
        else:
            activity.check_out(member_id=member_id, at=at, method=method, share_min_percent=share,
                               session_id=session_id)
        return ScanResult(activity.id, member_id, "checked_out", span[2] if span else 0, outcome, session_id,
                          share), session

    # -- the region's setting ------------------------------------------------------------------------
    def set_presence_share(self, *, actor: Actor, percent: int, reason: str) -> None:
        """The minimum presence share (percent of the planned time) for drafting a checked-in session."""
        self._require_role(actor, Role.REGION)
        region = self.get_region()
        region.set_presence_share(percent=percent, reason=reason)
        self._commit(actor, None, region)

    def activities_of(self, community_id: UUID, *, limit: int = ACTIVITIES_LISTED_MAX) -> list[Activity]:
        """The community's activities, newest first (at most `limit`), found by the stored topic of
        `Activity.Opened` (pages of the log, not a read model: issue #15 left a projection for later)."""
        ids: list[UUID] = []
        start = 1
        while True:
            page = self.recorder.select_notifications(start=start, limit=_PAGE, topics=[_OPENED_TOPIC])
            ids.extend(UUID(str(notification.originator_id)) for notification in page)
            if len(page) < _PAGE:
                break
            start = page[-1].id + 1
        found: list[Activity] = []
        for activity_id in reversed(ids):
            activity = self.get_activity(activity_id)
            if activity.community_id == community_id:
                found.append(activity)
                if len(found) >= limit:
                    break
        return found

    # -- scans the organiser's venue device took offline (issue #15 part 2) ----------------------------
    def sync_offline_scan(self, *, actor: Actor, activity_id: UUID, record: Mapping[str, Any],
                          signature: bytes) -> OfflineScanResult:
        """Apply a scan of a member's code that the community's venue device took and signed while offline,
        re-checking every rule: the record's shape, the device key (a registered key of this community,
        unrevoked) and its signature over `offline_scan_bytes(record)`, the activity (this community's,
        still open), the member (registered with it), and check-in/check-out as if scanned then (presence
        counts from the scan's time). Exactly once per scan id: a retry gets the original answer."""
        self._require_role(actor, Role.COMMUNITY)
        parsed = _read_scan(record, self.region_code)
        if parsed.community_id != actor.actor_id or parsed.activity_id != activity_id:
            raise OfflineRecordInvalid("the offline scan was made for another community or activity")
        key = self.device_key(actor=actor, key_id=parsed.device_key_id)
        if len(signature) != ed25519.SIGNATURE_BYTES or not ed25519.verify(
                ed25519.load_public(key.public_key), signature, offline_scan_bytes(dict(record))):
            raise DeviceSignatureInvalid("the device's signature does not match the scan")
        activity = self._own_activity(actor, parsed.activity_id)
        synced = activity.synced_scan(parsed.scan_id)
        if synced is not None:  # a retry after a lost answer: what that scan did, whatever happened since
            if synced["member_id"] != parsed.member_id or synced["action"] != parsed.action:
                raise OfflineRecordInvalid("another scan was synced under this scan id")
            return OfflineScanResult(parsed.scan_id, self._scan_outcome(activity, parsed.member_id,
                                                                        parsed.action), applied=False)
        if key.revoked_at is not None:
            raise DeviceKeyRevoked(f"device key {key.key_id} is revoked")
        self.check_device_moment(key, parsed.scanned_at, "scan")
        self._attendee(activity, parsed.member_id)
        activity.sync_scan(scan_id=parsed.scan_id, member_id=parsed.member_id, action=parsed.action,
                           at=parsed.scanned_at, device_key_id=key.key_id, device_signature=ed25519.b64(signature))
        session: ServiceSession | None = None
        if parsed.action == "in":
            activity.check_in(member_id=parsed.member_id, at=parsed.scanned_at, method=rules.BY_DEVICE_OFFLINE)
            result = ScanResult(activity.id, parsed.member_id, "checked_in")
        else:
            result, session = self._check_out(activity, parsed.member_id, parsed.scanned_at, rules.BY_DEVICE_OFFLINE,
                                              self.get_region().presence_share_min_percent)
        self._commit(actor, None, activity, *([session] if session is not None else []))
        return OfflineScanResult(parsed.scan_id, result, applied=True)

    @staticmethod
    def _scan_outcome(activity: Activity, member_id: UUID, action: str) -> ScanResult:
        entry = activity.attendance.get(member_id, {})
        if action == "in":
            return ScanResult(activity.id, member_id, "checked_in")
        return ScanResult(activity.id, member_id, "checked_out", int(entry.get("presence_minutes") or 0),
                          entry.get("outcome"), entry.get("session_id"))


@dataclass(frozen=True)
class _OfflineScan:
    scan_id: UUID
    community_id: UUID
    activity_id: UUID
    member_id: UUID
    device_key_id: str
    action: str
    scanned_at: datetime


def _read_scan(record: Mapping[str, Any], region_code: str | None) -> _OfflineScan:
    """The offline scan's shape, checked before anything else reads it (ledger/signing/offline.py)."""
    try:
        scanned_at = check_shape(dict(record) if isinstance(record, Mapping) else record, SCAN_FIELDS,
                                 ("scan_id", "community", "activity", "member"), region_code, "scanned_at")
        if record["action"] not in ("in", "out"):
            raise ValueError("has an action other than in or out")
    except ValueError as error:
        raise OfflineRecordInvalid(f"the offline scan {error}") from None
    return _OfflineScan(UUID(record["scan_id"]), UUID(record["community"]), UUID(record["activity"]),
                        UUID(record["member"]), record["device_key_id"], record["action"], scanned_at)
