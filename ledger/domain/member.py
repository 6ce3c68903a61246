"""The member (在职党员): enrolment by the unit, 报到 registration, posts, teams, exemptions, consents."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import (
    AlreadyExists,
    InvalidInput,
    LastPostCannotBeReleased,
    MemberFrozen,
    MemberNotRegistered,
    NotFound,
    NotPermitted,
    PersonalDataErased,
    ReportSlipNamesAnotherCommunity,
    WrongState,
)
from ledger.domain.limits import CONSENT_RECIPIENT_CHARS_MAX, NAME_CHARS_MAX, PROFILE_FIELD_CHARS_MAX, REASON_CHARS_MAX
from ledger.domain.limits import NOTE_CHARS_MAX  # a reminder's note (issue #12)
from ledger.domain.values import PERSONAL_FIELDS, ConsentPurpose, PartyStatus, check_region_code, check_text

REMINDERS_MAX = 50  # 催报 per report slip: a unit chases a member a few times, not without end

# 登记表 fields kept in clear (not personal under DOMAIN.md's privacy rules).
PROFILE_FIELDS: tuple[str, ...] = (
    "sex",
    "education",
    "party_joined",
    "specialities",
    "hobbies",
    "available_time",
)
YEAR_MIN, YEAR_MAX = 2000, 2100


def _is_canonical_uuid(text: str) -> bool:
    try:
        return str(UUID(text)) == text
    except ValueError:
        return False


class Member(LedgerAggregate):
    """One member in this region. The id is the member's id for life (a transfer keeps it)."""

    @classmethod
    def enrol(cls, *, member_id: UUID, name: str, unit_id: UUID | None, party_status: PartyStatus,
              job_title: str, region_code: str) -> "Member":
        return cls(id=member_id, name=check_text(name, "name", chars_max=NAME_CHARS_MAX), unit_id=unit_id,
                   party_status=PartyStatus(party_status),
                   job_title=check_text(job_title, "job_title", chars_max=NAME_CHARS_MAX, required=False),
                   region_code=region_code)

    @event("Enrolled")
    def __init__(self, *, id: UUID, name: str, unit_id: UUID | None, party_status: PartyStatus, job_title: str,
                 region_code: str) -> None:
        self.name = name
        self.unit_id = unit_id
        self.party_status = party_status
        self.job_title = job_title
        self.region_code = region_code
        self.community_id: UUID | None = None
        self.reported_on: date | None = None
        self.report_late = False
        self.profile: dict[str, str] = {}
        self.personal: dict[str, str] = {}  # sealed ciphertexts, never plaintext
        self.willing_other_service = False
        self.posts: dict[UUID, str] = {}
        self.teams: set[UUID] = set()
        self.exemptions: dict[int, str] = {}
        self.consents: dict[UUID, tuple[ConsentPurpose, str]] = {}
        self.personal_erased = False
        self.frozen_by: UUID | None = None  # a pending transfer
        self.closed = False
        self.prior_records: list[dict[str, Any]] = []  # histories imported from other regions
        # The unit's latest 报到单 (slip id, community id): the member reports to that community only.
        self.report_slip: tuple[UUID, UUID] | None = None

    # -- state checks used by the ledger ---------------------------------------------------------
    def require_active(self) -> None:
        if self.closed:
            raise WrongState(f"member {self.id} has moved to another region")
        if self.frozen_by is not None:
            raise MemberFrozen(f"member {self.id} is frozen by pending transfer {self.frozen_by}")

    def require_registered(self) -> UUID:
        self.require_active()
        if self.community_id is None:
            raise MemberNotRegistered(f"member {self.id} has not reported to a community")
        return self.community_id

    # -- 报到单 and 报到登记 --------------------------------------------------------------------
    def note_report_slip(self, *, slip_id: UUID, community_id: UUID) -> None:
        """The unit sent the member to a named community: from now on only that community registers
        the member. A later slip (the unit changing its mind before registration) replaces it; a slip for
        a member already registered changes nothing about the registration (its receipt still can be sent)."""
        self.require_active()
        self._report_slip_issued(slip_id=slip_id, community_id=community_id)

    @event("ReportSlipIssued")
    def _report_slip_issued(self, slip_id: UUID, community_id: UUID) -> None:
        self.report_slip = (slip_id, community_id)

    def register(self, *, community_id: UUID, slip_id: UUID | None, reported_on: date, late: bool,
                 profile: dict[str, str], personal_sealed: dict[str, str], willing_other_service: bool) -> None:
        self.require_active()
        if self.community_id is not None and self.community_id != community_id:
            raise NotPermitted(f"党员已在其他社区报到登记 / member {self.id} is registered with another community")
        if self.community_id is not None:
            raise AlreadyExists(f"member {self.id} is already registered with this community")
        self.require_registration_follows_slip(community_id=community_id, slip_id=slip_id)
        unknown = set(profile) - set(PROFILE_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown profile fields: {sorted(unknown)}")
        if set(personal_sealed) - set(PERSONAL_FIELDS):
            raise InvalidInput("unknown personal fields")
        clean = {k: check_text(v, k, chars_max=PROFILE_FIELD_CHARS_MAX, required=False) for k, v in profile.items()}
        self._registered(community_id=community_id, slip_id=slip_id, reported_on=reported_on, late=late,
                         profile=clean, personal_sealed=dict(personal_sealed),
                         willing_other_service=bool(willing_other_service))

    def require_registration_follows_slip(self, *, community_id: UUID, slip_id: UUID | None) -> None:
        """Registration follows the unit's latest 报到单: another community may not take the member over,
        and an older slip the unit replaced no longer counts."""
        if self.report_slip is None:
            return  # no slip (a member reporting on their own, or history from before slips were noted)
        latest_slip_id, slip_community_id = self.report_slip
        if community_id != slip_community_id:
            raise ReportSlipNamesAnotherCommunity(
                f"单位的报到单指定党员到另一个社区报到，本社区不能登记 / the unit's report slip {latest_slip_id} sends "
                f"member {self.id} to community {slip_community_id}, not to {community_id}")
        if slip_id is not None and slip_id != latest_slip_id:
            raise ReportSlipNamesAnotherCommunity(
                f"该报到单已被单位新开的报到单取代 / report slip {slip_id} was replaced by the unit's slip "
                f"{latest_slip_id}")

    @event("Registered")
    def _registered(self, community_id: UUID, slip_id: UUID | None, reported_on: date, late: bool,
                    profile: dict[str, str], personal_sealed: dict[str, str], willing_other_service: bool) -> None:
        self.community_id = community_id
        self.reported_on = reported_on
        self.report_late = late
        self.profile = profile
        self.personal = personal_sealed
        self.willing_other_service = willing_other_service

    # -- posts (认领岗位) ------------------------------------------------------------------------
    def claim_post(self, *, post_id: UUID, post_name: str) -> None:
        self.require_registered()
        if post_id in self.posts:
            return  # claiming a claimed post again changes nothing
        self._post_claimed(post_id=post_id, post_name=post_name)

    @event("PostClaimed")
    def _post_claimed(self, post_id: UUID, post_name: str) -> None:
        self.posts[post_id] = post_name

    def release_post(self, *, post_id: UUID) -> None:
        self.require_registered()
        if post_id not in self.posts:
            raise NotFound(f"member {self.id} has not claimed post {post_id}", params={"kind": "Post"})
        if len(self.posts) == 1:
            raise LastPostCannotBeReleased("a member must keep at least one claimed post (请至少认领一个岗位)")
        self._post_released(post_id=post_id)

    @event("PostReleased")
    def _post_released(self, post_id: UUID) -> None:
        del self.posts[post_id]

    # -- teams (编组) ------------------------------------------------------------------------------
    def join_team(self, *, team_id: UUID) -> None:
        self.require_registered()
        if team_id not in self.teams:
            self._joined_team(team_id=team_id)

    @event("JoinedTeam")
    def _joined_team(self, team_id: UUID) -> None:
        self.teams.add(team_id)

    def leave_team(self, *, team_id: UUID) -> None:
        if team_id not in self.teams:
            raise NotFound(f"member {self.id} is not in team {team_id}", params={"kind": "Team"})
        self._left_team(team_id=team_id)

    @event("LeftTeam")
    def _left_team(self, team_id: UUID) -> None:
        self.teams.discard(team_id)

    # -- exemptions ("有故") ----------------------------------------------------------------------
    def grant_exemption(self, *, year: int, reason: str) -> None:
        self.require_active()
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise InvalidInput(f"year {year} is out of range")
        self._exemption_granted(year=year, reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("ExemptionGranted")
    def _exemption_granted(self, year: int, reason: str) -> None:
        self.exemptions[year] = reason

    def withdraw_exemption(self, *, year: int) -> None:
        if year not in self.exemptions:
            raise NotFound(f"no exemption for {year}")
        self._exemption_withdrawn(year=year)

    @event("ExemptionWithdrawn")
    def _exemption_withdrawn(self, year: int) -> None:
        del self.exemptions[year]

    # -- consents (PIPL separate consent) -------------------------------------------------------
    def give_consent(self, *, consent_id: UUID, purpose: ConsentPurpose, recipient: str) -> None:
        recipient = check_text(recipient, "recipient", chars_max=CONSENT_RECIPIENT_CHARS_MAX)
        if ConsentPurpose(purpose) is ConsentPurpose.TRANSFER:
            check_region_code(recipient)  # ASCII digits only: "32０１０２" names no region
        elif not _is_canonical_uuid(recipient):
            raise InvalidInput(f"接收方须为单位编号 / the recipient of {ConsentPurpose(purpose).value} must be a "
                               "unit id")
        existing = self.consents.get(consent_id)
        if existing == (ConsentPurpose(purpose), recipient):
            return
        if existing is not None:
            raise AlreadyExists(f"consent {consent_id} exists with other terms")
        self._consent_given(consent_id=consent_id, purpose=ConsentPurpose(purpose), recipient=recipient)

    @event("ConsentGiven")
    def _consent_given(self, consent_id: UUID, purpose: ConsentPurpose, recipient: str) -> None:
        self.consents[consent_id] = (purpose, recipient)

    def withdraw_consent(self, *, consent_id: UUID) -> None:
        if consent_id not in self.consents:
            raise NotFound(f"consent {consent_id} is not in force", params={"kind": "Consent"})
        self._consent_withdrawn(consent_id=consent_id)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(self, consent_id: UUID) -> None:
        del self.consents[consent_id]

    def has_consent(self, purpose: ConsentPurpose, recipient: str) -> bool:
        return (ConsentPurpose(purpose), recipient) in self.consents.values()

    # -- personal data erasure (crypto-shredding is done by the ledger) -------------------------
    def record_personal_data_erased(self, *, reason: str) -> None:
        if self.personal_erased:
            raise PersonalDataErased(f"personal data of member {self.id} is already erased")
        self._personal_data_erased(reason=check_text(reason, "reason", chars_max=REASON_CHARS_MAX))

    @event("PersonalDataErased")
    def _personal_data_erased(self, reason: str) -> None:
        self.personal_erased = True

    # -- transfer (转移接续) hooks -------------------------------------------------------------------
    def freeze(self, *, transfer_id: UUID) -> None:
        self.require_active()
        self._frozen(transfer_id=transfer_id)

    @event("Frozen")
    def _frozen(self, transfer_id: UUID) -> None:
        self.frozen_by = transfer_id

    def unfreeze(self, *, transfer_id: UUID, reason: str) -> None:
        if self.frozen_by != transfer_id:
            raise WrongState(f"member {self.id} is not frozen by transfer {transfer_id}")
        self._unfrozen(transfer_id=transfer_id, reason=reason)

    @event("Unfrozen")
    def _unfrozen(self, transfer_id: UUID, reason: str) -> None:
        self.frozen_by = None

    def close(self, *, transfer_id: UUID, destination: str) -> None:
        if self.frozen_by != transfer_id:
            raise WrongState(f"member {self.id} is not frozen by transfer {transfer_id}")
        self._closed(transfer_id=transfer_id, destination=destination)

    @event("Closed")
    def _closed(self, transfer_id: UUID, destination: str) -> None:
        self.closed = True
        self.frozen_by = None

    def record_history_imported(self, *, transfer_id: UUID, source: str, bundle_sha256: str,
                                summary: dict[str, Any], personal_sealed: dict[str, str]) -> None:
        """The history from another region; its personal fields arrive re-sealed under this
        region's data key for the member."""
        self._history_imported(transfer_id=transfer_id, source=source, bundle_sha256=bundle_sha256, summary=summary,
                               personal_sealed=personal_sealed)

    @event("HistoryImported")
    def _history_imported(self, transfer_id: UUID, source: str, bundle_sha256: str, summary: dict[str, Any],
                          personal_sealed: dict[str, str]) -> None:
        self.prior_records.append({"transfer_id": str(transfer_id), "source": source, "bundle_sha256": bundle_sha256,
                                   "summary": summary})
        if personal_sealed:
            self.personal = personal_sealed

    def reopen(self, *, transfer_id: UUID, source: str) -> None:
        """A member who moved away comes back: a fresh start here, history kept."""
        if not self.closed:
            raise WrongState(f"member {self.id} is active in this region")
        self._reopened(transfer_id=transfer_id, source=source)

    @event("Reopened")
    def _reopened(self, transfer_id: UUID, source: str) -> None:
        self.closed = False
        self.frozen_by = None
        self.community_id = None
        self.unit_id = None
        self.report_slip = None
        self.reported_on = None
        self.posts = {}
        self.teams = set()

    def join_unit(self, *, unit_id: UUID) -> None:
        """A member who arrived by transfer joins a unit of this region."""
        self.require_active()
        if self.unit_id == unit_id:
            return
        if self.unit_id is not None:
            raise AlreadyExists(f"member {self.id} belongs to another unit")
        self._joined_unit(unit_id=unit_id)

    @event("JoinedUnit")
    def _joined_unit(self, unit_id: UUID) -> None:
        self.unit_id = unit_id


class ReportSlip(LedgerAggregate):
    """报到单 issued by the unit; its bottom half is the 回执单 the community sends back."""

    @classmethod
    def issue(cls, *, member_id: UUID, unit_id: UUID, community_id: UUID, issued_on: date,
              deadline: date) -> "ReportSlip":
        return cls(member_id=member_id, unit_id=unit_id, community_id=community_id, issued_on=issued_on,
                   deadline=deadline)

    @event("Issued")
    def __init__(self, *, member_id: UUID, unit_id: UUID, community_id: UUID, issued_on: date,
                 deadline: date) -> None:
        self.member_id = member_id
        self.unit_id = unit_id
        self.community_id = community_id
        self.issued_on = issued_on
        self.deadline = deadline
        self.receipt_sent_on: date | None = None
        self.reported_on: date | None = None
        self.post_names: list[str] = []

    def send_receipt(self, *, reported_on: date, post_names: list[str], sent_on: date) -> None:
        if self.receipt_sent_on is not None:
            raise AlreadyExists("the receipt (回执单) was already sent")
        self._receipt_sent(reported_on=reported_on, post_names=list(post_names), sent_on=sent_on)

    @event("ReceiptSent")
    def _receipt_sent(self, reported_on: date, post_names: list[str], sent_on: date) -> None:
        self.receipt_sent_on = sent_on
        self.reported_on = reported_on
        self.post_names = post_names

    # 催报 (issue #12): the unit reminds its member to report with this slip; each reminder is recorded
    reminders: tuple[tuple[date, str], ...] = ()  # (day, note), oldest first; none before the first

    def remind(self, *, reminded_on: date, note: str) -> None:
        if self.receipt_sent_on is not None:
            raise AlreadyExists("the member already reported with this slip (回执单 sent)")
        if len(self.reminders) >= REMINDERS_MAX:
            raise InvalidInput(f"at most {REMINDERS_MAX} reminders per report slip")
        self._reminded(reminded_on=reminded_on, note=check_text(note, "note", chars_max=NOTE_CHARS_MAX,
                                                                required=False))

    @event("Reminded")
    def _reminded(self, reminded_on: date, note: str) -> None:
        self.reminders = (*self.reminders, (reminded_on, note))
