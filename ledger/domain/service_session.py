"""Service sessions (服务记录, 附件5): recorded, rated 优/良/一般, certified or rejected, corrected, complained of."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.calendar import WorkCalendar, working_days_between
from ledger.domain.errors import InvalidInput, SessionAlreadyDecided, SessionNotRated, WrongState
from ledger.domain.limits import (
    ACTIVITY_CHARS_MAX,
    LATE_AFTER_WORKING_DAYS,
    NAME_CHARS_MAX,
    PLACE_CHARS_MAX,
    REASON_CHARS_MAX,
    TEXT_CHARS_MAX,
)
from ledger.domain.values import Assurance, Rating, Role, check_minutes, check_service_date, check_text

_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits; used with fullmatch
# The fields a record's rules check (`check_session_fields`); all but the organiser and the recipient
# can be corrected.
SESSION_FIELDS = ("activity", "content", "place", "service_date", "start_time", "end_time", "minutes",
                  "organiser", "recipient")
CORRECTABLE_FIELDS = frozenset({"activity", "content", "place", "service_date", "start_time", "end_time",
                                "minutes"})
RATER_ROLES = frozenset({Role.RESIDENT, Role.COMMUNITY, Role.UNIT})  # recipient, organiser


def _clock_minutes(value: str, field: str) -> int:
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
        raise InvalidInput(f"{field} must be a time of day HH:MM", field=field, reason="time_of_day")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def check_session_fields(*, activity: str, content: str, place: str, service_date: date, start_time: str,
                         end_time: str, minutes: int, organiser: str, recipient: str,
                         recorded_on: date) -> dict[str, Any]:
    """The rules every session record obeys, new or corrected: times of day with end after start,
    minutes within the limits and not beyond end − start (travel time is not service time), a date
    from the scheme's start to the recording date, and the text limits. Returns the cleaned fields."""
    span = _clock_minutes(end_time, "end_time") - _clock_minutes(start_time, "start_time")
    if span <= 0:
        raise InvalidInput("结束时间须晚于开始时间 / end_time must be after start_time on the service date",
                           field="end_time", reason="end_before_start")
    check_minutes(minutes)
    if minutes > span:
        raise InvalidInput(f"服务分钟数 {minutes} 超过起止时间之差 {span}（路途时间不计入）/ minutes ({minutes}) "
                           f"exceed the time between start and end ({span}); travel time is not service time",
                           field="minutes", reason="minutes_exceed_span",
                           params={"minutes": minutes, "span_minutes": span})
    check_service_date(service_date, recorded_on)
    if service_date > recorded_on:
        raise InvalidInput("服务日期晚于记录日期 / service_date: a session cannot be recorded before it happens",
                           field="service_date", reason="date_in_future")
    return dict(activity=check_text(activity, "activity", chars_max=ACTIVITY_CHARS_MAX),
                content=check_text(content, "content", chars_max=TEXT_CHARS_MAX),
                place=check_text(place, "place", chars_max=PLACE_CHARS_MAX),
                service_date=service_date, start_time=start_time, end_time=end_time, minutes=minutes,
                organiser=check_text(organiser, "organiser", chars_max=NAME_CHARS_MAX, required=False),
                recipient=check_text(recipient, "recipient", chars_max=NAME_CHARS_MAX, required=False))


OFFLINE_DEVICE = "offline_device"  # a record's source: typed offline on the member's device, signed by its key


class ServiceSession(LedgerAggregate):
    RECORDED, CERTIFIED, REJECTED = "recorded", "certified", "rejected"

    @classmethod
    def record(cls, *, session_id: UUID, member_id: UUID, community_id: UUID, activity: str, content: str,
               place: str, service_date: date, start_time: str, end_time: str, minutes: int,
               post_id: UUID | None, order_id: UUID | None, organiser: str, recipient: str,
               recorded_on: date, calendar: WorkCalendar | None = None,
               assurance: Assurance = Assurance.SELF_REPORTED,
               source: dict[str, Any] | None = None) -> "ServiceSession":
        """A new record. A paper record entered by an office (`Assurance.IMPORTED`, 补录) names its
        source (the import file's SHA-256, its row, who signed the card) and is never flagged late: the
        lateness rule is about members recording promptly, and the office's import is its own act."""
        fields = check_session_fields(
            activity=activity, content=content, place=place, service_date=service_date, start_time=start_time,
            end_time=end_time, minutes=minutes, organiser=organiser, recipient=recipient, recorded_on=recorded_on)
        assurance = Assurance(assurance)
        typed_on_a_device = (source is not None and source.get("kind") == OFFLINE_DEVICE
                             and assurance is Assurance.SELF_REPORTED)  # the member's phone, offline: its signature
        if not typed_on_a_device and (source is not None) != (assurance is not Assurance.SELF_REPORTED):
            raise InvalidInput("an imported or checked-in record names its source (file and row; activity and "
                               "scans), and a self-reported one does not (unless typed offline on the member's "
                               "device: its key and signature)")
        elapsed = working_days_between(service_date, recorded_on, calendar)  # the region's calendar in force
        late = elapsed > LATE_AFTER_WORKING_DAYS and assurance is not Assurance.IMPORTED
        return cls(id=session_id, member_id=member_id, community_id=community_id, **fields,
                   post_id=post_id, order_id=order_id, recorded_on=recorded_on, working_days_elapsed=elapsed,
                   late=late, assurance=assurance.value, source=source)

    class Recorded(LedgerAggregate.Created):
        """服务记录. Version 2 adds `assurance` (how the hours were recorded) and `source` (an imported
        record's file SHA-256, row and signer; None otherwise). Version 1 statements, signed before
        imports and check-ins existed, were all typed afterwards: self-reported, no source."""

        class_version = 2
        member_id: UUID
        community_id: UUID
        activity: str
        content: str
        place: str
        service_date: date
        start_time: str
        end_time: str
        minutes: int
        post_id: UUID | None
        order_id: UUID | None
        organiser: str
        recipient: str
        recorded_on: date
        working_days_elapsed: int
        late: bool
        assurance: str
        source: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["assurance"] = Assurance.SELF_REPORTED.value
            state["source"] = None

    @event(Recorded)
    def __init__(self, *, id: UUID, member_id: UUID, community_id: UUID, activity: str, content: str,
                 place: str, service_date: date, start_time: str, end_time: str, minutes: int,
                 post_id: UUID | None, order_id: UUID | None, organiser: str, recipient: str,
                 recorded_on: date, working_days_elapsed: int, late: bool, assurance: str,
                 source: dict[str, Any] | None) -> None:
        self.member_id = member_id
        self.community_id = community_id
        self.activity = activity
        self.content = content
        self.place = place
        self.service_date = service_date
        self.start_time = start_time
        self.end_time = end_time
        self.minutes = minutes
        self.post_id = post_id
        self.order_id = order_id
        self.organiser = organiser
        self.recipient = recipient
        self.recorded_on = recorded_on
        self.late = late
        self.assurance = Assurance(assurance)
        self.source = source
        self.status = self.RECORDED
        self.rating: Rating | None = None
        self.rated_by_role: str | None = None
        self.certified_minutes = 0  # minutes currently credited to the member's account
        self.certified_by: UUID | None = None
        self.certified_on: date | None = None
        self.rejection_reason: str | None = None
        self.complaint_upheld = False
        self.corrections = 0

    def rate(self, *, rating: Rating, rater_role: Role) -> None:
        if self.status == self.REJECTED:
            raise SessionAlreadyDecided("a rejected session cannot be rated")
        if Role(rater_role) not in RATER_ROLES:
            raise InvalidInput("a session is rated by its recipient or organiser")
        self._rated(rating=Rating(rating), rater_role=Role(rater_role).value)

    @event("Rated")
    def _rated(self, rating: Rating, rater_role: str) -> None:
        self.rating = rating
        self.rated_by_role = rater_role

    def certify(self, *, certified_by: UUID, certified_on: date) -> int:
        """认证: returns the minutes to deposit."""
        if self.complaint_upheld:
            raise SessionAlreadyDecided("a complaint against this session was upheld; it cannot be certified")
        if self.status != self.RECORDED:
            raise SessionAlreadyDecided(f"session {self.id} is already {self.status}")
        if self.rating is None:
            raise SessionNotRated("the recipient or organiser must rate the session (优/良/一般) first")
        self._certified(minutes=self.minutes, certified_by=certified_by, certified_on=certified_on)
        return self.minutes

    @event("Certified")
    def _certified(self, minutes: int, certified_by: UUID, certified_on: date) -> None:
        self.status = self.CERTIFIED
        self.certified_minutes = minutes
        self.certified_by = certified_by
        self.certified_on = certified_on
        assert self.certified_minutes >= 0

    def reject(self, *, reason: str) -> None:
        if self.complaint_upheld:
            raise SessionAlreadyDecided("a complaint against this session was upheld already")
        if self.status != self.RECORDED:
            raise SessionAlreadyDecided(f"session {self.id} is already {self.status}")
        self._rejected(reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = self.REJECTED
        self.rejection_reason = reason

    def correct(self, *, changes: dict[str, Any], reason: str, calendar: WorkCalendar | None = None) -> int:
        """A correction is a new event referencing the version it corrects. The corrected record is
        checked by the same rules as a new one (`check_session_fields`, against the original recording
        date), and its late flag is recomputed with the calendar in force. Returns the change in
        credited minutes (non-zero only for a certified session whose minutes change)."""
        if self.status == self.REJECTED:
            raise WrongState("a rejected session is not corrected; record a new one")
        if self.complaint_upheld:
            raise WrongState("a session zeroed by an upheld complaint cannot be corrected")
        if not changes or set(changes) - CORRECTABLE_FIELDS:
            raise InvalidInput(f"a correction changes some of {sorted(CORRECTABLE_FIELDS)}")
        current = {field: getattr(self, field) for field in SESSION_FIELDS}
        checked = check_session_fields(**{**current, **changes}, recorded_on=self.recorded_on)
        clean: dict[str, Any] = {field: checked[field] for field in changes}
        if "service_date" in clean:
            clean["service_date"] = clean["service_date"].isoformat()
        late = working_days_between(checked["service_date"], self.recorded_on, calendar) > LATE_AFTER_WORKING_DAYS
        if late != self.late:  # the calendar in force, and the corrected date
            clean["late"] = late
        delta = clean.get("minutes", self.minutes) - self.minutes if self.status == self.CERTIFIED else 0
        self._corrected(corrects_version=self.version, changes=clean,
                        reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX), credited_delta_minutes=delta)
        return delta

    @event("Corrected")
    def _corrected(self, corrects_version: int, changes: dict[str, Any], reason: str,
                   credited_delta_minutes: int) -> None:
        for field, value in changes.items():
            setattr(self, field, date.fromisoformat(value) if field == "service_date" else value)
        self.certified_minutes += credited_delta_minutes
        self.corrections += 1
        assert self.certified_minutes >= 0

    def uphold_complaint(self, *, reason: str) -> int:
        """投诉属实: the session's minutes become zero. Returns the credited minutes to take back."""
        if self.complaint_upheld:
            raise WrongState("a complaint was already upheld for this session")
        if self.status == self.REJECTED:
            raise WrongState("a rejected session has no minutes to zero")
        taken_back = self.certified_minutes
        self._complaint_upheld(reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX),
                               taken_back_minutes=taken_back)
        return taken_back

    @event("ComplaintUpheld")
    def _complaint_upheld(self, reason: str, taken_back_minutes: int) -> None:
        self.complaint_upheld = True
        self.minutes = 0
        self.certified_minutes -= taken_back_minutes
        assert self.certified_minutes == 0
