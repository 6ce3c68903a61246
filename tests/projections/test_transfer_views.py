"""转移接续 in the views: the source closes the member and moves the balance out; the destination
enrols the member without a unit, credits the balance and keeps the imported history for the card."""

from __future__ import annotations

from uuid import UUID

from ledger.application import transfers
from ledger.application import Ledger
from projections import queries as q
from projections import reports
from projections.projector import Views
from projections.render.model import Text
from tests.projections.helpers import clean_rebuild, differences, dump
from tests.scenario import build_region, redeem, serve


def test_a_transferred_member_leaves_one_region_and_arrives_in_the_other(tmp_path) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    source = Ledger(f"sqlite:///{tmp_path / 'xuanwu.db'}")
    region = build_region(source, members=2)
    destination = Ledger("memory:")
    province = source.province_actor()
    destination.init_region(code="320104", name="南京市秦淮区", province_key=source._signers[province.actor_id][2])
    transfers.register_peer(source, transfers.region_card(destination))
    transfers.register_peer(destination, transfers.region_card(source))
    source_views, destination_views = Views(source), Views(destination)
    member = region.members[0]
    serve(region, member, 120)
    serve(region, member, 60)
    redeem(region, member)  # 150 left
    source_views.catch_up(page_events=5)  # the views follow the source while the transfer is pending
    source.give_consent(actor=member, member_id=member.actor_id, purpose="transfer", recipient="320104")
    transfer_id = transfers.initiate(source, member_id=member.actor_id, destination="320104")
    source_views.catch_up(page_events=5)
    assert q.members(source_views, member_id=str(member.actor_id))[0].closed_on is None
    receipt = transfers.import_bundle(destination, transfers.export_bundle(source, transfer_id))
    transfers.complete(source, receipt)
    source_views.catch_up(page_events=5)
    destination_views.catch_up(page_events=5)

    year = source.today().year
    gone = q.balances(source_views, member_id=str(member.actor_id))[0]
    assert (gone.available_minutes, gone.transferred_out_minutes, gone.closed) == (0, 150, True)
    assert str(member.actor_id) not in {my.member.member_id for my in q.member_years(source_views, year=year)}
    assert [my.member.member_id for my in q.member_years(source_views, year=year)] == [
        str(region.members[1].actor_id)]

    arrived = q.balances(destination_views, member_id=str(member.actor_id))[0]
    assert (arrived.available_minutes, arrived.transferred_in_minutes) == (150, 150)
    assert destination.get_balance_minutes(UUID(arrived.member_id)) == 150
    record = q.members(destination_views, member_id=str(member.actor_id))[0]
    assert (record.unit_id, record.community_id, record.has_personal) == (None, None, True)
    assert q.imported_history(destination_views, member_id=str(member.actor_id), year=year) == [
        q.ImportedYear(source="320102", sessions=2, certified_minutes=180)]
    card = reports.card(destination_views, year=year, member_id=str(member.actor_id))
    printed = [*card.footer_lines, *(line for section in card.sections for item in section.items
                                     if isinstance(item, Text) for line in item.lines)]
    assert any("320102地区本年度认证服务 2 次、3小时" in line for line in printed)

    for views, ledger in ((source_views, source), (destination_views, destination)):
        assert not differences(dump(views), clean_rebuild(ledger))
        views.close()
    source.close()
    destination.close()
