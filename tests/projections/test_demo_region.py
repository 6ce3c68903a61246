"""A small demo region (`ledger.demo.generate`, 30 members: late records, corrections, complaints,
rejections, exemptions, orders, redemptions, a key rotation, an erasure) on every store: the views
agree with the aggregates, equal a clean rebuild, and every report renders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.demo import generate
from projections import queries as q
from projections import reports
from projections.projector import Views
from projections.render import render
from tests.projections.helpers import clean_rebuild, differences, dump

YEAR = 2026


@pytest.fixture
def demo(any_ledger: Ledger) -> Iterator[Views]:
    generate(any_ledger, members=30, year=YEAR)
    views = Views(any_ledger)
    views.catch_up(page_events=97)
    yield views
    views.close()


def test_demo_views_agree_with_the_aggregates_and_a_clean_rebuild_and_every_report_renders(
        any_ledger: Ledger, demo: Views) -> None:
    balances = q.balances(demo)
    assert len(balances) >= 20
    for balance in balances:
        account = any_ledger.get_account(UUID(balance.member_id))
        assert (balance.available_minutes, balance.redeemed_minutes, balance.clawed_back_minutes) == (
            account.balance_minutes, account.redeemed_minutes_total, account.clawed_back_minutes_total)
    for my in q.member_years(demo, year=YEAR):
        member = any_ledger.get_member(UUID(my.member.member_id))
        assert my.member.community_id == (str(member.community_id) if member.community_id else None)
        assert (my.exemption is not None) == (YEAR in member.exemptions)
    assert not differences(dump(demo), clean_rebuild(any_ledger))

    member = next(my for my in q.member_years(demo, year=YEAR) if my.sessions >= 2).member
    slip_id = next(s.slip_id for u in q.units(demo) for s in q.unit_slips(demo, unit_id=u.unit_id) if s.registered)
    for kind in reports.KINDS:
        document = reports.build(kind, demo, year=YEAR, member_id=member.member_id, slip_id=slip_id)
        if kind in ("slip", "receipt", "member-form"):  # the notice's letters and grid: no table
            assert render(document, "csv").decode("utf-8-sig").startswith(document.title), kind
            continue
        assert document.tables(), kind
        assert json.loads(render(document, "json"))["title"] == document.title
        assert render(document, "csv").startswith(b"\xef\xbb\xbf")
    assert render(reports.build("card", demo, year=YEAR, member_id=member.member_id), "pdf").startswith(b"%PDF")
