"""Contradictions that do not block (issue #11 item 4): a report slip issued after the year's deadline,
and more members reported than the unit declared in service. The command succeeds; its answer
carries `warnings` (stable code, Chinese and English text); the forms print them."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.domain.warnings import for_slip, reported_exceeds_declared, slip_after_deadline
from tests.api.world import World


def test_the_rules_warn_only_past_the_line() -> None:
    assert slip_after_deadline(issued_on=date(2026, 8, 31), deadline=date(2026, 8, 31)) is None
    late = slip_after_deadline(issued_on=date(2026, 9, 1), deadline=date(2026, 8, 31))
    assert late is not None and late.code == "slip_issued_after_deadline" and "2026-08-31" in late.message
    assert reported_exceeds_declared(reported=48, declared=48) is None
    excess = reported_exceeds_declared(reported=59, declared=48, unit_name="测试单位")
    assert excess is not None and excess.code == "reported_exceeds_declared"
    assert "报到党员 59 人" in excess.message and "在职党员总数 48 人" in excess.message


def _new_member(client: TestClient, world: World) -> str:
    response = client.post("/v1/members", headers=world.headers(world.a.unit), json={"name": "迟到", "party_status": "正式"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_slip_issued_after_the_deadline_is_issued_with_a_warning(client: TestClient, world: World) -> None:
    ledger, today = world.ledger, world.ledger.today()
    member_id = _new_member(client, world)
    on_time = client.post(f"/v1/members/{member_id}/report-slips", headers=world.headers(world.a.unit),
                          json={"community_id": str(world.a.community.actor_id)})
    if today > ledger.get_region().report_deadline(today.year):
        assert on_time.json()["warnings"][0]["code"] == "slip_issued_after_deadline"
    else:
        assert on_time.status_code == 201 and on_time.json()["warnings"] == []
    if today.timetuple().tm_yday == 1:
        pytest.skip("no deadline of this year lies before 1 January")
    ledger.set_report_deadline(actor=world.region, year=today.year, deadline=today - timedelta(days=1))
    late = client.post(f"/v1/members/{member_id}/report-slips", headers=world.headers(world.a.unit),
                       json={"community_id": str(world.a.community.actor_id)})
    assert late.status_code == 201, late.text  # issued all the same
    [warning] = late.json()["warnings"]
    assert warning["code"] == "slip_issued_after_deadline"
    assert "晚于本年度报到截止日期" in warning["message"] and "deadline" in warning["message_en"]
    slip = client.get(f"/v1/report-slips/{late.json()['id']}", headers=world.headers(world.a.unit)).json()
    assert [w["code"] for w in slip["warnings"]] == ["slip_issued_after_deadline"]
    assert [w.code for w in for_slip(ledger.get_report_slip(UUID(slip["id"])))] == ["slip_issued_after_deadline"]


def test_declaring_fewer_members_than_reported_is_recorded_with_a_warning(client: TestClient, world: World) -> None:
    unit_id = world.a.unit.actor_id
    fewer = client.put(f"/v1/units/{unit_id}/declared-members", headers=world.headers(world.a.unit), json={"count": 0})
    assert fewer.status_code == 200, fewer.text
    [warning] = fewer.json()["warnings"]  # member 甲 reported this year
    assert warning["code"] == "reported_exceeds_declared"
    assert "报到党员 1 人" in warning["message"] and "在职党员总数 0 人" in warning["message"]
    assert world.ledger.get_unit(unit_id).declared_members == 0  # recorded all the same
    enough = client.put(f"/v1/units/{unit_id}/declared-members", headers=world.headers(world.a.unit), json={"count": 1})
    assert enough.status_code == 200 and enough.json()["warnings"] == []


def test_form_3_prints_the_warning_beside_the_figures(client: TestClient, world: World, tmp_path: Path) -> None:
    from api.services import services_of
    from api.routers.reports import this_year
    from projections import reports
    from projections.render import render

    unit_id = world.a.unit.actor_id
    assert client.put(f"/v1/units/{unit_id}/declared-members", headers=world.headers(world.a.unit),
                      json={"count": 0}).status_code == 200
    with services_of(client.app).read_models.current() as views:
        form = reports.unit_stats(views, year=this_year(), unit_id=str(unit_id))
        whole = reports.unit_stats(views, year=this_year())
    for report in (form, whole):
        assert "提示：单位甲：报到党员 1 人，多于申报的在职党员总数 0 人" in report.tables()[0].note
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "form3.pdf").write_bytes(render(form, "pdf"))
    text = subprocess.run(["pdftotext", str(tmp_path / "form3.pdf"), "-"], check=True, capture_output=True,
                          text=True).stdout.replace(" ", "").replace("\n", "")
    assert "多于申报的在职党员总数0人" in text


def test_the_unit_page_shows_the_warnings_where_the_figures_are_entered() -> None:
    from api.main import create_app
    from api.settings import settings_for_tests
    from ledger.application import Ledger
    from ledger.domain.values import Role
    from tests.api.test_authorisation_matrix import _flash, _web_call
    from tests.api.world import build_world

    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    try:
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
            world = build_world(app)
            entered = _web_call(client, world, Role.UNIT, "POST", "/unit/declared-members", {"count": "0"})
            assert entered.status_code == 303
            flash = _flash(entered)
            assert flash["kind"] == "warn" and "多于申报的在职党员总数 0 人" in flash["text"]
            assert ledger.get_unit(world.a.unit.actor_id).declared_members == 0  # recorded all the same
            page = _web_call(client, world, Role.UNIT, "GET", "/unit")
            assert page.status_code == 200
            assert 'data-code="reported_exceeds_declared"' in page.text
            # the world's slips were issued today: after the default deadline (31 August) they carry the badge
            today = ledger.today()
            late = today > ledger.get_region().report_deadline(today.year)
            assert ('data-code="slip_issued_after_deadline"' in page.text) == late
    finally:
        ledger.close()
