"""Members: enrolment, 报到, posts, exemptions, consents, personal data."""


from __future__ import annotations

from datetime import date
from typing import Sequence
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from ledger.domain.errors import (
    AlreadyExists,
    ConsentMissing,
    InvalidInput,
    NotPermitted,
    PersonalDataErased,
)
from ledger.domain.member import Member, ReportSlip
from ledger.domain.organisations import Community, Counter, Unit
from ledger.domain.time_account import TimeAccount
from ledger.domain.values import (
    PERSONAL_FIELDS,
    ConsentPurpose,
    PartyStatus,
    Role,
    check_region_code,
    check_service_date,
    check_text,
    stable_id,
)
from ledger.domain.limits import PROFILE_FIELD_CHARS_MAX
from ledger.signing import sealed
from ledger.application.core import Actor, LedgerCore


class MemberUseCases(LedgerCore):
    """Members: enrolment, 报到, posts, exemptions, consents, personal data."""

    def enrol_member(self, *, actor: Actor, name: str, party_status: PartyStatus | str, job_title: str = "",
                     member_id: UUID | None = None, request_id: str | None = None) -> UUID:
        """The unit puts a member on its roster and certifies the member's signing key."""
        self._require_role(actor, Role.UNIT)
        assert self.region_code is not None
        unit = self._get(actor.actor_id, Unit)
        member_id = member_id or uuid4()
        if self._exists(member_id):
            raise AlreadyExists(f"member {member_id} already exists")
        try:
            status = PartyStatus(party_status)
        except ValueError:
            raise InvalidInput("party status is 正式 or 预备") from None
        member = Member.enrol(member_id=member_id, name=name, unit_id=unit.id, party_status=status,
                              job_title=job_title, region_code=self.region_code)
        key = self._certify_new_key(authority=actor, owner=Actor(member_id, Role.MEMBER), label="member key")
        self._commit(actor, request_id, member, key)
        return member_id

    def issue_member_key(self, *, actor: Actor, member_id: UUID) -> str:
        """A signing key for a member who has none here (one who arrived by transfer)."""
        self._require_role(actor, Role.UNIT, Role.COMMUNITY, Role.REGION)
        member = self._get(member_id, Member)
        member.require_active()
        owner = Actor(member_id, Role.MEMBER)
        if self.secrets.active_key(member_id) is not None:
            raise AlreadyExists(f"member {member_id} already has a signing key here")
        key = self._certify_new_key(authority=actor, owner=owner, label="member key")
        self._commit(actor, None, key)
        return key.key_id

    def adopt_member(self, *, actor: Actor, member_id: UUID) -> None:
        """A unit of this region takes on a member who arrived by transfer."""
        self._require_role(actor, Role.UNIT)
        member = self._get(member_id, Member)
        member.join_unit(unit_id=actor.actor_id)
        self._commit(actor, None, member)

    def issue_report_slip(self, *, actor: Actor, member_id: UUID, community_id: UUID,
                          request_id: str | None = None) -> UUID:
        """报到单: the unit sends its member to a named community."""
        self._require_role(actor, Role.UNIT)
        member = self._get(member_id, Member)
        if member.unit_id != actor.actor_id:
            raise NotPermitted("a unit issues report slips only for its own members")
        member.require_active()
        self._get(community_id, Community)
        today = self.today()
        deadline = self.get_region().report_deadline(today.year)
        slip = ReportSlip.issue(member_id=member_id, unit_id=actor.actor_id, community_id=community_id,
                                issued_on=today, deadline=deadline)
        member.note_report_slip(slip_id=slip.id, community_id=community_id)  # registration follows the slip
        self._commit(actor, request_id, slip, member)
        return slip.id

    def register_member(self, *, actor: Actor, member_id: UUID, post_ids: Sequence[UUID],
                        profile: dict[str, str] | None = None, personal: dict[str, str] | None = None,
                        willing_other_service: bool = False, slip_id: UUID | None = None,
                        reported_on: date | None = None, request_id: str | None = None) -> None:
        """报到登记: the community registers the member with the 登记表 fields, at least one claimed
        post, opens the time account and (with a slip) sends the 回执单 back to the unit. `reported_on`
        is the day the member reported when the office enters a paper 登记表 afterwards (补录: its 填表日期,
        from the scheme's start to today); otherwise today. Late is judged against the slip's deadline, or
        for a paper form against the region's deadline of the year it was filled in."""
        community = self._own_community(actor)
        member = self._get(member_id, Member)
        if not post_ids:
            raise InvalidInput("请至少认领一个岗位: at least one post must be claimed", field="post_ids",
                               reason="choose_at_least_one")
        posts = [(post_id, community.require_post(post_id)) for post_id in dict.fromkeys(post_ids)]
        slip = None
        if slip_id is not None:
            slip = self._get(slip_id, ReportSlip, "report slip")
            if slip.member_id != member_id or slip.community_id != community.id:
                raise InvalidInput("报到单指定的是另一名党员或另一个社区 / the report slip names another member or community")
        profile = dict(profile or {})
        personal = {k: v for k, v in (personal or {}).items() if v}
        unknown = set(personal) - set(PERSONAL_FIELDS)
        if unknown:
            raise InvalidInput(f"unknown personal fields: {sorted(unknown)}")
        for field_name, value in personal.items():
            check_text(value, field_name, chars_max=PROFILE_FIELD_CHARS_MAX)
        today = self.today()
        if reported_on is not None:
            check_service_date(reported_on, today, field="reported_on")
            if reported_on > today:
                raise InvalidInput("报到日期晚于今天 / reported_on: a registration cannot be entered before it happens",
                                   field="reported_on", reason="date_in_future")
        reported = reported_on or today
        deadline = slip.deadline if slip and reported_on is None else self.get_region().report_deadline(reported.year)
        member_sealed = self._seal_personal(member_id, personal)
        member.register(community_id=community.id, slip_id=slip_id, reported_on=reported, late=reported > deadline,
                        profile=profile, personal_sealed=member_sealed, willing_other_service=willing_other_service)
        for post_id, post_name in posts:
            member.claim_post(post_id=post_id, post_name=post_name)
        account_id = TimeAccount.create_id(member_id)
        aggregates: list[Aggregate] = [member]
        if not self._exists(account_id):
            aggregates.append(TimeAccount.open(member_id=member_id))
        if slip is not None:
            slip.send_receipt(reported_on=reported, post_names=[name for _, name in posts], sent_on=today)
            aggregates.append(slip)
        self._commit(actor, request_id, *aggregates)

    def remind_to_report(self, *, actor: Actor, slip_id: UUID, note: str = "") -> None:
        """催报 (issue #12): the unit that issued the slip reminds its member, who has not reported yet."""
        self._require_role(actor, Role.UNIT)
        slip = self._get(slip_id, ReportSlip, "report slip")
        if slip.unit_id != actor.actor_id:
            raise NotPermitted("a unit reminds only the members it issued report slips to")
        member = self._get(slip.member_id, Member)
        member.require_active()
        if member.reported_on is not None:
            raise AlreadyExists("the member already reported to a community")
        slip.remind(reminded_on=self.today(), note=note)
        self._commit(actor, None, slip)

    def send_receipt(self, *, actor: Actor, slip_id: UUID) -> None:
        """回执单 for a member registered without the slip at hand."""
        community = self._own_community(actor)
        slip = self._get(slip_id, ReportSlip, "report slip")
        member = self._get(slip.member_id, Member)
        if slip.community_id != community.id or member.community_id != community.id:
            raise NotPermitted("the receipt is sent by the community the member reported to")
        assert member.reported_on is not None
        slip.send_receipt(reported_on=member.reported_on, post_names=list(member.posts.values()),
                          sent_on=self.today())
        self._commit(actor, None, slip)

    def _seal_personal(self, member_id: UUID, personal: dict[str, str]) -> dict[str, str]:
        if not personal:
            return {}
        data_key = self.secrets.data_key(member_id, create=True)
        if data_key is None:
            raise PersonalDataErased(f"personal data of member {member_id} was erased")
        return {name: sealed.seal(data_key, subject=str(member_id), field=name, plaintext=value)
                for name, value in personal.items()}

    def member_personal_data(self, member_id: UUID) -> dict[str, str]:
        """Decrypted personal fields (for the member's own community and unit only: the API checks)."""
        member = self._get(member_id, Member)
        if not member.personal:
            return {}
        data_key = self.secrets.data_key(member_id, create=False)
        if data_key is None:
            raise PersonalDataErased(f"personal data of member {member_id} was erased")
        return {name: sealed.open_sealed(data_key, subject=str(member_id), field=name, sealed=value)
                for name, value in member.personal.items()}

    def erase_personal_data(self, *, actor: Actor, member_id: UUID, reason: str = "member request") -> None:
        """Crypto-shredding: destroy the member's data key; signed hour records stay verifiable."""
        self._require_role(actor, Role.COMMUNITY, Role.REGION)
        member = self._get(member_id, Member)
        if actor.role is Role.COMMUNITY and member.community_id != actor.actor_id:
            raise NotPermitted("only the member's own community erases the member's personal data")
        member.record_personal_data_erased(reason=reason)
        self._commit(actor, None, member)
        self.secrets.destroy_data_key(member_id)

    def claim_post(self, *, actor: Actor, member_id: UUID, post_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER, Role.COMMUNITY)
        member = self._member_of(actor, member_id)
        community = self._get(member.require_registered(), Community)
        member.claim_post(post_id=post_id, post_name=community.require_post(post_id))
        self._commit(actor, None, member)

    def release_post(self, *, actor: Actor, member_id: UUID, post_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER, Role.COMMUNITY)
        member = self._member_of(actor, member_id)
        member.release_post(post_id=post_id)
        self._commit(actor, None, member)

    def grant_exemption(self, *, actor: Actor, member_id: UUID, year: int, reason: str) -> None:
        """有故: the unit excuses a member for a year, with a reason."""
        self._require_role(actor, Role.UNIT)
        member = self._member_of(actor, member_id)
        member.grant_exemption(year=year, reason=reason)
        self._commit(actor, None, member)

    def withdraw_exemption(self, *, actor: Actor, member_id: UUID, year: int) -> None:
        self._require_role(actor, Role.UNIT)
        member = self._member_of(actor, member_id)
        member.withdraw_exemption(year=year)
        self._commit(actor, None, member)

    def give_consent(self, *, actor: Actor, member_id: UUID, purpose: ConsentPurpose | str, recipient: str,
                     consent_id: UUID | None = None) -> UUID:
        self._require_role(actor, Role.MEMBER)
        member = self._member_of(actor, member_id)
        try:
            consent_purpose = ConsentPurpose(purpose)
        except ValueError:
            raise InvalidInput(f"purpose is one of {[p.value for p in ConsentPurpose]}") from None
        if consent_purpose is ConsentPurpose.TRANSFER:
            check_region_code(recipient)
            if recipient == self.region_code:
                raise InvalidInput("recipient: 转入地区不能是本地区 / a transfer goes to another region, not this one")
        consent_id = consent_id or stable_id("consent", member_id, consent_purpose.value, recipient)
        member.give_consent(consent_id=consent_id, purpose=consent_purpose, recipient=recipient)
        self._commit(actor, None, member)
        return consent_id

    def withdraw_consent(self, *, actor: Actor, member_id: UUID, consent_id: UUID) -> None:
        self._require_role(actor, Role.MEMBER)
        member = self._member_of(actor, member_id)
        member.withdraw_consent(consent_id=consent_id)
        self._commit(actor, None, member)

    def require_consent(self, member_id: UUID, purpose: ConsentPurpose, recipient: str) -> None:
        if not self._get(member_id, Member).has_consent(purpose, recipient):
            raise ConsentMissing(f"member {member_id} has not consented to {purpose.value} for {recipient}")

    def get_member(self, member_id: UUID) -> Member:
        return self._get(member_id, Member)

    def get_unit(self, unit_id: UUID) -> Unit:
        return self._get(unit_id, Unit)

    def get_community(self, community_id: UUID) -> Community:
        return self._get(community_id, Community)

    def get_counter(self, counter_id: UUID) -> Counter:
        return self._get(counter_id, Counter)

    def get_report_slip(self, slip_id: UUID) -> ReportSlip:
        return self._get(slip_id, ReportSlip, "report slip")
