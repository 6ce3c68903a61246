"""Issue #12, errors and forms, in a real browser: a refused form comes back with everything typed and
the Chinese message beside its field; a rejection asks its reason in the dialog; messages name
members and sessions, never ids, and carry no English; the auditor names a PDF upload."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import Pages, Server

UUID_LIKE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-|[0-9a-f]{8}…|\b[0-9a-f]{8}：")
ENGLISH = re.compile(r"\b(exceed|required|minutes|post_ids|reason|not found|codec|utf-8)\b", re.IGNORECASE)


def _registered(server: Server, index: int) -> dict[str, Any]:
    rows = server.api("GET", "/v1/lists/members", params={"limit": 200})["items"]
    registered = sorted((r for r in rows if r["community_id"] and r["reported_on"]), key=lambda r: r["member_id"])
    return registered[index]


def _sessions_of(server: Server, member_id: str) -> int:
    return int(server.api("GET", "/v1/lists/sessions", params={"member_id": member_id, "limit": 200})["page"]["total"])


def _refusals_expected(pages: Pages) -> None:
    pages.expected.append("status of 422")  # a refused form comes back as 422 with the form in it


def _no_english_or_ids(text: str) -> None:
    assert not UUID_LIKE.search(text), text
    assert not ENGLISH.search(text), text


def test_a_session_longer_than_its_span_comes_back_with_everything_typed(server: Server, pages: Pages) -> None:
    _refusals_expected(pages)
    member = _registered(server, 1)
    before = _sessions_of(server, member["member_id"])
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/records")
    typed = {"#activity": "网页测试：为老人读报", "#place": "社区阅览室", "#start_time": "09:00", "#end_time": "11:00",
             "#minutes": "150", "#organiser": "社区党委", "#recipient": "张阿姨", "#content": "读报、讲解新闻"}
    for selector, value in typed.items():
        me.fill(selector, value)
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector("form[action='/me/records'] [role=alert]")

    for selector, value in typed.items():
        assert me.input_value(selector) == value, selector
    shown = me.inner_text("form[action='/me/records'] [role=alert]")
    assert "超过起止时间之差" in shown, shown
    _no_english_or_ids(shown)
    assert _sessions_of(server, member["member_id"]) == before  # nothing was recorded
    pages.shot(me, "member-record-refused")

    me.fill("#minutes", "120")  # corrected: the same form, now accepted
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector(".flash-ok")
    assert _sessions_of(server, member["member_id"]) == before + 1


def test_registration_without_a_post_keeps_the_personal_details(server: Server, pages: Pages) -> None:
    _refusals_expected(pages)
    office, slip_id = None, None
    for community in (login for login in server.logins if login.role == "community"):
        page = pages.open(community, start="/community/registrations")
        link = page.locator("a[href^='/community/registrations/new?slip=']")
        if link.count():
            office, slip_id = page, link.last.get_attribute("href").split("slip=")[1]
            break
    assert office is not None and slip_id
    office.goto(server.base + f"/community/registrations/new?slip={slip_id}")
    typed = {"#f-sex": "男", "#f-education": "大学", "#f-specialities": "电脑维修", "#p-ethnicity": "汉族",
             "#p-mobile": "13912345678", "#p-home_address": "玄武区某路 1 号", "#p-health": "良好"}
    for selector, value in typed.items():
        office.fill(selector, value)
    office.check("input[name=willing_other_service]")
    office.click("main form button[type=submit].primary")  # no post ticked
    office.wait_for_selector("#error-post_ids")

    for selector, value in typed.items():
        assert office.input_value(selector) == value, selector
    assert office.is_checked("input[name=willing_other_service]")
    assert office.inner_text("#error-post_ids") == "请至少选择一项"
    assert office.inner_text(".flash-error") == "认领岗位：请至少选择一项"
    _no_english_or_ids(office.inner_text("main form fieldset:has(#error-post_ids)"))
    assert server.api("GET", f"/v1/report-slips/{slip_id}")["receipt_sent_on"] is None  # nothing was registered


def test_rejecting_with_a_reason_from_the_queue(server: Server, pages: Pages) -> None:
    _refusals_expected(pages)
    member = _registered(server, 2)
    activity = "网页测试：不予认证的记录"
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/records")
    for selector, value in {"#activity": activity, "#place": "社区", "#start_time": "14:00", "#end_time": "15:00",
                            "#minutes": "60", "#content": "测试"}.items():
        me.fill(selector, value)
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector(".flash-ok")

    office = pages.open(server.login_of("community", member["community_id"]), start="/community/queue")
    row = office.locator("tbody tr", has_text=activity)
    row.locator("input[type=checkbox]").check()
    office.fill("#reason", "服务时间与活动记录不符")  # typed in the bar first: the dialog starts from it
    office.locator("button[value=reject]").first.click()
    office.wait_for_selector("#reject-dialog[open]")
    assert office.input_value("#reject-reason") == "服务时间与活动记录不符"
    office.click("#reject-go")
    office.wait_for_selector(".flash-ok")
    assert "已不予认证 1 条" in office.inner_text(".flash-ok")
    assert office.locator("tbody tr", has_text=activity).count() == 0


def test_certifying_an_unrated_session_names_the_member_not_the_id(server: Server, pages: Pages) -> None:
    _refusals_expected(pages)
    member = _registered(server, 3)
    activity = "网页测试：未评价的记录"
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/records")
    for selector, value in {"#activity": activity, "#place": "社区", "#start_time": "08:00", "#end_time": "09:00",
                            "#minutes": "60", "#content": "测试"}.items():
        me.fill(selector, value)
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector(".flash-ok")

    office = pages.open(server.login_of("community", member["community_id"]), start="/community/queue")
    office.locator("tbody tr", has_text=activity).locator("input[type=checkbox]").check()
    office.click("button[value=certify]")  # no rating chosen
    office.wait_for_selector(".flash-error")
    text = office.inner_text(".flash-error")
    assert f"{member['name']} " in text and activity in text and "请先评价（优/良/一般），再认证。" in text
    _no_english_or_ids(text)


def test_the_auditor_names_a_pdf_upload_in_chinese(server: Server, pages: Pages) -> None:
    auditor = pages.open(server.login_of("auditor"), start="/audit")
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 4
    auditor.set_input_files("#file", files=[{"name": "证明.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    auditor.click("form[action='/audit'] button[type=submit]")
    auditor.wait_for_selector("#result")
    finding = auditor.inner_text("#finding")
    assert finding.startswith("这是 PDF 文件") and "JSON 凭证" in finding and "二维码" in finding
    _no_english_or_ids(auditor.inner_text("#result"))
    auditor.goto(server.base + "/lang/en?next=/audit")
    auditor.set_input_files("#file", files=[{"name": "cert.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    auditor.click("form[action='/audit'] button[type=submit]")
    auditor.wait_for_selector("#result")
    assert auditor.inner_text("#finding").startswith("This is a PDF file")
