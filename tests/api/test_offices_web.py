"""Issue #12 on the web, for the offices: the counter (who is spending: name and masked phone; search
by name or the phone's last four digits within the counter's community), the unit (enrol, 报到单,
the chase list) and the community's certification queue (what was done, filters, bulk decisions),
late records and year table.

What a person meets is tested: Chinese messages next to the field, every typed value kept, nothing
written by a refused attempt, another side's members never shown, and a phone never in clear."""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.services import services_of
from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from api.web.pages.counter import mask_phone
from ledger.application import Actor
from tests.api.world import World, today_iso


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _post(client: TestClient, world: World, actor: Actor, path: str, form: dict[str, Any]) -> Any:
    csrf = _as(client, world, actor)
    return client.post(path, data={**form, CSRF_FIELD: csrf, "nonce": uuid4().hex}, follow_redirects=False)


def _flash(response: Any) -> dict[str, str]:
    raw = response.cookies.get("tl_flash")
    return json.loads(urllib.parse.unquote(raw.strip('"'))) if raw else {}


def _events(world: World) -> int:
    return int(world.ledger.recorder.max_notification_id() or 0)


# -- the counter --------------------------------------------------------------------------------------------

def test_mask_phone_keeps_only_the_head_and_the_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("8460 1234") == "****1234"  # a landline without the area code
    assert mask_phone("12") == "**"
    assert mask_phone("") == ""


def test_counter_lookup_shows_the_name_and_a_masked_phone(client: TestClient, world: World,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    _as(client, world, world.a.counter)
    with caplog.at_level(logging.DEBUG):
        answer = client.get(f"/counter/balance?member={world.a.member.actor_id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["identified"] is True and body["name"] == "党员甲"
    assert body["phone_masked"] == "138****0000"
    assert "13800000000" not in answer.text and "13800000000" not in caplog.text


def test_counter_lookup_of_another_communitys_member_gives_no_name(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    answer = client.get(f"/counter/balance?member={world.b.member.actor_id}")  # 通存通兑: may redeem
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["identified"] is False and "name" not in body and "phone_masked" not in body
    assert "党员乙" not in answer.text


def test_counter_refuses_a_cross_region_redemption_for_a_region_that_is_not_a_peer(client: TestClient,
                                                                                   world: World) -> None:
    """通存通兑 from the page (the browser test has two regions): the page lists no peer, and a basket for a
    member of a region not in the registry is refused in Chinese with its code; nothing is written; the
    form token is required as for a local redemption."""
    csrf = _as(client, world, world.a.counter)
    page = client.get("/counter")
    assert '<script type="application/json" id="counter-peers">{}</script>' in page.text
    body = {"member_id": str(world.a.member.actor_id), "home_region": "320104", "redemption_id": str(uuid4()),
            "items": [{"item_id": str(world.a.item_id), "quantity": 1}]}
    before = _events(world)
    forged = client.post("/counter/redeem-anywhere", json=body)
    assert forged.status_code == 403
    refused = client.post("/counter/redeem-anywhere", json=body, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "home_region_not_peer"
    assert "未与本地区开通通存通兑" in refused.json()["message"]
    assert _events(world) == before


def test_counter_search_by_name_and_by_the_last_four_digits(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    by_name = client.get("/counter/search", params={"q": "党员"})
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["items"] == [{"member_id": str(world.a.member.actor_id), "name": "党员甲",
                                        "phone_masked": "138****0000"}]  # never side B's member
    by_phone = client.get("/counter/search", params={"q": "0000"})
    assert [i["name"] for i in by_phone.json()["items"]] == ["党员甲"]
    assert "13800000000" not in by_phone.text
    none = client.get("/counter/search", params={"q": "9999"})
    assert none.status_code == 200 and none.json()["items"] == [] and "没有找到" in none.json()["message"]


def test_counter_search_refuses_bad_input_in_chinese(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    for query in ("", "12345", "12"):
        answer = client.get("/counter/search", params={"q": query})
        assert answer.status_code == 422, query
        assert answer.json()["code"] == "invalid_search" and "后4位" in answer.json()["message"]


def test_counter_search_is_for_counters_only(client: TestClient, world: World) -> None:
    for actor in (world.a.community, world.a.unit, world.a.member):
        _as(client, world, actor)
        assert client.get("/counter/search", params={"q": "党员"}).status_code == 403


# -- the community's certification queue and late records ---------------------------------------------------

def _record(world: World, *, days_ago: int, activity: str, organiser: str = "", recipient: str = "") -> str:
    member = world.a.member
    return str(world.ledger.record_session(
        actor=world.a.community, member_id=member.actor_id, activity=activity, content=f"{activity}的内容", place="社区广场",
        service_date=date.fromisoformat(today_iso(world.ledger, days_ago)), start_time="09:00", end_time="10:00",
        minutes=60, organiser=organiser, recipient=recipient))


def _queue_ids(text: str) -> list[str]:
    return re.findall(r'name="session" value="([0-9a-f-]{36})"', text)


def test_the_queue_shows_what_was_done_and_filters(client: TestClient, world: World) -> None:
    shown = _record(world, days_ago=3, activity="义诊咨询", organiser="社区卫生站", recipient="孤寡老人王奶奶")
    _as(client, world, world.a.community)
    page = client.get("/community/queue")
    assert page.status_code == 200
    for text in ("义诊咨询", "义诊咨询的内容", "社区广场", "社区卫生站", "孤寡老人王奶奶", "党员甲"):
        assert text in page.text, text
    assert set(_queue_ids(page.text)) == {shown, str(world.a.open_session_id)}
    since = client.get("/community/queue", params={"from": today_iso(world.ledger, 1)})
    assert _queue_ids(since.text) == [str(world.a.open_session_id)]
    until = client.get("/community/queue", params={"to": today_iso(world.ledger, 2), "name": "甲"})
    assert _queue_ids(until.text) == [shown]
    nobody = client.get("/community/queue", params={"name": "无此人"})
    assert _queue_ids(nobody.text) == [] and "没有符合条件的待认证记录" in nobody.text
    unrated = client.get("/community/queue", params={"rating": "none"})
    assert len(_queue_ids(unrated.text)) == 2
    rated = client.get("/community/queue", params={"rating": "优"})
    assert _queue_ids(rated.text) == []


def test_a_bad_filter_says_so_in_chinese_and_keeps_what_was_typed(client: TestClient, world: World) -> None:
    _as(client, world, world.a.community)
    page = client.get("/community/queue", params={"from": "2026-13-40", "to": "2020-01-01", "name": "甲乙"})
    assert page.status_code == 200
    assert "日期格式为 年-月-日" in page.text and 'value="2026-13-40"' in page.text and 'value="甲乙"' in page.text
    backwards = client.get("/community/queue", params={"from": "2026-05-01", "to": "2026-04-01"})
    assert "结束日期不能早于开始日期" in backwards.text


def test_rejecting_without_a_reason_keeps_the_ticks_and_writes_nothing(client: TestClient, world: World) -> None:
    session = str(world.a.open_session_id)
    before = _events(world)
    answer = _post(client, world, world.a.community, "/community/queue", {
        "session": session, "action": "reject", "reason": "", f"rating-{session}": "良",
        "back": "/community/queue?name=%E7%94%B2"})
    assert answer.status_code == 422
    assert "不予认证须填写理由" in answer.text
    assert f'value="{session}" id="s-{session}" checked' in answer.text  # still ticked
    assert '<option value="良" selected>' in answer.text and 'value="甲"' in answer.text  # rating and filter kept
    assert _events(world) == before
    nothing = _post(client, world, world.a.community, "/community/queue", {"action": "certify"})
    assert nothing.status_code == 422 and "请先勾选记录" in nothing.text and _events(world) == before


def test_certifying_from_a_filtered_queue_comes_back_to_it(client: TestClient, world: World) -> None:
    session = str(world.a.open_session_id)
    answer = _post(client, world, world.a.community, "/community/queue", {
        "session": session, "action": "certify", f"rating-{session}": "优", "back": "/community/queue?rating=none"})
    assert answer.status_code == 303 and answer.headers["location"] == "/community/queue?rating=none"
    assert _flash(answer)["kind"] == "ok" and "已认证 1 条" in _flash(answer)["text"]
    assert world.ledger.get_session(world.a.open_session_id).status == "certified"
    elsewhere = _post(client, world, world.a.community, "/community/queue", {
        "session": session, "action": "certify", "back": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/community/queue"  # no open redirect


def test_a_refusal_names_the_session_not_its_id(client: TestClient, world: World) -> None:
    other = str(world.b.open_session_id)
    answer = _post(client, world, world.a.community, "/community/queue", {"session": other, "action": "certify"})
    assert answer.status_code == 303 and _flash(answer)["kind"] == "error"
    assert other[:8] not in _flash(answer)["text"] and "党员乙" not in _flash(answer)["text"]


def test_late_records_are_sorted_by_lateness_and_can_be_decided(client: TestClient, world: World) -> None:
    a_month = _record(world, days_ago=30, activity="老年课堂")
    two_months = _record(world, days_ago=60, activity="植树活动")
    _as(client, world, world.a.community)
    page = client.get("/community/late")
    assert page.status_code == 200
    assert _queue_ids(page.text) == [two_months, a_month]  # the latest entry first
    by_date = client.get("/community/late", params={"order": "date"})
    assert _queue_ids(by_date.text) == [a_month, two_months]
    assert "晚60天" in page.text
    done = _post(client, world, world.a.community, "/community/queue", {
        "session": two_months, "action": "reject", "reason": "无法核实", "back": "/community/late?order=late"})
    assert done.status_code == 303 and done.headers["location"] == "/community/late?order=late"
    assert _queue_ids(client.get("/community/late").text) == [a_month]  # decided: no longer tickable


# -- the unit: enrol, 报到单, chase list, 回执单 with posts ------------------------------------------------------

def _members_of_unit(client: TestClient, world: World) -> dict[str, Any]:
    from projections import queries

    with services_of(client.app).read_models.current() as views:  # type: ignore[arg-type]  # the app under test
        return {m.name: m for m in queries.members(views, unit_id=str(world.a.unit.actor_id))}


def test_a_unit_enrols_a_member_and_issues_the_slip_at_once(client: TestClient, world: World) -> None:
    _as(client, world, world.a.unit)
    assert 'id="not-enrolled">9<' in client.get("/unit").text  # declared 10, one enrolled
    answer = _post(client, world, world.a.unit, "/unit/members", {
        "name": "周晓兰", "party_status": "预备", "job_title": "科员", "community_id": str(world.a.community.actor_id)})
    assert answer.status_code == 303 and _flash(answer)["kind"] == "warn", _flash(answer)  # done, after the deadline
    assert "周晓兰" in _flash(answer)["text"] and "晚于本年度报到截止日期" in _flash(answer)["text"]
    enrolled = _members_of_unit(client, world)["周晓兰"]
    assert enrolled.party_status == "预备" and enrolled.job_title == "科员"
    client.cookies.set("tl_flash", answer.cookies["tl_flash"])
    page = client.get("/unit")
    assert 'id="not-enrolled">8<' in page.text and "周晓兰" in page.text
    assert "flash-warn" in page.text and "晚于本年度报到截止日期" in page.text  # the warning is shown
    chase = client.get("/unit/chase")
    assert chase.status_code == 200 and "周晓兰" in chase.text and "科员" in chase.text and "社区甲" in chase.text


def test_enrolling_without_a_name_keeps_what_was_typed(client: TestClient, world: World) -> None:
    before, members = _events(world), sorted(_members_of_unit(client, world))
    answer = _post(client, world, world.a.unit, "/unit/members", {
        "name": "", "party_status": "党员", "job_title": "副处长", "community_id": "not-a-community"})
    assert answer.status_code == 422
    for text in ("请填写姓名", "请选择正式党员或预备党员", "请从列表中选择报到社区", 'value="副处长"'):
        assert text in answer.text, text
    assert _events(world) == before and sorted(_members_of_unit(client, world)) == members


def test_a_refused_enrolment_says_why_in_chinese_and_keeps_the_form(client: TestClient, world: World) -> None:
    before = _events(world)
    answer = _post(client, world, world.a.unit, "/unit/members", {
        "name": "王\u202e明", "party_status": "正式", "job_title": "", "community_id": ""})  # a bidi control
    assert answer.status_code == 422 and 'value="王\u202e明"' in answer.text
    assert "flash-error" in answer.text and _events(world) == before


def test_the_unit_sees_the_receipt_with_the_posts_claimed(client: TestClient, world: World) -> None:
    _as(client, world, world.a.unit)
    page = client.get("/unit")
    posts = world.ledger.get_member(world.a.member.actor_id).posts
    assert posts and all(name in page.text for name in posts.values())
    assert f"/reports/receipt?slip_id={world.a.slip_id}" in page.text


def test_registering_by_a_typed_code_refuses_what_is_not_a_code(client: TestClient, world: World) -> None:
    _as(client, world, world.a.community)
    page = client.get("/community/registrations")
    assert 'pattern="' in page.text  # the browser refuses it before sending, too
    for typed, message in (("张三", "党员编号是32位数字和字母"), ("12345", "党员编号是32位数字和字母"),
                           (str(uuid4()), "本地区没有这个党员编号")):
        answer = client.get("/community/registrations/new", params={"member": typed})
        assert answer.status_code == 422 and message in answer.text, typed
        assert f'value="{typed}"' in answer.text  # kept, to correct
    code = str(world.a.member.actor_id).replace("-", "").upper()
    form = client.get("/community/registrations/new", params={"member": f" {code} "})
    assert form.status_code == 200 and str(world.a.member.actor_id) in form.text


def test_the_year_table_pages_and_filters_by_unit(client: TestClient, world: World) -> None:
    _as(client, world, world.a.community)
    page = client.get("/community/year")
    assert page.status_code == 200 and "共 1 人" in page.text and "党员甲" in page.text
    other = client.get("/community/year", params={"unit": "不存在的单位", "page": "9"})
    assert other.status_code == 200 and "党员甲" in other.text  # an unknown unit: everyone, the last page


def test_the_counter_confirmation_is_a_signed_region_setting(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    assert 'data-confirm-identity="1"' not in client.get("/counter").text  # default off
    refused = client.put("/v1/region/counter-confirmation", json={"required": True, "reason": ""},
                         headers=world.headers(world.region))
    assert refused.status_code == 422
    counter_try = client.put("/v1/region/counter-confirmation", json={"required": True, "reason": "防冒用"},
                             headers=world.headers(world.a.counter))
    assert counter_try.status_code == 403
    done = client.put("/v1/region/counter-confirmation", json={"required": True, "reason": "防止冒用党员码"},
                      headers=world.headers(world.region))
    assert done.status_code == 200, done.text
    assert world.ledger.get_region().counter_confirmation is True
    _as(client, world, world.a.counter)
    page = client.get("/counter")
    assert 'data-confirm-identity="1"' in page.text and "已当面核对本人" in page.text


def test_a_unit_records_a_reminder_on_the_chase_list(client: TestClient, world: World) -> None:
    enrolled = _post(client, world, world.a.unit, "/unit/members", {
        "name": "吴海燕", "party_status": "正式", "job_title": "", "community_id": str(world.a.community.actor_id)})
    assert enrolled.status_code == 303
    _as(client, world, world.a.unit)
    chase = client.get("/unit/chase")
    assert "吴海燕" in chase.text and "未催报" in chase.text
    slip_id = re.search(r'name="slip_id" value="([0-9a-f-]{36})"', chase.text).group(1)  # type: ignore[union-attr]  # the chase page lists the slip (asserted above)
    too_long = _post(client, world, world.a.unit, "/unit/reminders", {"slip_id": slip_id, "note": "长" * 501})
    before = _events(world)
    assert too_long.status_code == 303 and _flash(too_long)["kind"] == "error" and "最多" in _flash(too_long)["text"]
    done = _post(client, world, world.a.unit, "/unit/reminders", {"slip_id": slip_id, "note": "电话提醒"})
    assert done.status_code == 303 and _flash(done)["kind"] == "ok", _flash(done)
    assert _events(world) == before + 1
    _as(client, world, world.a.unit)
    assert "已催报 1 次" in client.get("/unit/chase").text and "电话提醒" in client.get("/unit/chase").text
    other = _post(client, world, world.b.unit, "/unit/reminders", {"slip_id": slip_id, "note": "x"})
    assert other.status_code == 303 and _flash(other)["kind"] == "error"  # not side B's slip: refused
    assert _events(world) == before + 1
    reported = _post(client, world, world.a.unit, "/unit/reminders", {"slip_id": str(world.a.slip_id), "note": ""})
    assert reported.status_code == 303 and _flash(reported)["kind"] == "error"  # already reported: refused
    assert _events(world) == before + 1


def test_the_new_events_verify_and_replay(client: TestClient, world: World) -> None:
    """A reminder (ReportSlip.Reminded, by the unit) and the counter setting (Region.CounterConfirmationSet,
    by the region) are signed like every event: the store verifies, and a fresh load replays them."""
    import base64

    from ledger.verification.store import verify_store

    slip_id = world.ledger.issue_report_slip(actor=world.a.unit, member_id=world.ledger.enrol_member(
        actor=world.a.unit, name="陈立新", party_status="正式"), community_id=world.a.community.actor_id)
    world.ledger.remind_to_report(actor=world.a.unit, slip_id=slip_id, note="上门提醒")
    world.ledger.set_counter_confirmation(actor=world.region, required=True, reason="防止冒用党员码")
    root = base64.b64decode(world.ledger.root_public_key())
    assert verify_store(world.ledger.database, root_public_key=root, region_code="320102",
                        recorder=world.ledger.recorder, workers=0).ok
    assert world.ledger.get_report_slip(slip_id).reminders[-1][1] == "上门提醒"
    assert world.ledger.get_region().counter_confirmation is True
