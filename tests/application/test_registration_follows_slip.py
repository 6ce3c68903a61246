"""报到 follows the 报到单 (issue #10, defect 5): a community the unit did not name cannot register,
and so take over, a member the unit sent to another community."""

from __future__ import annotations

import base64

import pytest

from ledger.application import Actor, Ledger
from ledger.domain.errors import InvalidInput, LedgerError, NotPermitted
from ledger.domain.values import Role
from ledger.verification.store import verify_store
from tests.scenario import Region, build_region


def _second_community(region: Region) -> tuple[Actor, object]:
    ledger = region.ledger
    other = Actor(ledger.register_community(actor=region.region, name="玄武门社区", county="玄武区",
                                            street="玄武门街道"), Role.COMMUNITY)
    post_id = next(iter(ledger.get_community(other.actor_id).posts))
    return other, post_id


def test_another_community_cannot_register_a_member_sent_to_the_first(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    other, other_post = _second_community(region)
    member_id = ledger.enrol_member(actor=region.unit, name="王芳", party_status="正式")
    slip_id = ledger.issue_report_slip(actor=region.unit, member_id=member_id, community_id=region.community.actor_id)
    before = ledger.recorder.max_notification_id()
    with pytest.raises(LedgerError) as refused:
        ledger.register_member(actor=other, member_id=member_id, post_ids=[other_post])
    assert refused.value.code == "report_slip_names_another_community"
    assert isinstance(refused.value, NotPermitted)  # 403 in the API (api/errors.py)
    assert "社区" in refused.value.detail
    assert ledger.recorder.max_notification_id() == before  # the refusal wrote nothing
    # the community the slip names still registers the member
    ledger.register_member(actor=region.community, member_id=member_id, post_ids=[region.post_id], slip_id=slip_id)
    assert ledger.get_member(member_id).community_id == region.community.actor_id
    report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                          region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
    assert report.ok, [str(p) for p in report.problems]


def test_another_community_cannot_register_with_the_first_communitys_slip(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    other, other_post = _second_community(region)
    member_id = ledger.enrol_member(actor=region.unit, name="王芳", party_status="正式")
    slip_id = ledger.issue_report_slip(actor=region.unit, member_id=member_id, community_id=region.community.actor_id)
    with pytest.raises(InvalidInput, match="另一个社区"):
        ledger.register_member(actor=other, member_id=member_id, post_ids=[other_post], slip_id=slip_id)
    assert ledger.get_member(member_id).community_id is None


def test_a_newer_slip_moves_the_member_before_registration(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    other, other_post = _second_community(region)
    member_id = ledger.enrol_member(actor=region.unit, name="王芳", party_status="正式")
    first = ledger.issue_report_slip(actor=region.unit, member_id=member_id, community_id=region.community.actor_id)
    second = ledger.issue_report_slip(actor=region.unit, member_id=member_id, community_id=other.actor_id)
    with pytest.raises(LedgerError) as refused:  # the first community, even with its (replaced) slip
        ledger.register_member(actor=region.community, member_id=member_id, post_ids=[region.post_id], slip_id=first)
    assert refused.value.code == "report_slip_names_another_community"
    ledger.register_member(actor=other, member_id=member_id, post_ids=[other_post], slip_id=second)
    assert ledger.get_member(member_id).community_id == other.actor_id
    with pytest.raises(NotPermitted):  # and once registered, no other community takes the member over
        ledger.register_member(actor=region.community, member_id=member_id, post_ids=[region.post_id])


def test_a_member_without_a_slip_still_reports_on_their_own(ledger: Ledger) -> None:
    region = build_region(ledger, members=0)
    other, other_post = _second_community(region)
    member_id = ledger.enrol_member(actor=region.unit, name="李明", party_status="预备")
    ledger.register_member(actor=other, member_id=member_id, post_ids=[other_post])
    assert ledger.get_member(member_id).community_id == other.actor_id
