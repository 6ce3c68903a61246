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
from ledger.domain.values import (
    LATE_AFTER_WORKING_DAYS,
    NAME_CHARS_MAX,
    Rating,
    SERVICE_DATE_MIN,
    Role,
    check_minutes,
    check_service_date,
    check_text,
)

_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")  # ASCII digits; used with fullmatch
CORRECTABLE_FIELDS = frozenset({"activity", "content", "place", "service_date", "minutes"})
RATER_ROLES = frozenset({Role.RESIDENT, Role.COMMUNITY, Role.UNIT})  # recipient, organiser


def _clock_minutes(value: str, field: str) -> int:
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
        raise InvalidInput(f"{field} must be a time of day HH:MM")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class ServiceSession(LedgerAggregate):
    RECORDED, CERTIFIED, REJECTED = "recorded", "certified", "rejected"

    @classmethod
    def record(cls, *, session_id: UUID, member_id: UUID, community_id: UUID, activity: str, content: str,
               place: str, service_date: date, start_time: str, end_time: str, minutes: int,
               post_id: UUID | None, order_id: UUID | None, organiser: str, recipient: str,
               recorded_on: date, calendar: WorkCalendar | None = None) -> "ServiceSession":
        span = _clock_minutes(end_time, "end_time") - _clock_minutes(start_time, "start_time")
        if span <= 0:
            raise InvalidInput("end_time must be after start_time on the service date")
        check_minutes(minutes)
        if minutes > span:
            raise InvalidInput(f"minutes ({minutes}) exceed the time between start and end ({span}); "
                               "travel time is not service time")
        if isinstance(service_date, date) and service_date > recorded_on:
            raise InvalidInput("服务日期晚于记录日期 / a session cannot be recorded before it happens")
        check_service_date(service_date, recorded_on)
        elapsed = working_days_between(service_date, recorded_on, calendar)  # the region's calendar in force
        return cls(id=session_id, member_id=member_id, community_id=community_id,
                   activity=check_text(activity, "activity", chars_max=NAME_CHARS_MAX),
                   content=check_text(content, "content"), place=check_text(place, "place", chars_max=200),
                   service_date=service_date, start_time=start_time, end_time=end_time, minutes=minutes,
                   post_id=post_id, order_id=order_id,
                   organiser=check_text(organiser, "organiser", chars_max=NAME_CHARS_MAX, required=False),
                   recipient=check_text(recipient, "recipient", chars_max=NAME_CHARS_MAX, required=False),
                   recorded_on=recorded_on, working_days_elapsed=elapsed,
                   late=elapsed > LATE_AFTER_WORKING_DAYS)

    @event("Recorded")
    def __init__(self, *, id: UUID, member_id: UUID, community_id: UUID, activity: str, content: str,
                 place: str, service_date: date, start_time: str, end_time: str, minutes: int,
                 post_id: UUID | None, order_id: UUID | None, organiser: str, recipient: str,
                 recorded_on: date, working_days_elapsed: int, late: bool) -> None:
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
        self._rejected(reason=check_text(reason, "reason", chars_max=500))

    @event("Rejected")
    def _rejected(self, reason: str) -> None:
        self.status = self.REJECTED
        self.rejection_reason = reason

    def correct(self, *, changes: dict[str, Any], reason: str, calendar: WorkCalendar | None = None) -> int:
        """A correction is a new event referencing the version it corrects. Returns the change in
        credited minutes (non-zero only for a certified session whose minutes change)."""
        if self.status == self.REJECTED:
            raise WrongState("a rejected session is not corrected; record a new one")
        if self.complaint_upheld:
            raise WrongState("a session zeroed by an upheld complaint cannot be corrected")
        if not changes or set(changes) - CORRECTABLE_FIELDS:
            raise InvalidInput(f"a correction changes some of {sorted(CORRECTABLE_FIELDS)}")
        clean: dict[str, Any] = {}
        for field, value in changes.items():
            if field == "minutes":
                clean[field] = check_minutes(value)
            elif field == "service_date":
                if not isinstance(value, date) or not SERVICE_DATE_MIN <= value <= self.recorded_on:
                    raise InvalidInput(f"服务日期须在 {SERVICE_DATE_MIN.isoformat()} 至记录日期之间 / service_date must "
                                       f"be a date from {SERVICE_DATE_MIN.isoformat()} to the recording date")
                clean[field] = value.isoformat()
            else:
                clean[field] = check_text(value, field, chars_max=200 if field != "content" else 2000)
        if "service_date" in clean:  # the late flag follows the corrected date, under the calendar in force
            late = working_days_between(changes["service_date"], self.recorded_on, calendar) > LATE_AFTER_WORKING_DAYS
            if late != self.late:
                clean["late"] = late
        delta = clean.get("minutes", self.minutes) - self.minutes if self.status == self.CERTIFIED else 0
        self._corrected(corrects_version=self.version, changes=clean,
                        reason=check_text(reason, "reason", chars_max=500), credited_delta_minutes=delta)
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
        self._complaint_upheld(reason=check_text(reason, "reason", chars_max=500), taken_back_minutes=taken_back)
        return taken_back

    @event("ComplaintUpheld")
    def _complaint_upheld(self, reason: str, taken_back_minutes: int) -> None:
        self.complaint_upheld = True
        self.minutes = 0
        self.certified_minutes -= taken_back_minutes
        assert self.certified_minutes == 0
