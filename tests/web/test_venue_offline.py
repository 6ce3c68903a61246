"""签到 with the connection down, in a real browser at phone width (issue #15 part 2): the organiser's
device registers its own key while online; the network is cut (Playwright offline mode); the organiser
checks two members in by their codes and one out — each scan signed on the device and shown 待同步 — and a
code that is no member's is refused on the device; the network returns and the queue syncs in order,
each scan once: the attendance shows them 离线扫党员码, and a scan of a member checked in meanwhile online
is shown 已拒绝 with its reason. The server clock is pinned (conftest CLOCK_START)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.web.conftest import PHONE, Pages, Server
from tests.web.test_pages import OVERFLOW, UNLABELLED_CONTROLS


def _open_activity(office: Any) -> str:
    office.goto(office.url.split("/community")[0] + "/community/activities")
    office.fill("#a-title", "社区环境整治")
    office.fill("#a-place", "小区北门")
    office.fill("#a-start", "09:00")
    office.fill("#a-end", "23:59")
    office.click("main form button[type=submit]")
    office.wait_for_load_state("domcontentloaded")
    assert "/community/activities/" in office.url, office.inner_text("main")[:300]
    return str(office.url.rstrip("/").rsplit("/", 1)[1])


def _as_community(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON API as the community office (another of its devices, online)."""
    login = server.login_of("community")
    token = httpx.post(server.base + "/v1/auth/token", data={"username": login.username, "password": login.password},
                       timeout=30).json()["access_token"]
    response = httpx.request(method, server.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30,
                             **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def _scan(office: Any, member_id: str, action: str) -> None:
    office.fill("#member-code", member_id)
    office.click(f"#member-scan-form button[value={action}]")


def _states(office: Any) -> list[str]:
    return [text.strip() for text in office.locator("#offline-queue tbody td.offline-state").all_inner_texts()]


def test_the_organiser_checks_members_in_offline_and_the_scans_sync_once(server: Server, pages: Pages) -> None:
    community = server.login_of("community")
    rows = server.api("GET", "/v1/lists/members", params={"community_id": community.actor_id, "limit": 200})["items"]
    first, second, third = [str(row["member_id"]) for row in rows][:3]
    office = pages.open(community, viewport=PHONE, start="/community/activities")
    activity_id = _open_activity(office)
    office.wait_for_function("() => document.getElementById('device-status').classList.contains('is-ok')")
    assert "由地区认证" in office.inner_text("#device-status")
    # the rotating QR is a picture the browser draws (an SVG file of its own needs its namespace)
    office.wait_for_function("() => document.getElementById('checkin-qr-image').complete")
    assert office.evaluate("() => document.getElementById('checkin-qr-image').naturalWidth") > 100
    assert office.evaluate(OVERFLOW) <= 1 and office.evaluate(UNLABELLED_CONTROLS) == []

    office.context.set_offline(True)
    office.evaluate("() => window.dispatchEvent(new Event('offline'))")
    office.wait_for_function("() => document.getElementById('net-status').textContent === '离线'")
    assert office.is_visible("#qr-offline") and office.is_hidden("#checkin-qr")
    _scan(office, first, "in")
    office.wait_for_function("() => document.getElementById('offline-count').textContent === '1'")
    _scan(office, f"timeledger:member?region=320102&id={second}&name=x", "in")  # the member's QR text
    office.wait_for_function("() => document.getElementById('offline-count').textContent === '2'")
    _scan(office, first, "out")
    office.wait_for_function("() => document.getElementById('offline-count').textContent === '3'")
    _scan(office, third, "in")
    office.wait_for_function("() => document.getElementById('offline-count').textContent === '4'")
    _scan(office, "不是党员码", "in")
    assert "请扫描或输入党员码" in office.inner_text("#scan-note")
    assert _states(office) == ["待同步"] * 4
    pages.shot(office, "checkin-offline-queue-phone")

    # meanwhile, the third member is checked in online by another device: the offline scan is refused
    _as_community(server, "POST", f"/v1/activities/{activity_id}/member-scans",
                  json={"member_id": third, "action": "in"})
    office.evaluate("() => { window.beforeSync = true; }")
    office.context.set_offline(False)
    office.evaluate("() => window.dispatchEvent(new Event('online'))")
    # synced in order, then the page reloads to show the attendance as recorded
    office.wait_for_function("() => window.beforeSync === undefined && document.readyState === 'complete' && "
                             "document.getElementById('offline-count').textContent === '0' && "
                             "document.querySelectorAll('#offline-queue tbody tr').length === 4")
    states = _states(office)
    assert states.count("已同步") == 3 and len(states) == 4, states
    refused = [state for state in states if state.startswith("已拒绝")]
    assert refused == ["已拒绝：已经签到过了，无需重复签到。"], states  # in the page's language, its reason
    attendance = office.inner_text("#attendance")
    assert attendance.count("离线扫党员码") == 3, attendance  # two in, one out
    activity = server.api("GET", f"/v1/activities/{activity_id}")
    checked = {row["member_id"]: row for row in activity["attendance"]}
    assert checked[first]["checked_out_by"] == "member_code_offline" and checked[second]["checked_out_by"] is None
    assert checked[second]["checked_in_by"] == "member_code_offline" and checked[third]["checked_in_by"] == "member_code"
    pages.shot(office, "checkin-offline-synced-phone")
    # each scan once: syncing again sends nothing new
    before = server.api("GET", f"/v1/activities/{activity_id}")
    office.click("#sync-now") if office.is_enabled("#sync-now") else None
    assert server.api("GET", f"/v1/activities/{activity_id}") == before
    assert not pages.problems, pages.problems
