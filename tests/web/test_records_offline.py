"""服务记录 with the connection down, on the member's phone in a real browser (issue #15 part 2): the
phone registers its own key while online; the network is cut; the member types a record — signed on the
phone and shown 待同步, the form cleared for the next — and one with a field missing is refused on the
phone before it is signed; the network returns and the queue syncs once: the record is listed (to be rated and certified),
and one the ledger refuses (minutes beyond its span) is shown 已拒绝 with its Chinese reason."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import PHONE, Pages, Server
from tests.web.test_pages import OVERFLOW, UNLABELLED_CONTROLS


def _type(page: Any, activity: str, minutes: str) -> None:
    page.fill("#activity", activity)
    page.fill("#place", "紫鑫城社区")
    page.fill("#start_time", "09:00")
    page.fill("#end_time", "10:00")
    page.fill("#minutes", minutes)
    page.fill("#content", "为独居老人送餐")
    page.click("#record-form button[type=submit]")


def test_a_member_records_service_offline_and_it_syncs_once(server: Server, pages: Pages) -> None:
    login = next(login for login in server.logins if login.role == "member")
    pages.expected.append("status of 422")  # the record the ledger refuses, shown on the page
    page = pages.open(login, viewport=PHONE, start="/me/records")
    page.wait_for_function("() => document.getElementById('device-status').classList.contains('is-ok')")
    assert "由所在社区认证" in page.inner_text("#device-status")
    before = len(server.api("GET", "/v1/lists/sessions", params={"member_id": login.actor_id, "limit": 200})["items"])

    page.context.set_offline(True)
    page.evaluate("() => window.dispatchEvent(new Event('offline'))")
    page.wait_for_function("() => document.getElementById('net-status').textContent === '离线'")
    _type(page, "离线送餐", "60")
    page.wait_for_function("() => document.getElementById('offline-count').textContent === '1'")
    assert page.input_value("#activity") == "" and "待同步" in page.inner_text("#record-note")
    _type(page, "时长超出", "90")  # 90 minutes in a 60-minute span: the ledger will refuse it
    page.wait_for_function("() => document.getElementById('offline-count').textContent === '2'")
    page.fill("#activity", "")  # a field left empty: the form is not taken (the browser names the field)
    page.click("#record-form button[type=submit]")
    assert page.evaluate("() => document.getElementById('activity').validity.valueMissing")
    assert page.inner_text("#offline-count") == "2"
    assert page.evaluate(OVERFLOW) <= 1 and page.evaluate(UNLABELLED_CONTROLS) == []
    pages.shot(page, "records-offline-queue-phone")

    page.evaluate("() => { window.beforeSync = true; }")
    page.context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => window.beforeSync === undefined && document.readyState === 'complete' && "
                           "document.getElementById('offline-count').textContent === '0' && "
                           "document.querySelectorAll('#offline-queue tbody tr').length === 2")
    states = [text.strip() for text in page.locator("#offline-queue tbody td.offline-state").all_inner_texts()]
    assert states[1] == "已同步" and states[0].startswith("已拒绝："), states
    sessions = server.api("GET", "/v1/lists/sessions", params={"member_id": login.actor_id, "limit": 200})["items"]
    assert len(sessions) == before + 1 and any(s["activity"] == "离线送餐" for s in sessions)
    pages.shot(page, "records-offline-synced-phone")
    assert not pages.problems, pages.problems
