"""The region: the ledger's operator and its settings (all settings are events)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.activities import PRESENCE_SHARE_MIN_PERCENT_DEFAULT, check_share_percent
from ledger.domain.base import LedgerAggregate
from ledger.domain.calendar import WorkCalendar, calendar_from_published, check_year_calendar
from ledger.domain.errors import InvalidInput
from ledger.domain.limits import (
    ADDRESS_CHARS_MAX,
    DISPLAY_NAME_CHARS_MAX,
    NAME_CHARS_MAX,
    OFFLINE_BOUND_MINUTES_MAX,
    OFFLINE_DEVICE_BOUND_MINUTES_MAX,
    REASON_CHARS_MAX,
    SETTING_REASON_CHARS_MAX,
    STORAGE_CAP_MINUTES_MAX,
)
from ledger.domain.values import check_region_code, check_text, stable_id

DEFAULT_DISPLAY_NAME = "爱心时间银行"
DEFAULT_TRANSFER_TIMEOUT_DAYS = 30  # a pending transfer without a receipt is voided after this
TRANSFER_TIMEOUT_DAYS_MAX = 365


def _no_reason(state: dict[str, Any]) -> None:
    """Settings changed before a change carried its reason (issue #12) decode with none."""
    state["reason"] = ""


def check_reason(reason: str, *, required: bool = False) -> str:
    """Why the region changed a setting: signed into the event (issue #12)."""
    return check_text(reason, "reason", chars_max=SETTING_REASON_CHARS_MAX, required=required)


class Region(LedgerAggregate):
    @staticmethod
    def create_id(code: str) -> UUID:
        return stable_id("region", code)

    @classmethod
    def initialise(cls, *, code: str, name: str, display_name: str | None) -> "Region":
        return cls(code=check_region_code(code), name=check_text(name, "name", chars_max=NAME_CHARS_MAX),
                   display_name=check_text(display_name or DEFAULT_DISPLAY_NAME, "display_name",
                                           chars_max=DISPLAY_NAME_CHARS_MAX))

    @event("Initialised")
    def __init__(self, *, code: str, name: str, display_name: str) -> None:
        self.code = code
        self.name = name
        self.display_name = display_name
        self.report_deadlines: dict[int, date] = {}
        self.storage_cap_minutes: int | None = None
        # Which policy version scores which year is the domain's rule `scoring.policy_version_for_year`
        # (a year keeps the policy adopted while it was open); it needs each adoption's time, which
        # the read models hold and pass in.
        self.policy_by_year: dict[int, int] = {}  # year -> version, from explicit re-scoring
        self.policy_from_year: dict[int, int] = {}  # first year -> version adopted from then on
        self.peers: dict[str, dict[str, str]] = {}  # region code -> name, key id, keys, address
        self.transfer_timeout_days = DEFAULT_TRANSFER_TIMEOUT_DAYS
        # year -> the latest published State Council calendar (payload of CalendarPublished)
        self.calendars: dict[int, dict[str, Any]] = {}
        # check-in at the venue: the least share of an activity's planned time a member must be present
        # for a session to be drafted (issue #15; 云南: 60 %), and why it was last set
        self.presence_share_min_percent = PRESENCE_SHARE_MIN_PERCENT_DEFAULT
        self.presence_share_reason = ""

    def change_settings(self, *, display_name: str | None = None, storage_cap_minutes: int | None = None,
                        clear_storage_cap: bool = False, reason: str = "") -> None:
        if storage_cap_minutes is not None and not 0 < storage_cap_minutes <= STORAGE_CAP_MINUTES_MAX:
            raise InvalidInput("storage cap must be a positive number of minutes")
        new_name = (check_text(display_name, "display_name", chars_max=DISPLAY_NAME_CHARS_MAX) if display_name
                    else self.display_name)
        new_cap = None if clear_storage_cap else (storage_cap_minutes or self.storage_cap_minutes)
        self._settings_changed(display_name=new_name, storage_cap_minutes=new_cap, reason=check_reason(reason))

    class SettingsChanged(LedgerAggregate.Event):
        """Display name and storage cap. Version 2 (issue #12) adds the region's `reason`."""

        class_version = 2
        display_name: str
        storage_cap_minutes: int | None
        reason: str
        upcast_v1_v2 = staticmethod(_no_reason)

    @event(SettingsChanged)
    def _settings_changed(self, display_name: str, storage_cap_minutes: int | None, reason: str) -> None:
        self.display_name = display_name
        self.storage_cap_minutes = storage_cap_minutes

    def set_presence_share(self, *, percent: int, reason: str) -> None:
        """The minimum presence share for sessions drafted from check-ins, with the reason for it."""
        self._presence_share_set(percent=check_share_percent(percent),
                                 reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("PresenceShareSet")
    def _presence_share_set(self, percent: int, reason: str) -> None:
        self.presence_share_min_percent = percent
        self.presence_share_reason = reason

    def set_report_deadline(self, *, year: int, deadline: date, reason: str = "") -> None:
        if deadline.year != year:
            raise InvalidInput("the reporting deadline must fall in its campaign year")
        self._report_deadline_set(year=year, deadline=deadline, reason=check_reason(reason))

    class ReportDeadlineSet(LedgerAggregate.Event):
        """A campaign year's reporting deadline. Version 2 (issue #12) adds the `reason`."""

        class_version = 2
        year: int
        deadline: date
        reason: str
        upcast_v1_v2 = staticmethod(_no_reason)

    @event(ReportDeadlineSet)
    def _report_deadline_set(self, year: int, deadline: date, reason: str) -> None:
        self.report_deadlines[year] = deadline

    def report_deadline(self, year: int) -> date:
        """The region's deadline, or the notice's default: end of August of the campaign year."""
        return self.report_deadlines.get(year, date(year, 8, 31))

    def adopt_policy(self, *, from_year: int, version: int) -> None:
        self._policy_adopted(from_year=from_year, version=version)

    @event("PolicyAdopted")
    def _policy_adopted(self, from_year: int, version: int) -> None:
        self.policy_from_year[from_year] = version

    def rescore_year(self, *, year: int, version: int, reason: str = "") -> None:
        """Explicitly re-score a (closed) year under another policy version."""
        self._year_rescored(year=year, version=version, reason=check_reason(reason))

    class YearRescored(LedgerAggregate.Event):
        """A year scored under another policy version. Version 2 (issue #12) adds the `reason`."""

        class_version = 2
        year: int
        version: int
        reason: str
        upcast_v1_v2 = staticmethod(_no_reason)

    @event(YearRescored)
    def _year_rescored(self, year: int, version: int, reason: str) -> None:
        self.policy_by_year[year] = version

    # -- working-day calendar (法定节假日 and 调休) --------------------------------------------------
    def publish_calendar(self, *, year: int, holidays: list[Any], workdays: list[Any], source: str,
                         published_on: Any) -> int:
        """Publish (or correct) a year's State Council calendar; returns its version. The same
        calendar again is a no-op that returns the version in force (a retried request)."""
        checked = check_year_calendar(year=year, holidays=holidays, workdays=workdays, source=source,
                                      published_on=published_on).to_payload()
        current = self.calendars.get(year)
        if current is not None and {key: current[key] for key in checked} == checked:
            return int(current["version"])
        version = int(current["version"]) + 1 if current is not None else 1
        self._calendar_published(version=version, **checked)
        return version

    @event("CalendarPublished")
    def _calendar_published(self, year: int, version: int, holidays: list[str], workdays: list[str], source: str,
                            published_on: str | None) -> None:
        self.calendars[year] = {"year": year, "version": version, "holidays": holidays, "workdays": workdays,
                                "source": source, "published_on": published_on}

    def work_calendar(self) -> WorkCalendar:
        """The calendar in force: the region's published years over the shipped State Council
        calendars; Monday–Friday for a year neither covers. Commands are handed this."""
        return calendar_from_published(self.calendars)

    # -- federation registry (转移接续 partners) ---------------------------------------------------
    def register_peer(self, *, code: str, name: str, key_id: str, public_key: str, sealing_key: str,
                      address: str, certificate: str) -> None:
        """Another region: its signing key (with the root-signed registration `certificate`), the
        X25519 key bundles for it are sealed to, and its service address."""
        check_region_code(code)
        if code == self.code:
            raise InvalidInput("a region is not its own peer")
        peer = {"name": check_text(name, "name", chars_max=NAME_CHARS_MAX), "key_id": key_id, "public_key": public_key,
                "sealing_key": sealing_key,
                "address": check_text(address, "address", chars_max=ADDRESS_CHARS_MAX, required=False),
                "certificate": certificate}
        if self.peers.get(code) == peer:
            return
        self._peer_registered(code=code, **peer)

    @event("PeerRegistered")
    def _peer_registered(self, code: str, name: str, key_id: str, public_key: str, sealing_key: str, address: str,
                         certificate: str) -> None:
        self.peers[code] = {"name": name, "key_id": key_id, "public_key": public_key, "sealing_key": sealing_key,
                            "address": address, "certificate": certificate}

    def set_transfer_timeout(self, *, days: int, reason: str) -> None:
        """How long a pending transfer-out waits for the destination's receipt before it may be
        voided. A change always says why (signed into the event)."""
        if type(days) is not int or not 1 <= days <= TRANSFER_TIMEOUT_DAYS_MAX:
            raise InvalidInput(f"the transfer timeout is 1 to {TRANSFER_TIMEOUT_DAYS_MAX} days")
        self._transfer_timeout_set(days=days, reason=check_reason(reason, required=True))

    class TransferTimeoutSet(LedgerAggregate.Event):
        """Version 2 (issue #12, when the setting got its way in) adds the `reason`."""

        class_version = 2
        days: int
        reason: str
        upcast_v1_v2 = staticmethod(_no_reason)

    @event(TransferTimeoutSet)
    def _transfer_timeout_set(self, days: int, reason: str) -> None:
        self.transfer_timeout_days = days

    def require_peer(self, code: str) -> dict[str, str]:
        from ledger.domain.errors import NotFound

        if code not in self.peers:
            raise NotFound(f"region {code} is not in this region's federation registry")
        return self.peers[code]

    # -- the counter's identity check (issue #12) ------------------------------------------------------
    counter_confirmation = False  # until a region sets it: the counter shows name and masked phone only

    def set_counter_confirmation(self, *, required: bool, reason: str) -> None:
        """Whether a counter clerk must tick "checked in person" before redeeming. A change says why."""
        if type(required) is not bool:
            raise InvalidInput("required: true or false")
        self._counter_confirmation_set(required=required, reason=check_text(
            reason, "reason", chars_max=REASON_CHARS_MAX, required=True))

    @event("CounterConfirmationSet")
    def _counter_confirmation_set(self, required: bool, reason: str) -> None:
        self.counter_confirmation = required

    # -- offline capture at the counter (离线兑换, issue #15) ----------------------------------------
    # How many minutes a counter may accept offline per member per China day (0: no offline redemption:
    # the device refuses and says so), and in all on one device per China day (0: no total beyond the
    # per-member bound). Versioned: the device is told the version it works under.
    offline_minutes_per_member_day = 0
    offline_minutes_per_device_day = 0
    offline_bound_version = 0
    offline_bound_reason = ""

    def set_offline_bound(self, *, minutes_per_member_day: int, reason: str,
                          minutes_per_device_day: int | None = None) -> int:
        """Set the offline bounds with the reason for them (`minutes_per_device_day` None: unchanged);
        returns the version in force (the same bounds with the same reason again is a retry and changes
        nothing)."""
        device = self.offline_minutes_per_device_day if minutes_per_device_day is None else minutes_per_device_day
        for field, minutes, high in (("minutes_per_member_day", minutes_per_member_day, OFFLINE_BOUND_MINUTES_MAX),
                                     ("minutes_per_device_day", device, OFFLINE_DEVICE_BOUND_MINUTES_MAX)):
            if type(minutes) is not int or not 0 <= minutes <= high:
                raise InvalidInput(f"the offline bound is 0 to {high} minutes", field=field,
                                   reason="minutes_out_of_range", params={"low": 0, "high": high})
        reason = check_reason(reason, required=True)
        if (minutes_per_member_day, device, reason) == (self.offline_minutes_per_member_day,
                                                       self.offline_minutes_per_device_day, self.offline_bound_reason):
            return self.offline_bound_version
        if device == self.offline_minutes_per_device_day:
            self._offline_bound_set(minutes_per_member_day=minutes_per_member_day,
                                    version=self.offline_bound_version + 1, reason=reason)
        else:
            self._offline_bounds_set(minutes_per_member_day=minutes_per_member_day, minutes_per_device_day=device,
                                     version=self.offline_bound_version + 1, reason=reason)
        return self.offline_bound_version

    @event("OfflineBoundSet")
    def _offline_bound_set(self, minutes_per_member_day: int, version: int, reason: str) -> None:
        self.offline_minutes_per_member_day = minutes_per_member_day
        self.offline_bound_version = version
        self.offline_bound_reason = reason

    @event("OfflineBoundsSet")
    def _offline_bounds_set(self, minutes_per_member_day: int, minutes_per_device_day: int, version: int,
                            reason: str) -> None:
        self.offline_minutes_per_member_day = minutes_per_member_day
        self.offline_minutes_per_device_day = minutes_per_device_day
        self.offline_bound_version = version
        self.offline_bound_reason = reason
