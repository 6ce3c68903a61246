"""导入纸质记录 on the community's pages (issue #15, the paper backlog): the template lists the office's
members; an upload is previewed with every problem named in Chinese and nothing written; the office
confirms the previewed file (all of it, or only its good rows); another role may not import; a stale
confirmation asks for the file again."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Ledger
from ledger.commands import paper
from ledger.domain.values import Role
from tests.api.world import World, build_world


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Ledger, TestClient, World]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield ledger, client, build_world(app)
    ledger.close()


def _as(client: TestClient, world: World, role: Role) -> str:
    token = world.tokens[world.actor(role).actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _file(world: World, ledger: Ledger, *lines: dict[str, str]) -> bytes:
    day = (ledger.today() - timedelta(days=40)).isoformat()  # a past day, whatever today is
    rows = []
    for line in lines:
        row = {"党员编号": str(world.a.member.actor_id), "在职党员姓名": "", "年月日": day, "开始时间": "09:00",
               "结束时间": "10:30", "服务（活动）内容": f"陪老人聊天 {uuid4().hex[:6]}", "服务地点": "社区活动室",
               "服务时长（分钟）": "90", "评价（优/良/一般）": "优", "认证签字": "王主任", **line}
        rows.append([row[name] for name in paper.HEADERS])
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(paper.HEADERS), *rows])
    return buffer.getvalue().encode("utf-8-sig")


def _upload(client: TestClient, csrf: str, data: bytes, name: str = "cards.csv") -> Any:
    return client.post("/community/import", data={CSRF_FIELD: csrf}, files={"file": (name, data, "text/csv")})


def _sha(response: Any) -> str:
    marker = 'name="sha256" value="'
    text = response.text
    return text[text.index(marker) + len(marker):].split('"', 1)[0]


def _flash(response: Any) -> dict[str, str]:
    raw = response.cookies.get("tl_flash")
    return json.loads(urllib.parse.unquote(raw.strip('"'))) if raw else {}


def test_the_template_lists_the_offices_members(world: tuple[Ledger, TestClient, World]) -> None:
    from openpyxl import load_workbook

    ledger, client, w = world
    _as(client, w, Role.COMMUNITY)
    page = client.get("/community/import")
    assert page.status_code == 200 and "下载导入模板" in page.text
    answer = client.get("/community/import/template.xlsx")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == list(paper.HEADERS)
    codes = {row[0] for row in rows[1:]}
    assert str(w.a.member.actor_id) in codes and str(w.b.member.actor_id) not in codes  # own members only


def test_preview_names_problems_writes_nothing_then_partial_writes_the_good_rows(
        world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    csrf = _as(client, w, Role.COMMUNITY)
    data = _file(w, ledger, {}, {"服务时长（分钟）": "200"}, {"党员编号": str(w.b.member.actor_id)})
    before = ledger.recorder.max_notification_id()
    preview = _upload(client, csrf, data)
    assert preview.status_code == 200
    assert ledger.recorder.max_notification_id() == before, "a preview writes nothing"
    text = preview.text
    assert "共 3 行：可导入 1 行，有问题 2 行。" in text
    assert "服务分钟数 200 超过起止时间之差 90" in text and "该党员未在本社区报到登记" in text
    assert "exceed" not in text and str(w.b.member.actor_id) not in text
    confirmed = client.post("/community/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview),
                                                               "partial": "1"})
    assert confirmed.status_code == 303, confirmed.text[:300]
    assert _flash(confirmed)["text"] == "已导入：新写入 1 行，此前已导入 0 行，未导入 2 行。"
    assert ledger.recorder.max_notification_id() > before


def test_a_good_file_is_confirmed_once_and_again_changes_nothing(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    csrf = _as(client, w, Role.COMMUNITY)
    balance = ledger.get_balance_minutes(w.a.member.actor_id)
    data = _file(w, ledger, {}, {"开始时间": "14:00", "结束时间": "15:00", "服务时长（分钟）": "1:00"})
    preview = _upload(client, csrf, data)
    assert "确认导入 2 行" in preview.text
    confirmed = client.post("/community/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview)})
    assert _flash(confirmed)["text"] == "已导入：新写入 2 行，此前已导入 0 行，未导入 0 行。"
    assert ledger.get_balance_minutes(w.a.member.actor_id) == balance + 150
    stale = client.post("/community/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview)})
    assert stale.status_code == 409 and "请重新选择文件并预览" in stale.text
    again = client.post("/community/import/confirm", data={
        CSRF_FIELD: csrf, "sha256": _sha(_upload(client, csrf, data))})
    assert _flash(again)["text"] == "已导入：新写入 0 行，此前已导入 2 行，未导入 0 行。"
    assert ledger.get_balance_minutes(w.a.member.actor_id) == balance + 150


def test_a_pdf_or_garbage_is_named_and_english_pages_speak_english(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    csrf = _as(client, w, Role.COMMUNITY)
    answer = _upload(client, csrf, b"%PDF-1.7\n\x00\xff binary", "card.pdf")
    assert answer.status_code == 200 and "这是 PDF 文件" in answer.text and "确认导入" not in answer.text
    client.cookies.set("tl_lang", "en")
    english = client.get("/community/import")
    assert "Step 2: upload and preview" in english.text and "第二步" not in english.text


def test_other_roles_may_not_import(world: tuple[Ledger, TestClient, World]) -> None:
    ledger, client, w = world
    for role in (Role.UNIT, Role.MEMBER, Role.COUNTER, Role.REGION):
        csrf = _as(client, w, role)
        before = ledger.recorder.max_notification_id()
        assert client.get("/community/import").status_code == 403
        assert _upload(client, csrf, _file(w, ledger, {})).status_code == 403
        assert ledger.recorder.max_notification_id() == before


def test_registrations_and_posts_are_offered_with_a_preview_that_shows_no_personal_field(
        world: tuple[Ledger, TestClient, World]) -> None:
    from ledger.application import setup
    from ledger.commands.paper_forms import MEMBERS, POSTS_KIND
    from ledger.domain.values import STANDARD_POSTS

    ledger, client, w = world
    newcomer, _ = setup.enrol_with_slip(ledger, unit=w.a.unit, community=w.a.community, name="新报到")
    csrf = _as(client, w, Role.COMMUNITY)
    page = client.get("/community/import?kind=members")
    assert page.status_code == 200 and "在职党员基本情况登记表" in page.text and 'name="kind" value="members"' in page.text
    template = client.get("/community/import/template.csv?kind=members")
    lines = template.content.decode("utf-8-sig").splitlines()
    assert template.status_code == 200 and lines[0] == ",".join(MEMBERS.headers)
    assert any(line.startswith(str(newcomer)) for line in lines[1:])  # the slip's member, code only
    mobile = "13800001111"
    good = {"党员编号": str(newcomer), "姓名": "新报到", "本人联系电话/手机": mobile, "认领岗位": STANDARD_POSTS[1],
            "填表日期": "2025-09-01"}
    stranger = {**good, "党员编号": str(w.b.member.actor_id), "姓名": ledger.get_member(w.b.member.actor_id).name}
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(MEMBERS.headers), *[[row.get(name, "") for name in MEMBERS.headers]
                                                            for row in (good, stranger)]])
    before = ledger.recorder.max_notification_id()
    preview = client.post("/community/import", data={CSRF_FIELD: csrf, "kind": "members"},
                          files={"file": ("登记表.csv", buffer.getvalue().encode("utf-8-sig"), "text/csv")})
    assert preview.status_code == 200 and "共 2 行：可导入 1 行，有问题 1 行。" in preview.text
    problems = preview.text[preview.text.index("import-problems"):][:1500]
    assert "党员已在其他社区报到登记" in preview.text and str(w.b.member.actor_id) not in preview.text, problems
    assert mobile not in preview.text and "2025-09-01" in preview.text and STANDARD_POSTS[1] in preview.text
    assert ledger.recorder.max_notification_id() == before, "a preview writes nothing"
    confirmed = client.post("/community/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview),
                                                               "kind": "members", "partial": "1"})
    assert _flash(confirmed)["text"] == "已导入：新写入 1 行，此前已导入 0 行，未导入 1 行。"
    assert confirmed.headers["location"].startswith("/community/import?kind=members")
    assert ledger.get_member(newcomer).community_id == w.a.community.actor_id
    assert ledger.member_personal_data(newcomer)["mobile"] == mobile
    posts = io.StringIO()
    csv.writer(posts).writerows([list(POSTS_KIND.headers), [str(newcomer), "新报到", STANDARD_POSTS[6]]])
    preview = client.post("/community/import", data={CSRF_FIELD: csrf, "kind": "posts"},
                          files={"file": ("岗位.csv", posts.getvalue().encode("utf-8-sig"), "text/csv")})
    assert "确认导入 1 行" in preview.text
    client.post("/community/import/confirm", data={CSRF_FIELD: csrf, "sha256": _sha(preview), "kind": "posts"})
    assert STANDARD_POSTS[6] in ledger.get_member(newcomer).posts.values()
