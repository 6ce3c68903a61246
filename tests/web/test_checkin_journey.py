"""签到签退 in a real browser at phone width (issue #15): the organiser opens an activity and shows the
rotating QR; two members check in from their phone page; one checks out, the other forgets; a code
captured before a rotation is refused as expired (the text kept, the reason next to the field); the
organiser closes the activity and the forgotten check-out is closed at the end and flagged.

The server's clock is pinned (conftest CLOCK_START: 1 December 2026, 10:00 China time) and runs on in
real time, so the activity is planned for the whole pinned day; presence is seconds here, below the
60 % share, so no session is drafted (the ledger and API tests cover drafted sessions)."""

from __future__ import annotations

import time
from typing import Any

from tests.web.conftest import PHONE, Pages, Server
from tests.web.test_pages import OVERFLOW, UNLABELLED_CONTROLS


def _code(office: Any, server: Server, activity_id: str) -> dict[str, Any]:
    answer = office.request.get(f"{server.base}/community/activities/{activity_id}/code")
    assert answer.status == 200
    return dict(answer.json())


def _scan(member: Any, code: str, action: str) -> None:
    member.fill("#checkin-code", code)
    member.click(f"#checkin-form button[value={action}]")
    member.wait_for_load_state("domcontentloaded")


def test_checkin_journey_at_phone_width(server: Server, pages: Pages) -> None:
    community = server.login_of("community")
    rows = server.api("GET", "/v1/lists/members", params={"community_id": community.actor_id, "limit": 200})["items"]
    with_login = {login.actor_id for login in server.logins if login.role == "member"}
    first, second = [str(row["member_id"]) for row in rows if str(row["member_id"]) in with_login][:2]

    office = pages.open(community, viewport=PHONE, start="/community/activities")
    assert office.evaluate(OVERFLOW) <= 1 and office.evaluate(UNLABELLED_CONTROLS) == []
    office.fill("#a-title", "重阳节敬老活动")
    office.fill("#a-place", "社区党群服务中心")
    office.fill("#a-start", "09:00")
    office.fill("#a-end", "23:59")
    office.click("main form button[type=submit]")
    office.wait_for_load_state("domcontentloaded")
    assert "/community/activities/" in office.url, office.inner_text("main")[:300]
    activity_id = office.url.rstrip("/").rsplit("/", 1)[1]
    assert office.locator("#checkin-qr-image").is_visible()
    assert office.evaluate(OVERFLOW) <= 1 and office.evaluate(UNLABELLED_CONTROLS) == []
    first_window = office.get_attribute("#checkin-qr", "data-window")
    pages.shot(office, "checkin-organiser-phone")

    alice = pages.open(server.login_of("member", first), viewport=PHONE, start="/me/checkin")
    bob = pages.open(server.login_of("member", second), viewport=PHONE, start="/me/checkin")
    assert alice.evaluate(OVERFLOW) <= 1 and alice.evaluate(UNLABELLED_CONTROLS) == []
    _scan(alice, _code(office, server, activity_id)["code"], "in")
    assert "已签到" in alice.inner_text("main")
    _scan(bob, _code(office, server, activity_id)["code"], "in")
    assert "已签到" in bob.inner_text("main")
    _scan(alice, _code(office, server, activity_id)["code"], "out")
    assert "已签退" in alice.inner_text("main") and "未生成服务记录" in alice.inner_text("main")
    pages.shot(alice, "checkin-member-phone")

    # a photo of the screen: taken just before the code rotates, used after the next rotation
    current = _code(office, server, activity_id)
    while current["seconds_left"] > 3:
        time.sleep(current["seconds_left"] - 2.5)
        current = _code(office, server, activity_id)
    photo = current["code"]
    time.sleep(current["seconds_left"] + 31)
    _scan(bob, photo, "out")
    assert "签到码已过期" in bob.inner_text("main")
    assert bob.input_value("#checkin-code") == photo  # the typed value is kept
    assert bob.get_attribute("#checkin-code", "aria-invalid") == "true"
    pages.shot(bob, "checkin-expired-phone")
    office.wait_for_function(f"() => document.getElementById('checkin-qr').dataset.window !== '{first_window}'",
                             timeout=5_000)  # the organiser's QR rotated by itself

    office.on("dialog", lambda dialog: dialog.accept())  # "确定结束活动？…"
    office.click("#close-activity")
    office.wait_for_load_state("domcontentloaded")
    table = office.inner_text("#attendance")
    assert "未签退" in table and "活动结束时补签退" in table
    pages.shot(office, "checkin-closed-phone")

    activity = server.api("GET", f"/v1/activities/{activity_id}")
    by_member = {str(row["member_id"]): row for row in activity["attendance"]}
    assert activity["status"] == "closed"
    assert by_member[second]["check_out_missed"] is True and by_member[first]["check_out_missed"] is False
    assert by_member[first]["outcome"] == "below_minimum_share"
    assert not pages.problems, pages.problems
