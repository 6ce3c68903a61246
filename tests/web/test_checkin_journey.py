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


def _open_activity(page: Any, base: str, title: str, place: str) -> str:
    """Fill and send the open-activity form (planned for the rest of the pinned day): the new activity's id."""
    page.fill("#a-title", title)
    page.fill("#a-place", place)
    page.fill("#a-start", "09:00")
    page.fill("#a-end", "23:59")
    page.click("main form button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert base in page.url, page.inner_text("main")[:300]
    return str(page.url.rstrip("/").rsplit("/", 1)[1])


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
    activity_id = _open_activity(office, "/community/activities/", "重阳节敬老活动", "社区党群服务中心")
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


def test_an_organiser_the_community_names_runs_the_activity(server: Server, pages: Pages) -> None:
    """活动组织者: the office names a member on its activities page; the member, signed in on their phone,
    follows the link on their own page, opens an activity and shows the rotating QR (the same page and
    checkin.js as the office's, under /me); another member scans the organiser's code; the organiser
    closes the activity; the events name the organiser."""
    community = server.login_of("community")
    rows = server.api("GET", "/v1/lists/members", params={"community_id": community.actor_id, "limit": 200})["items"]
    with_login = {login.actor_id for login in server.logins if login.role == "member"}
    able = [str(row["member_id"]) for row in rows if str(row["member_id"]) in with_login]
    assert len(able) >= 2, able  # two members with a login: the organiser and one who scans
    organiser_id, member_id = able[-2:]  # (the other journey checks the first two into its own activity)

    office = pages.open(community, viewport=PHONE, start="/community/activities")
    office.select_option("#organiser-member", organiser_id)
    office.click("#organiser-member ~ button[type=submit]")
    office.wait_for_load_state("domcontentloaded")
    assert "已指定活动组织者" in office.inner_text("main"), office.inner_text("main")[:300]

    organiser = pages.open(server.login_of("member", organiser_id), viewport=PHONE, start="/me")
    organiser.click("#run-activities")
    organiser.wait_for_load_state("domcontentloaded")
    assert organiser.url.endswith("/me/activities")
    assert organiser.evaluate(OVERFLOW) <= 1 and organiser.evaluate(UNLABELLED_CONTROLS) == []
    activity_id = _open_activity(organiser, "/me/activities/", "楼道清扫", "3栋")
    assert organiser.locator("#checkin-qr-image").is_visible()
    first_window = organiser.get_attribute("#checkin-qr", "data-window")
    pages.shot(organiser, "checkin-named-organiser-phone")

    answer = organiser.request.get(f"{server.base}/me/activities/{activity_id}/code")
    assert answer.status == 200
    member = pages.open(server.login_of("member", member_id), viewport=PHONE, start="/me/checkin")
    _scan(member, str(answer.json()["code"]), "in")
    assert "已签到" in member.inner_text("main")
    organiser.wait_for_function(f"() => document.getElementById('checkin-qr').dataset.window !== '{first_window}'",
                                timeout=35_000)  # the organiser's QR rotates by itself too

    organiser.on("dialog", lambda dialog: dialog.accept())
    organiser.click("#close-activity")
    organiser.wait_for_load_state("domcontentloaded")
    assert "活动结束时补签退" in organiser.inner_text("#attendance")
    activity = server.api("GET", f"/v1/activities/{activity_id}")
    assert activity["status"] == "closed"
    assert not pages.problems, pages.problems
