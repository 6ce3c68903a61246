"""导入党员名册 on the unit's pages (issue #15, part 3): the unit downloads the roster template, uploads its
roster, sees every problem named in Chinese with nothing written, confirms, and gets a table of the new
members with their codes (党员编号) for the 报到单; importing again enrols nobody twice; a community (or
anyone but a unit) may not import a roster; English pages speak English."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.web.core import CSRF_FIELD
from ledger.application import Ledger
from ledger.commands.paper_roster import ENROLMENTS, roster_member_id
from ledger.domain.values import Role
from tests.api.test_paper_import_web import _as, _sha
from tests.api.world import World, build_world


@pytest.fixture
def world(memory_app: FastAPI) -> Iterator[tuple[Ledger, TestClient, World]]:
    with TestClient(memory_app, raise_server_exceptions=False, follow_redirects=False) as client:
        built = build_world(memory_app)
        yield built.ledger, client, built


def _roster(*rows: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(ENROLMENTS.headers), *[list(row) for row in rows]])
    return buffer.getvalue().encode("utf-8-sig")


def _upload(client: TestClient, csrf: str, data: bytes, path: str = "/unit/import") -> Any:
    return client.post(path, data={CSRF_FIELD: csrf, "kind": "enrolments"},
                       files={"file": ("名册.csv", data, "text/csv")})


def test_the_unit_uploads_previews_and_confirms_and_sees_the_new_codes(
        world: tuple[Ledger, TestClient, World]) -> None:
    from openpyxl import load_workbook

    ledger, client, w = world
    unit = w.a.unit.actor_id
    csrf = _as(client, w, Role.UNIT)
    assert 'href="/unit/import"' in client.get("/unit").text
    page = client.get("/unit/import")
    assert page.status_code == 200 and "导入党员名册" in page.text and "名册序号" in page.text
    assert 'action="/unit/import"' in page.text and "import-kinds" not in page.text  # one kind: no chooser
    template = client.get("/unit/import/template.xlsx")
    assert template.status_code == 200
    assert [cell.value for cell in load_workbook(io.BytesIO(template.content)).worksheets[0][1]] == list(
        ENROLMENTS.headers)
    assert client.get("/unit/import/template.csv").content.decode("utf-8-sig").splitlines() == [
        ",".join(ENROLMENTS.headers)]

    bad = _roster(("101", "周文", "正式", "科长"), ("102", "吴芳", "入党积极分子", ""), ("101", "郑强", "正式", ""))
    before = ledger.recorder.max_notification_id()
    preview = _upload(client, csrf, bad)
    assert preview.status_code == 200 and ledger.recorder.max_notification_id() == before, "a preview writes nothing"
    assert "共 3 行：可导入 1 行，有问题 2 行。" in preview.text
    assert "党员身份只能是 正式 或 预备" in preview.text and "与第 2 行的名册序号相同" in preview.text
    assert "只导入无问题的 1 行" in preview.text and "新入册" in preview.text

    good = _roster(("101", "周文", "正式", "科长"), ("102", "吴芳", "预备", ""))
    preview = _upload(client, csrf, good)
    assert "确认导入 2 行" in preview.text
    confirmed = client.post("/unit/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview),
                                                          "kind": "enrolments"})
    assert confirmed.status_code == 200, confirmed.text[:300]
    assert "已导入：新写入 2 行，此前已导入 0 行，未导入 0 行。" in confirmed.text
    table = confirmed.text[confirmed.text.index('id="enrolled"'):]
    for number, name in (("101", "周文"), ("102", "吴芳")):
        code = roster_member_id(unit, number)
        assert name in table and str(code) in table
        member = ledger.get_member(code)
        assert (member.name, member.unit_id) == (name, unit)
    assert ledger.get_member(roster_member_id(unit, "102")).party_status.value == "预备"

    again = _upload(client, csrf, good)
    assert "已在名册，不重复入册" in again.text
    position = ledger.recorder.max_notification_id()
    repeated = client.post("/unit/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(again),
                                                         "kind": "enrolments"})
    assert "新写入 0 行，此前已导入 2 行" in repeated.text and "本次没有新入册的党员。" in repeated.text
    assert ledger.recorder.max_notification_id() == position
    stale = client.post("/unit/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(again), "kind": "enrolments"})
    assert stale.status_code == 409 and "请重新选择文件并预览" in stale.text

    conflict = _upload(client, csrf, _roster(("101", "周武", "正式", "科长")))
    assert "该名册序号已入册为另一姓名" in conflict.text and "确认导入" not in conflict.text


def test_partial_confirm_lists_only_the_written_members(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    csrf = _as(client, w, Role.UNIT)
    preview = _upload(client, csrf, _roster(("201", "钱进", "正式", ""), ("202", "", "正式", "")))
    confirmed = client.post("/unit/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview),
                                                          "kind": "enrolments", "partial": "1"})
    assert "新写入 1 行，此前已导入 0 行，未导入 1 行" in confirmed.text
    assert str(roster_member_id(w.a.unit.actor_id, "201")) in confirmed.text and "新入册 1 人" in confirmed.text


def test_only_a_unit_imports_a_roster(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    data = _roster(("301", "孙丽", "正式", ""))
    for role in (Role.COMMUNITY, Role.MEMBER, Role.COUNTER, Role.REGION, Role.RESIDENT, Role.AUDITOR):
        csrf = _as(client, w, role)
        before = ledger.recorder.max_notification_id()
        assert client.get("/unit/import").status_code == 403
        assert client.get("/unit/import/template.csv").status_code == 403
        assert _upload(client, csrf, data).status_code == 403
        assert ledger.recorder.max_notification_id() == before
    csrf = _as(client, w, Role.COMMUNITY)  # the community's own import page does not take a roster either
    page = client.get("/community/import?kind=enrolments")
    assert page.status_code == 200 and "名册序号" not in page.text and "党员入册名册" not in page.text
    before = ledger.recorder.max_notification_id()
    answer = _upload(client, csrf, data, path="/community/import")
    assert "表头与模板不符" in answer.text and ledger.recorder.max_notification_id() == before
    for unit in (w.a.unit.actor_id, w.b.unit.actor_id):
        assert not ledger.recorder.select_events(roster_member_id(unit, "301"), limit=1)


def test_english_pages_speak_english(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    csrf = _as(client, w, Role.UNIT)
    client.cookies.set("tl_lang", "en")
    page = client.get("/unit/import")
    assert "Import the member roster" in page.text and "Step 2: upload and preview" in page.text
    assert "第二步" not in page.text and "导入党员名册" not in page.text.split("<main", 1)[-1]
    preview = _upload(client, csrf, _roster(("401", "冯涛", "正式", "")))
    assert "Roster no." in preview.text and "new" in preview.text
    client.cookies.delete("tl_lang")
